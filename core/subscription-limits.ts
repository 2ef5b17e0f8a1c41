/**
 * Caps on live subscriptions (issue 12 item 9): every live subscription is an observer the server feeds on each
 * write to its tables, so one anonymous connection holding a thousand of them made other users' writes 5–8× slower.
 * A session may hold at most `maxSubscriptionsPerConnection` named subscriptions, and all sessions of one client
 * address (as the protocol computed it: the socket peer, or X-Forwarded-For with `forwardedCount`) at most
 * `maxSubscriptionsPerAddress` together, in this process. Universal publications (server-started) do not count.
 *
 * Meteor has no such cap, so the refusal takes the shape Meteor clients already handle for a failing
 * subscription: DDP `nosub` with a Meteor.Error (`too-many-subscriptions`), which reaches the client's `onStop`
 * (or `onError`) callback; over the WAMP bridge, `pgrt.subscribe` fails with ERROR
 * `pgrt.error.too_many_subscriptions`.
 */
import { ClientError } from './errors.js';

/** The caps (server option `limits`, config keys `limits.*`); 0 = unlimited. */
export interface SubscriptionLimits {
  /** Live named subscriptions one connection may hold (default {@link DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION}). */
  readonly maxSubscriptionsPerConnection?: number;
  /** Live named subscriptions all connections of one client address may hold together (default 0: unlimited). */
  readonly maxSubscriptionsPerAddress?: number;
}

/**
 * Default per-connection cap: 500. Meteor apps hold one subscription per template or route that needs data —
 * tens, rarely past a hundred; 500 leaves room for lists that subscribe per item, while a client holding 500
 * observers already costs every write on their tables several times what a normal one does.
 */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 500;

/** `too-many-subscriptions`: a subscription over one of the caps; `details: {limit, per}`. */
export class TooManySubscriptionsError extends ClientError {
  override readonly name = 'TooManySubscriptionsError';
  constructor(limit: number, per: 'connection' | 'address') {
    super(
      'too-many-subscriptions',
      `Too many subscriptions: at most ${limit} per ${per === 'connection' ? 'connection' : 'client address'}`,
      { limit, per },
    );
  }
}

/** Counts live subscriptions per client address and refuses those over the caps (one per core). */
export class SubscriptionCounter {
  readonly #perAddress = new Map<string, number>();
  readonly #maxPerConnection: number;
  readonly #maxPerAddress: number;

  constructor(limits: SubscriptionLimits = {}) {
    this.#maxPerConnection = limits.maxSubscriptionsPerConnection ?? DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION;
    this.#maxPerAddress = limits.maxSubscriptionsPerAddress ?? 0;
  }

  /** Live subscriptions of `address` counted now. */
  count(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** The refusal for one more subscription of a session holding `held` from `address`, or undefined. */
  refusal(address: string, held: number): TooManySubscriptionsError | undefined {
    if (this.#maxPerConnection > 0 && held >= this.#maxPerConnection)
      return new TooManySubscriptionsError(this.#maxPerConnection, 'connection');
    if (this.#maxPerAddress > 0 && this.count(address) >= this.#maxPerAddress)
      return new TooManySubscriptionsError(this.#maxPerAddress, 'address');
    return undefined;
  }

  /** A subscription of `address` went live. */
  added(address: string): void {
    if (this.#maxPerAddress > 0) this.#perAddress.set(address, this.count(address) + 1);
  }

  /** `n` subscriptions of `address` ended. */
  removed(address: string, n = 1): void {
    if (this.#maxPerAddress <= 0 || n <= 0) return;
    const left = this.count(address) - n;
    if (left > 0) this.#perAddress.set(address, left);
    else this.#perAddress.delete(address);
  }
}
