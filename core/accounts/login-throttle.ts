/**
 * Failed-login limits (issue 12 item 5; OWASP's Authentication Cheat Sheet: growing delays, no permanent lockout),
 * shared by every process and both protocols because the counters live in PostgreSQL (`pgrt.login_failures`).
 *
 * Three counters per failed login, each a row keyed by a SHA-256 of what it counts (attempted names are never
 * stored in clear):
 * - the user name as given (username, email or id: `login`'s `user`, WAMP's `authid`) **from this client address**
 *   — stops one attacker guessing one account quickly;
 * - the user name **from any address** — stops a distributed guess at one account, with a low ceiling so the real
 *   user is delayed at most `perUser.maxDelayMs`, never locked out;
 * - the client address **for any user name** — stops credential stuffing from one address.
 *
 * The `maxFailures`-th failure of a counter blocks its key for `baseDelayMs`; each further failure (made once the
 * block is over) doubles it, up to `maxDelayMs`: the n-th failure blocks for `baseDelayMs` × 2^(n − maxFailures). A blocked attempt is refused before any password is
 * checked, with Meteor's rate-limit error (`too-many-requests`, `details.timeToReset` in ms; over WAMP an ABORT
 * `pgrt.error.too_many_requests`), and does not count, so a lock never grows while it holds. A counter is
 * forgotten `forgetAfterMs` after its last failure (the sweep deletes it). A failure is a login refused with a 403
 * (wrong password, unknown user or token, a `validateLoginAttempt` refusal); malformed requests (400) do not
 * count. A successful login clears the counter
 * of that name from that address. Only logins that name a user are limited per user; every login attempt through
 * `login` and the WAMP handshakes is limited per address.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../database/database.js';
import { ConfigurationError, TooManyRequestsError } from '../errors.js';

/** One counter's policy. */
export interface ThrottleRule {
  /** The failure that starts the first delay (at least 1). */
  readonly maxFailures: number;
  /** The first delay, in ms; each further failure doubles it. */
  readonly baseDelayMs: number;
  /** The longest delay, in ms. */
  readonly maxDelayMs: number;
}

/** Options of the failed-login limits (`accounts({ loginThrottle })`). */
export interface LoginThrottleOptions {
  /** One user name from one client address (default: the 5th failure blocks 1 s, doubling, at most 15 min). */
  readonly perUserAndAddress?: Partial<ThrottleRule> | false;
  /** One user name from any address (default: the 20th failure blocks 1 s, doubling, at most 60 s). */
  readonly perUser?: Partial<ThrottleRule> | false;
  /** One client address, any user name (default: the 50th failure blocks 1 s, doubling, at most 15 min). */
  readonly perAddress?: Partial<ThrottleRule> | false;
  /** A counter without failures for this long is forgotten, in ms (default 3600000). */
  readonly forgetAfterMs?: number;
}

/** The defaults of {@link LoginThrottleOptions}. */
export const DEFAULT_THROTTLE = {
  perUserAndAddress: { maxFailures: 5, baseDelayMs: 1000, maxDelayMs: 15 * 60_000 },
  perUser: { maxFailures: 20, baseDelayMs: 1000, maxDelayMs: 60_000 },
  perAddress: { maxFailures: 50, baseDelayMs: 1000, maxDelayMs: 15 * 60_000 },
  forgetAfterMs: 3_600_000,
} as const;

/** Who a login attempt is, for the counters. */
export interface ThrottleSubject {
  /** The user name as given (username, email or id), or undefined when the login names none. */
  readonly identity: string | undefined;
  readonly address: string;
}

type Kind = 'perUserAndAddress' | 'perUser' | 'perAddress';

function rule(value: Partial<ThrottleRule> | false | undefined, fallback: ThrottleRule, kind: Kind) {
  if (value === false) return undefined;
  const merged = { ...fallback, ...value };
  for (const [key, n] of Object.entries(merged))
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigurationError(`loginThrottle.${kind}.${key} must be a positive integer`);
  if (merged.maxDelayMs < merged.baseDelayMs)
    throw new ConfigurationError(`loginThrottle.${kind}.maxDelayMs must be at least baseDelayMs`);
  return merged;
}

function keyOf(kind: Kind, subject: ThrottleSubject): string | undefined {
  const identity = subject.identity?.normalize('NFKC').trim().toLowerCase();
  if (kind !== 'perAddress' && !identity) return undefined;
  const text =
    kind === 'perAddress'
      ? `a\u0000${subject.address}`
      : kind === 'perUser'
        ? `u\u0000${identity}`
        : `ua\u0000${identity}\u0000${subject.address}`;
  return createHash('sha256').update(text).digest('base64');
}

/** The failed-login counters of one accounts plug-in. */
export class LoginThrottle {
  readonly #rules: readonly (readonly [Kind, ThrottleRule])[];
  readonly #forgetAfterMs: number;

  constructor(options: LoginThrottleOptions = {}) {
    const rules: [Kind, ThrottleRule][] = [];
    for (const kind of ['perUserAndAddress', 'perUser', 'perAddress'] as const) {
      const r = rule(options[kind], DEFAULT_THROTTLE[kind], kind);
      if (r) rules.push([kind, r]);
    }
    this.#rules = rules;
    this.#forgetAfterMs = options.forgetAfterMs ?? DEFAULT_THROTTLE.forgetAfterMs;
    if (!Number.isInteger(this.#forgetAfterMs) || this.#forgetAfterMs <= 0)
      throw new ConfigurationError('loginThrottle.forgetAfterMs must be a positive integer');
  }

  #keys(subject: ThrottleSubject): { key: string; rule: ThrottleRule }[] {
    const keys: { key: string; rule: ThrottleRule }[] = [];
    for (const [kind, r] of this.#rules) {
      const key = keyOf(kind, subject);
      if (key !== undefined) keys.push({ key, rule: r });
    }
    return keys;
  }

  /**
   * Throws a TooManyRequestsError while any of the subject's counters blocks (one query). Resolves whether the
   * name has a counter from this address (only then does a success need to clear it).
   */
  async check(db: Queryable, subject: ThrottleSubject): Promise<boolean> {
    const keys = this.#keys(subject);
    if (keys.length === 0) return false;
    const own = keyOf('perUserAndAddress', subject) ?? null;
    const found = await db.query<{ wait_ms: string | null; own: boolean }>(
      `SELECT ceil(extract(epoch FROM max(blocked_until) FILTER (WHERE blocked_until > now()) - now()) * 1000)
                AS wait_ms,
              coalesce(bool_or(key = $2), false) AS own
         FROM pgrt.login_failures WHERE key = ANY($1)`,
      [keys.map((k) => k.key), own],
    );
    const wait = Number(found.rows[0]?.wait_ms ?? 0);
    if (wait > 0) throw new TooManyRequestsError(wait);
    return found.rows[0]?.own === true;
  }

  /** Counts a failed login on each of the subject's counters (one statement, autocommitted by the caller). */
  async failed(db: Queryable, subject: ThrottleSubject): Promise<void> {
    const keys = this.#keys(subject);
    if (keys.length === 0) return;
    await db.query(
      `INSERT INTO pgrt.login_failures AS f (key, failures, last_at, blocked_until)
       SELECT k.key, 1, now(),
              CASE WHEN k.free <= 1 THEN now() + make_interval(secs => k.base_ms / 1000.0) END
         FROM unnest($1::text[], $2::int[], $3::float8[], $4::float8[]) AS k (key, free, base_ms, max_ms)
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN f.last_at < now() - make_interval(secs => $5::float8 / 1000.0) THEN 1 ELSE f.failures + 1 END,
         last_at = now(),
         blocked_until = (
           SELECT CASE WHEN n.failures >= k.free
                       THEN now() + make_interval(secs => least(k.base_ms * power(2, least(n.failures - k.free, 40)),
                                                                 k.max_ms) / 1000.0)
                  END
             FROM unnest($1::text[], $2::int[], $3::float8[], $4::float8[]) AS k (key, free, base_ms, max_ms),
                  LATERAL (SELECT CASE WHEN f.last_at < now() - make_interval(secs => $5::float8 / 1000.0) THEN 1
                                       ELSE f.failures + 1 END AS failures) n
            WHERE k.key = f.key)`,
      [
        keys.map((k) => k.key),
        keys.map((k) => k.rule.maxFailures),
        keys.map((k) => k.rule.baseDelayMs),
        keys.map((k) => k.rule.maxDelayMs),
        this.#forgetAfterMs,
      ],
    );
  }

  /** A successful login clears the counter of that name from that address. */
  async succeeded(db: Queryable, subject: ThrottleSubject): Promise<void> {
    const key = keyOf('perUserAndAddress', subject);
    if (key !== undefined) await db.query('DELETE FROM pgrt.login_failures WHERE key = $1', [key]);
  }

  /** Deletes the counters without a failure for `forgetAfterMs` (the expiry sweep). */
  async sweep(db: Queryable): Promise<void> {
    await db.query(
      `DELETE FROM pgrt.login_failures
        WHERE last_at < now() - make_interval(secs => $1::float8 / 1000.0)
          AND (blocked_until IS NULL OR blocked_until < now())`,
      [this.#forgetAfterMs],
    );
  }
}
