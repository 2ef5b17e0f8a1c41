/**
 * Presence (Supabase Realtime's `track`/`untrack`, `presence_state`, `presence_diff`), shared by every pgrt process
 * on the database: the presences live in PostgreSQL (presence-store.ts), their diffs travel on the bus, and a
 * process that dies stops its heartbeat, so the others expire its presences and announce them as leaves.
 *
 * Semantics, as realtime's PresenceHandler and Phoenix.Presence give them:
 * - A channel join has one presence key (its `config.presence.key`, else a random UUID) and at most one tracked
 *   presence: the tracked payload plus a `phx_ref`. Tracking again with a different payload replaces it (one diff:
 *   the new meta with `phx_ref_prev` joins, the old one leaves); the same payload again changes nothing.
 * - A member with presence enabled gets `presence_state` (every presence of its topic, grouped by key) once after
 *   its join ({@link PresenceMember.sync}), then every `presence_diff` of its topic, its own included. The client
 *   matches leaves by `phx_ref` and ignores diffs until the first state.
 * - Leaves: on untrack, when the channel leaves or its socket closes ({@link PresenceMember.leave}), when this
 *   server closes, and when a process misses its heartbeats for `ttlMs` (expiry, run by every process).
 *
 * Ordering: a member starts listening before it reads the state, and diffs that arrive meanwhile are held and sent
 * after the state. A member remembers the refs its client holds and sends only joins of refs it lacks and leaves of
 * refs it has, so a change committed before the state was read but notified after it is not announced twice;
 * whatever order commits and notifications had, the client ends up with the committed presences. After a gap in the bus (`resync`), every listening member is sent a fresh state.
 */
import { randomBytes } from 'node:crypto';
import type { BusEvent } from '../../core/bus/change-bus.js';
import type { Database, Queryable } from '../../core/database/database.js';
import type { Logger } from '../../core/logger.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import {
  groupPresences,
  PRESENCE_TOPIC,
  type PresenceDiff,
  type PresenceRow,
  type PresenceState,
  PresenceStore,
  type WirePresenceDiff,
} from './presence-store.js';

export type { PresenceDiff, PresenceState } from './presence-store.js';

/** A joined channel on this process that receives presence. */
export interface PresenceSubscriber {
  /** The `presence_state` push. */
  presenceState(state: PresenceState): void;
  /** A `presence_diff` push. */
  presenceDiff(diff: PresenceDiff): void;
}

/** What presence needs of the core. */
export interface PresenceCore {
  readonly db: Database;
  readonly bus: { subscribe(handler: (event: BusEvent) => void): () => void };
  publish(topic: string, data: unknown, client?: Queryable): Promise<void>;
  readonly rateLimiter: RateLimiter;
}

/** Options of {@link Presences}. */
export interface PresenceOptions {
  /** Largest tracked payload, in bytes of its JSON form. */
  readonly maxMessageBytes: number;
  /** How often this process refreshes its heartbeat row and expires dead processes, in ms (default 5000). */
  readonly heartbeatMs?: number;
  /** A process whose heartbeat is older than this many ms is dead: its presences leave (default 3 × heartbeat). */
  readonly ttlMs?: number;
  /** This process's id in `pgrt.supabase_processes` (default: a random UUID). */
  readonly processId?: string;
  readonly logger: Logger;
}

/** The client a member belongs to, for the rate limits. */
export interface PresenceClient {
  readonly connectionId: string;
  readonly userId: string | null;
  readonly clientAddress: string;
}

/** What became of a `track`: done, or refused (the channel maps each reason to realtime's reply). */
export type TrackOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'invalid_payload' | 'payload_size_exceeded' | 'rate_limit_exceeded';
    };

/** A phx_ref as Phoenix.Tracker makes them: 8 random bytes, base64. */
function newRef(): string {
  return randomBytes(8).toString('base64');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

/** Presence for one server. */
export class Presences {
  readonly store: PresenceStore;
  readonly #core: PresenceCore;
  readonly #logger: Logger;
  readonly #maxBytes: number;
  readonly #heartbeatMs: number;
  readonly #ttlMs: number;
  /** Listening members by topic. */
  readonly #listening = new Map<string, Set<PresenceMember>>();
  /** Members with a tracked presence (re-written if this process was expired while alive). */
  readonly #tracked = new Set<PresenceMember>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #closed = false;

  constructor(core: PresenceCore, options: PresenceOptions) {
    this.#core = core;
    this.#logger = options.logger.child({ component: 'supabase-presence' });
    this.#maxBytes = options.maxMessageBytes;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#ttlMs = options.ttlMs ?? 3 * this.#heartbeatMs;
    this.store = new PresenceStore(core.db, options.processId ?? crypto.randomUUID(), (topic, data, client) =>
      core.publish(topic, data, client),
    );
  }

  /** This process's id (its heartbeat row). */
  get processId(): string {
    return this.store.process;
  }

  /** Registers this process, starts receiving diffs and the heartbeat (idempotent). */
  async start(): Promise<void> {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#core.bus.subscribe((event) => this.#busEvent(event));
    await this.store.heartbeat();
    this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
    this.#timer.unref();
  }

  /** Stops: this process's presences leave (for every process), its heartbeat row goes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    this.#listening.clear();
    this.#tracked.clear();
    await this.store.removeProcess();
  }

  /**
   * A member for a channel join on `topic` (without `realtime:`), with presence key `key` ('' or absent: a random
   * UUID, as realtime does).
   */
  member(
    topic: string,
    subscriber: PresenceSubscriber,
    client: PresenceClient,
    key?: string,
  ): PresenceMember {
    return new PresenceMember(
      this,
      topic,
      subscriber,
      client,
      key === undefined || key === '' ? crypto.randomUUID() : key,
    );
  }

  /** One heartbeat: refresh this process's row (re-writing its presences if it had expired), expire the dead. */
  #tick(): void {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    this.beat()
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'presence heartbeat failed'))
      .finally(() => {
        this.#ticking = false;
      });
  }

  /**
   * One heartbeat now (the timer runs it every `heartbeatMs`): refreshes this process's row, writing its presences
   * again if the row had been expired while the process lived, then expires the dead processes' presences.
   */
  async beat(): Promise<void> {
    const missing = await this.store.heartbeat();
    if (missing && !this.#closed) {
      this.#logger.warn({ process: this.processId }, 'presence heartbeat row was expired; re-tracking');
      for (const member of this.#tracked) await member.retrack();
    }
    const expired = await this.store.expire(this.#ttlMs);
    if (expired > 0) this.#logger.info({ presences: expired }, 'expired the presences of dead processes');
  }

  /** Runs `check` against the rate limits and the size limit for a track of `meta`. */
  checkTrack(meta: unknown, client: PresenceClient): TrackOutcome {
    if (!isPlainObject(meta)) return { ok: false, reason: 'invalid_payload' };
    if (Buffer.byteLength(JSON.stringify(meta)) > this.#maxBytes) {
      return { ok: false, reason: 'payload_size_exceeded' };
    }
    const limited = this.#core.rateLimiter.check({ type: 'message', name: 'presence', ...client });
    return limited ? { ok: false, reason: 'rate_limit_exceeded' } : { ok: true };
  }

  /** @internal */
  listen(member: PresenceMember, on: boolean): void {
    let members = this.#listening.get(member.topic);
    if (on) {
      if (!members) {
        members = new Set();
        this.#listening.set(member.topic, members);
      }
      members.add(member);
    } else if (members?.delete(member) && members.size === 0) {
      this.#listening.delete(member.topic);
    }
  }

  /** @internal */
  tracking(member: PresenceMember, on: boolean): void {
    if (on) this.#tracked.add(member);
    else this.#tracked.delete(member);
  }

  #busEvent(event: BusEvent): void {
    if (event.kind === 'resync') {
      for (const members of this.#listening.values()) {
        for (const member of members) member.resync();
      }
      return;
    }
    if (event.kind !== 'message' || event.topic !== PRESENCE_TOPIC) return;
    const diff = event.data as Partial<WirePresenceDiff> | null;
    if (typeof diff?.t !== 'string' || !isPlainObject(diff.j) || !isPlainObject(diff.l)) {
      this.#logger.warn({ data: event.data }, 'malformed presence diff skipped');
      return;
    }
    const members = this.#listening.get(diff.t);
    if (!members) return;
    for (const member of members) member.diff({ joins: diff.j, leaves: diff.l });
  }
}

/** One channel join's presence: its tracked presence, and what it receives. */
export class PresenceMember {
  #ref: string | undefined;
  #meta: Record<string, unknown> | undefined;
  #metaJson: string | undefined;
  #listening = false;
  /** Diffs held while a state is being read (undefined: none is). */
  #held: PresenceDiff[] | undefined;
  #left = false;
  /** The refs the client's state holds (after the first state). */
  #present: Set<string> | undefined;
  /** Serialises this member's writes (track, untrack, leave) in call order. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly presences: Presences,
    readonly topic: string,
    readonly subscriber: PresenceSubscriber,
    readonly client: PresenceClient,
    readonly key: string,
  ) {}

  /** The tracked presence's phx_ref, if any. */
  get ref(): string | undefined {
    return this.#ref;
  }

  /** Starts receiving diffs and sends `presence_state` (presence enabled at join, or by a track). */
  async sync(): Promise<void> {
    if (this.#left) return;
    if (!this.#listening) {
      this.#listening = true;
      this.presences.listen(this, true);
    }
    this.#held ??= [];
    let rows: PresenceRow[];
    try {
      rows = await this.presences.store.list(this.topic);
    } catch (error) {
      this.#held = undefined;
      throw error;
    }
    if (this.#left) return;
    const held = this.#held;
    this.#held = undefined;
    this.#present = new Set(rows.map((row) => row.ref));
    this.subscriber.presenceState(groupPresences(rows));
    for (const diff of held) this.#send(diff);
  }

  /**
   * Tracks `meta` (the client's payload) as this join's presence, replacing an earlier one; the same payload as the
   * tracked one does nothing. Listening starts with the first track (realtime enables presence for the join).
   */
  async track(meta: unknown): Promise<TrackOutcome> {
    const outcome = this.presences.checkTrack(meta, this.client);
    if (!outcome.ok) return outcome;
    return await this.#serial(async () => {
      if (this.#left) return outcome;
      const json = JSON.stringify(meta);
      if (json === this.#metaJson) return outcome;
      if (!this.#listening) await this.sync();
      const ref = newRef();
      const previous = this.#ref;
      const record = meta as Record<string, unknown>;
      await this.presences.store.track({ topic: this.topic, ref, key: this.key, meta: record }, previous);
      this.#ref = ref;
      this.#meta = record;
      this.#metaJson = json;
      this.presences.tracking(this, true);
      return outcome;
    });
  }

  /** Removes this join's presence (a leave for everyone); nothing when none is tracked. */
  async untrack(): Promise<void> {
    await this.#serial(() => this.#untrack());
  }

  /** The channel left or its socket closed: untracks and stops receiving. Idempotent. */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    this.#listening = false;
    this.presences.listen(this, false);
    await this.#serial(() => this.#untrack());
  }

  /** @internal Writes the tracked presence again (this process had been expired while alive). */
  async retrack(): Promise<void> {
    await this.#serial(async () => {
      if (this.#ref === undefined || this.#meta === undefined || this.#left) return;
      await this.presences.store.track({
        topic: this.topic,
        ref: this.#ref,
        key: this.key,
        meta: this.#meta,
      });
    });
  }

  /** @internal A diff of this member's topic. */
  diff(diff: PresenceDiff): void {
    if (this.#held) this.#held.push(diff);
    else this.#send(diff);
  }

  /**
   * Sends `diff` minus what the client's state already reflects: joins of refs it has (a change committed before
   * the state was read, notified after it) and leaves of refs it lacks; nothing when nothing is left.
   */
  #send(diff: PresenceDiff): void {
    const present = this.#present;
    if (!present) return;
    const joins = filterMetas(diff.joins, (ref) => !present.has(ref));
    const leaves = filterMetas(diff.leaves, (ref) => present.has(ref));
    forEachRef(joins, (ref) => present.add(ref));
    forEachRef(leaves, (ref) => present.delete(ref));
    if (Object.keys(joins).length === 0 && Object.keys(leaves).length === 0) return;
    this.subscriber.presenceDiff({ joins, leaves });
  }

  /** @internal The bus had a gap: send a fresh state (the client turns it into joins and leaves). */
  resync(): void {
    if (this.#held) return; // a state is being read already, after the gap
    this.sync().catch(() => {
      // The next resync or join re-reads; the member keeps its last state meanwhile.
    });
  }

  async #untrack(): Promise<void> {
    const ref = this.#ref;
    if (ref === undefined) return;
    this.#ref = undefined;
    this.#meta = undefined;
    this.#metaJson = undefined;
    this.presences.tracking(this, false);
    await this.presences.store.untrack(this.topic, ref);
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(work, work);
    this.#writes = run.catch(() => {});
    return run;
  }
}

/** `state` with only the metas whose phx_ref passes `keep` (and without keys left empty). */
function filterMetas(state: PresenceState, keep: (ref: string) => boolean): PresenceState {
  const out: PresenceState = Object.create(null) as PresenceState;
  for (const key of Object.getOwnPropertyNames(state)) {
    const metas = state[key]?.metas.filter((meta) => keep(String(meta.phx_ref))) ?? [];
    if (metas.length > 0) out[key] = { metas };
  }
  return out;
}

/** Calls `fn` with each phx_ref of `state`. */
function forEachRef(state: PresenceState, fn: (ref: string) => void): void {
  for (const key of Object.getOwnPropertyNames(state)) {
    for (const meta of state[key]?.metas ?? []) fn(String(meta.phx_ref));
  }
}
