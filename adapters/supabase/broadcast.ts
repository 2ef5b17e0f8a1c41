/**
 * Broadcast (Supabase Realtime's client-to-client messages): a message sent on a channel reaches every subscriber of
 * that channel topic on every pgrt process on the database (DESIGN.md decision 16).
 *
 * How it travels: subscribers on this process get it at once, in the sender's call; the other processes get it as a
 * core application message (core/bus/messages.ts) on topic `supabase.broadcast`, `{"o":<origin>,"t":<topic>,
 * "e":<event>,"p":<payload>}` (`"b"`: a binary payload, base64, instead of `"p"`), which this process skips when it
 * comes back (`o` is its own origin). SQL's `pgrt.broadcast(topic, event, payload)` (migrations/0001) and
 * {@link Broadcasts.broadcast} carry no sender: every subscriber gets those, here through the bus too.
 *
 * As on Supabase (realtime's BroadcastHandler): the sender's own subscription gets the message only with
 * `broadcast.self`; `broadcast.ack` makes the channel reply to each push (ok, or the error); a message over
 * `maxMessageBytes` is refused; each send counts against the core's rate limits (`type: 'message'`, name
 * `broadcast`, per connection).
 */
import type { BusEvent } from '../../core/bus/change-bus.js';
import type { Queryable } from '../../core/database/database.js';
import type { Logger } from '../../core/logger.js';
import type { RateLimiter } from '../../core/rate-limit.js';

/** The core topic broadcasts travel on between processes. */
export const BROADCAST_TOPIC = 'supabase.broadcast';

/** A broadcast as the client pushed it and as subscribers receive it (the `broadcast` event's payload). */
export interface BroadcastMessage {
  readonly type: 'broadcast';
  readonly event: string;
  /** JSON value, or bytes (a binary payload of the 2.0.0 serializer). */
  readonly payload: unknown;
}

/** A joined channel on this process that receives broadcasts. */
export interface BroadcastSubscriber {
  /** Called synchronously for each broadcast of its topic; must not throw (a throw is logged). */
  receiveBroadcast(message: BroadcastMessage): void;
}

/** Who sends a client broadcast: its subscription (excluded unless `self`) and, for the rate limits, its client. */
export interface BroadcastSender {
  readonly subscriber: BroadcastSubscriber;
  /** `broadcast.self` of the channel's join config. */
  readonly self: boolean;
  readonly connectionId: string;
  readonly userId: string | null;
  readonly clientAddress: string;
}

/** What became of a client's broadcast: sent, or refused (and why, in the words the channel replies with). */
export type BroadcastOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'payload_size_exceeded' | 'rate_limit_exceeded' };

/** What broadcast needs of the core. */
export interface BroadcastCore {
  readonly bus: { subscribe(handler: (event: BusEvent) => void): () => void };
  publish(topic: string, data: unknown, client?: Queryable): Promise<void>;
  readonly rateLimiter: RateLimiter;
}

/** Options of {@link Broadcasts}. */
export interface BroadcastOptions {
  /** Largest broadcast, in bytes of its JSON form (event and payload); larger ones are refused. */
  readonly maxMessageBytes: number;
  /** Identifies this process's messages on the bus (default: a random UUID). */
  readonly origin?: string;
  readonly logger: Logger;
}

/** The wire form of a broadcast between processes. */
interface WireBroadcast {
  readonly o?: string;
  readonly t: string;
  readonly e: string;
  readonly p?: unknown;
  readonly b?: string;
}

/** Broadcast for one server: local fan-out by topic, and the bus between processes. */
export class Broadcasts {
  readonly #core: BroadcastCore;
  readonly #maxBytes: number;
  readonly #origin: string;
  readonly #logger: Logger;
  readonly #topics = new Map<string, Set<BroadcastSubscriber>>();
  #unsubscribe: (() => void) | undefined;

  constructor(core: BroadcastCore, options: BroadcastOptions) {
    this.#core = core;
    this.#maxBytes = options.maxMessageBytes;
    this.#origin = options.origin ?? crypto.randomUUID();
    this.#logger = options.logger.child({ component: 'supabase-broadcast' });
  }

  /** Starts receiving other processes' broadcasts (before the bus starts; idempotent). */
  start(): void {
    this.#unsubscribe ??= this.#core.bus.subscribe((event) => {
      if (event.kind === 'message' && event.topic === BROADCAST_TOPIC) this.#received(event.data);
    });
  }

  /** Stops receiving; local subscribers are dropped. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#topics.clear();
  }

  /** Adds a subscriber of `topic` (a channel's topic without `realtime:`); returns its removal. */
  subscribe(topic: string, subscriber: BroadcastSubscriber): () => void {
    let subscribers = this.#topics.get(topic);
    if (!subscribers) {
      subscribers = new Set();
      this.#topics.set(topic, subscribers);
    }
    subscribers.add(subscriber);
    return () => {
      const current = this.#topics.get(topic);
      if (!current?.delete(subscriber) || current.size > 0) return;
      this.#topics.delete(topic);
    };
  }

  /** Number of subscribers of `topic` on this process. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * A client's broadcast on `topic`: checked (size, rate), delivered to this process's subscribers (the sender's
   * own only with `self`) and published to the others. Resolves once published; rejects when the bus write fails.
   */
  async send(topic: string, message: BroadcastMessage, sender: BroadcastSender): Promise<BroadcastOutcome> {
    const wire = this.#wire(topic, message);
    if (wire === undefined) return { ok: false, reason: 'payload_size_exceeded' };
    const limited = this.#core.rateLimiter.check({
      type: 'message',
      name: 'broadcast',
      userId: sender.userId,
      connectionId: sender.connectionId,
      clientAddress: sender.clientAddress,
    });
    if (limited) return { ok: false, reason: 'rate_limit_exceeded' };
    this.#deliver(topic, message, sender.self ? undefined : sender.subscriber);
    await this.#core.publish(BROADCAST_TOPIC, { o: this.#origin, ...wire });
    return { ok: true };
  }

  /**
   * The server-side API: broadcasts `payload` as `event` to every subscriber of `topic` on every process (through
   * the bus, so in order with other processes' broadcasts; inside `client`'s transaction: on commit). Unlike a
   * client's broadcast it is neither size-checked against `maxMessageBytes` nor rate-limited.
   */
  async broadcast(topic: string, event: string, payload: unknown, client?: Queryable): Promise<void> {
    const wire = this.#wire(topic, { type: 'broadcast', event, payload }, Number.POSITIVE_INFINITY);
    if (wire === undefined) throw new TypeError('broadcast payload has no JSON form');
    await this.#core.publish(BROADCAST_TOPIC, wire, client);
  }

  /** The bus form of a broadcast, or undefined when it is over `limit` bytes or has no JSON form. */
  #wire(topic: string, message: BroadcastMessage, limit = this.#maxBytes): WireBroadcast | undefined {
    const { event, payload } = message;
    let wire: WireBroadcast;
    let size: number;
    if (payload instanceof Uint8Array) {
      wire = { t: topic, e: event, b: Buffer.from(payload).toString('base64') };
      size = payload.byteLength;
    } else {
      const json = JSON.stringify(payload);
      if (json === undefined) return undefined;
      wire = { t: topic, e: event, p: payload };
      size = Buffer.byteLength(json);
    }
    return size + Buffer.byteLength(event) > limit ? undefined : wire;
  }

  #received(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const wire = data as Partial<WireBroadcast>;
    if (wire.o === this.#origin) return; // delivered here when it was sent
    if (typeof wire.t !== 'string' || typeof wire.e !== 'string') {
      this.#logger.warn({ data }, 'malformed broadcast skipped');
      return;
    }
    const payload = typeof wire.b === 'string' ? new Uint8Array(Buffer.from(wire.b, 'base64')) : wire.p;
    this.#deliver(wire.t, { type: 'broadcast', event: wire.e, payload: payload ?? null }, undefined);
  }

  #deliver(topic: string, message: BroadcastMessage, except: BroadcastSubscriber | undefined): void {
    const subscribers = this.#topics.get(topic);
    if (!subscribers) return;
    for (const subscriber of subscribers) {
      if (subscriber === except) continue;
      try {
        subscriber.receiveBroadcast(message);
      } catch (error) {
        this.#logger.error({ err: error, topic }, 'broadcast subscriber threw');
      }
    }
  }
}
