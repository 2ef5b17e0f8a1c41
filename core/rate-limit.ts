/**
 * Rate limiting of method calls and subscriptions, with Meteor's rule model (`ddp-rate-limiter` over
 * `rate-limit`, reference/ddp.md §1.13), applied by {@link Session.call} and {@link Session.subscribe} for every
 * protocol (a WAMP CALL of a core method is a `Session.call`, so the same rules limit it).
 *
 * A rule is a matcher over {@link RateLimitInput} plus "N per interval". Each matcher field is a value (must be
 * equal), a predicate (must return true) or absent/`null` (anything). Counters are keyed as Meteor keys them: by
 * the input's values of the fields that the matcher names (non-null), so `{name: 'login', connectionId: () => true}`
 * counts per connection, and `{name: 'login'}` counts every connection together. Unlike Meteor, whose window
 * restarts for a whole rule at once, each counter has its own fixed window starting at its first request, so a
 * client always gets exactly N per interval. Refused requests count too (Meteor increments before it checks).
 *
 * Defaults ({@link RateLimitOptions}): Meteor's accounts rule (`login`, `createUser`, `resetPassword`,
 * `forgotPassword`: 5 per 10 s per connection and method) and a generous per-connection ceiling on everything
 * (1000 calls and subscriptions per 10 s). Memory: expired counters are swept lazily, at most once per interval.
 */
import { TooManyRequestsError } from './errors.js';

/**
 * What a rule is matched against: one method call or subscription, one `message` a client sends to other clients
 * (an adapter's broadcast or presence update, counted by the adapter), or one `http` request to a plug-in's route
 * (OAuth's `/_oauth`, counted by the plug-in; its `connectionId` is empty).
 */
export interface RateLimitInput {
  readonly type: RateLimitType;
  /**
   * The method or publication name (for a message, the adapter's name of its kind, e.g. `broadcast`; for a
   * request, the route's name of it, e.g. `oauth.authorize`).
   */
  readonly name: string;
  /** The session's user, or null. */
  readonly userId: string | null;
  /** The session id (DDP session, WAMP session as a string). */
  readonly connectionId: string;
  /** The client address (X-Forwarded-For only when the transport is configured to trust it). */
  readonly clientAddress: string;
}

/** The kinds of request a rule can count. */
export type RateLimitType = 'method' | 'subscription' | 'message' | 'http';

/** One matcher field: a value to equal, a predicate, or null/absent for "anything". */
export type RateLimitMatcherField<T> = T | ((value: T) => boolean) | null | undefined;

/** Meteor's rule matcher: which requests a rule applies to, and (by the fields it names) how they are counted. */
export interface RateLimitMatcher {
  readonly type?: RateLimitMatcherField<RateLimitType>;
  readonly name?: RateLimitMatcherField<string>;
  readonly userId?: RateLimitMatcherField<string | null>;
  readonly connectionId?: RateLimitMatcherField<string>;
  readonly clientAddress?: RateLimitMatcherField<string>;
}

/** A rule: at most `numRequests` matching requests per `intervalMs` per counter key. */
export interface RateLimitRule {
  readonly matcher: RateLimitMatcher;
  readonly numRequests: number;
  readonly intervalMs: number;
}

/** N per interval, for the built-in rules. */
export interface RateLimitBudget {
  readonly numRequests: number;
  readonly intervalMs: number;
}

/** Options of {@link RateLimiter} (server option `rateLimits`). */
export interface RateLimitOptions {
  /**
   * Meteor's accounts rule: `login`, `createUser`, `resetPassword`, `forgotPassword`, counted per method per
   * connection. Default 5 per 10000 ms; false removes it (Meteor's `Accounts.removeDefaultRateLimit()`).
   */
  readonly accounts?: false | RateLimitBudget;
  /**
   * Every method call and subscription of a connection, all names together. Default 1000 per 10000 ms; false
   * removes it.
   */
  readonly perConnection?: false | RateLimitBudget;
  /** More rules, added after the defaults (also possible later with {@link RateLimiter.addRule}). */
  readonly rules?: readonly RateLimitRule[];
}

/** Methods of Meteor's accounts default rule (`addDefaultRateLimit` in accounts-base). */
export const ACCOUNTS_RATE_LIMITED_METHODS: readonly string[] = [
  'login',
  'createUser',
  'resetPassword',
  'forgotPassword',
];

/** Meteor's accounts budget: 5 per 10 s. */
export const DEFAULT_ACCOUNTS_BUDGET: RateLimitBudget = { numRequests: 5, intervalMs: 10_000 };

/** pgrt's per-connection ceiling: 1000 calls and subscriptions per 10 s. */
export const DEFAULT_PER_CONNECTION_BUDGET: RateLimitBudget = { numRequests: 1000, intervalMs: 10_000 };

const FIELDS = ['type', 'name', 'userId', 'connectionId', 'clientAddress'] as const;

interface Counter {
  count: number;
  resetAt: number;
}

/** One registered rule and its counters. */
class ActiveRule {
  readonly #counters = new Map<string, Counter>();
  #nextSweep = 0;

  constructor(readonly rule: RateLimitRule) {}

  matches(input: RateLimitInput): boolean {
    for (const field of FIELDS) {
      const expected: unknown = this.rule.matcher[field];
      if (expected === null || expected === undefined) continue;
      const actual = input[field];
      if (typeof expected === 'function') {
        if (!(expected as (value: unknown) => boolean)(actual)) return false;
      } else if (expected !== actual) return false;
    }
    return true;
  }

  /** Meteor's `_generateKeyString`: the named fields' input values (a predicate's only when it holds). */
  keyOf(input: RateLimitInput): string {
    let key = '';
    for (const field of FIELDS) {
      const expected: unknown = this.rule.matcher[field];
      if (expected === null || expected === undefined) continue;
      if (typeof expected === 'function' && !(expected as (value: unknown) => boolean)(input[field]))
        continue;
      key += `${field}\u0000${String(input[field])}\u0000`;
    }
    return key;
  }

  /** Counts one request; returns ms until its window resets when the count is over the budget, else 0. */
  hit(input: RateLimitInput, now: number): number {
    this.#sweep(now);
    const key = this.keyOf(input);
    let counter = this.#counters.get(key);
    if (!counter || now >= counter.resetAt) {
      counter = { count: 0, resetAt: now + this.rule.intervalMs };
      this.#counters.set(key, counter);
    }
    counter.count += 1;
    return counter.count > this.rule.numRequests ? Math.max(1, counter.resetAt - now) : 0;
  }

  get size(): number {
    return this.#counters.size;
  }

  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + this.rule.intervalMs;
    for (const [key, counter] of this.#counters) if (now >= counter.resetAt) this.#counters.delete(key);
  }
}

/**
 * The rules of one server and their counters. {@link check} is called once per method call and subscription,
 * before the handler runs; it never throws (matcher predicates that throw count as "no match").
 */
export class RateLimiter {
  readonly #rules = new Map<string, ActiveRule>();
  readonly #now: () => number;
  #nextId = 0;

  constructor(options: RateLimitOptions = {}, now: () => number = Date.now) {
    this.#now = now;
    const accounts = options.accounts ?? DEFAULT_ACCOUNTS_BUDGET;
    if (accounts !== false) {
      this.addRule(
        {
          type: 'method',
          name: (name) => ACCOUNTS_RATE_LIMITED_METHODS.includes(name),
          connectionId: () => true,
        },
        accounts.numRequests,
        accounts.intervalMs,
      );
    }
    const perConnection = options.perConnection ?? DEFAULT_PER_CONNECTION_BUDGET;
    if (perConnection !== false) {
      this.addRule({ connectionId: () => true }, perConnection.numRequests, perConnection.intervalMs);
    }
    for (const rule of options.rules ?? []) this.addRule(rule.matcher, rule.numRequests, rule.intervalMs);
  }

  /**
   * Adds a rule (Meteor's `DDPRateLimiter.addRule`): at most `numRequests` matching requests per `intervalMs`
   * per counter key. Returns the rule's id for {@link removeRule}.
   */
  addRule(matcher: RateLimitMatcher, numRequests: number, intervalMs: number): string {
    if (!(numRequests >= 0) || !(intervalMs > 0)) {
      throw new RangeError(`invalid rate limit: ${numRequests} per ${intervalMs} ms`);
    }
    const id = `rule-${++this.#nextId}`;
    this.#rules.set(id, new ActiveRule({ matcher, numRequests, intervalMs }));
    return id;
  }

  /** Removes a rule; true if it existed. */
  removeRule(id: string): boolean {
    return this.#rules.delete(id);
  }

  /** Number of live counters over every rule (for tests and metrics). */
  get counterCount(): number {
    let n = 0;
    for (const rule of this.#rules.values()) n += rule.size;
    return n;
  }

  /**
   * Counts `input` against every matching rule. Returns undefined when allowed, or the
   * {@link TooManyRequestsError} to send (its `timeToReset`: the longest wait over the rules it broke).
   */
  check(input: RateLimitInput): TooManyRequestsError | undefined {
    const now = this.#now();
    let wait = 0;
    for (const rule of this.#rules.values()) {
      try {
        if (rule.matches(input)) wait = Math.max(wait, rule.hit(input, now));
      } catch {
        // A matcher predicate threw: the rule does not apply.
      }
    }
    return wait > 0 ? new TooManyRequestsError(wait) : undefined;
  }
}

/** Injection token for the {@link RateLimiter} every session checks. */
export const RateLimiterToken = Symbol('pgrt.RateLimiter');

/** The limiter `rateLimits` describes: Meteor's defaults when absent, no limits at all when false. */
export function rateLimiterFor(options: false | RateLimitOptions | undefined): RateLimiter {
  return options === false
    ? new RateLimiter({ accounts: false, perConnection: false })
    : new RateLimiter(options);
}
