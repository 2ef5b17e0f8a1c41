/**
 * {@link ChangeBus} over PostgreSQL LISTEN/NOTIFY: ONE dedicated LISTEN connection per process (idle listeners slow
 * NOTIFY for everyone, reference/perf.md §2.3), reading the payloads written by the capture triggers
 * (core/database/schema.ts).
 *
 * Contracts:
 * - Events reach handlers synchronously and strictly in notification (= commit) order. A spilled payload is fetched
 *   from `pgrt.spill` through the pool; it and everything after it wait for the fetch (fetches run in parallel,
 *   delivery stays serial). With nothing pending, a notification is delivered without queueing.
 * - Malformed payloads are logged and skipped. A spilled payload that cannot be fetched (row already collected,
 *   query failed) becomes a `resync` in its place: a change was lost.
 * - When the LISTEN connection fails or ends, it is re-opened with exponential backoff and jitter; once listening
 *   again, `resync` is delivered before any later notification (changes committed in the gap were missed).
 * - Spilled rows older than the retention are deleted periodically (unref'd timer; every process does it, deletes
 *   are idempotent).
 * - Background failures go to the logger; nothing here rejects unhandled. After `close()` nothing is delivered and
 *   nothing reconnects.
 */
import type pg from 'pg';
import type { Database } from '../database/database.js';
import { type Logger, silentLogger } from '../logger.js';
import { type BusEvent, type ChangeBus, DEFAULT_CHANGE_CHANNEL } from './change-bus.js';

/** Options of {@link PgNotificationBus}. */
export interface PgNotificationBusOptions {
  /** Receives connection state changes, malformed payloads and background errors. */
  readonly logger?: Logger;
  /** NOTIFY channel (default `pgrt_changes`); must match the capture triggers'. */
  readonly channel?: string;
  /** `application_name` of the LISTEN connection (default `pgrt-listen`). */
  readonly applicationName?: string;
  /** Reconnect delays: starts at `initialMs` (default 100), doubles up to `maxMs` (default 5000), with jitter. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** How often spilled payloads are collected, in ms (default 30000; 0 disables). */
  readonly spillGcIntervalMs?: number;
  /** Spilled payloads older than this many ms are collected (default 300000). */
  readonly spillRetentionMs?: number;
}

type Payload = Record<string, unknown>;

/** Marks a queued resync. */
const RESYNC = Symbol('resync');

/** A queue slot: a payload to deliver, RESYNC, `null` (skip), or `undefined` while its spill is being fetched. */
interface Slot {
  value: Payload | typeof RESYNC | null | undefined;
}

type State = 'idle' | 'connecting' | 'listening' | 'waiting' | 'closed';

/** The LISTEN/NOTIFY change bus. */
export class PgNotificationBus implements ChangeBus {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #channel: string;
  readonly #applicationName: string;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #gcIntervalMs: number;
  readonly #retentionMs: number;

  #handlers: ReadonlyArray<(event: BusEvent) => void> = [];
  #state: State = 'idle';
  #client: pg.Client | undefined;
  #pid: number | undefined;
  #attempt = 0;
  #resyncDue = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #gcTimer: NodeJS.Timeout | undefined;
  #gcRunning = false;
  #seq = 0;
  #queue: Slot[] = [];
  #head = 0;

  constructor(db: Database, options: PgNotificationBusOptions = {}) {
    this.#db = db;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'pg-notification-bus' });
    this.#channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    this.#applicationName = options.applicationName ?? 'pgrt-listen';
    this.#initialMs = options.backoff?.initialMs ?? 100;
    this.#maxMs = options.backoff?.maxMs ?? 5000;
    this.#gcIntervalMs = options.spillGcIntervalMs ?? 30_000;
    this.#retentionMs = options.spillRetentionMs ?? 300_000;
  }

  get connected(): boolean {
    return this.#state === 'listening';
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** Backend pid of the LISTEN connection while connected (diagnostics, tests). */
  get listenerPid(): number | undefined {
    return this.#state === 'listening' ? this.#pid : undefined;
  }

  async start(): Promise<void> {
    if (this.#state === 'closed') throw new Error('PgNotificationBus is closed');
    if (this.#state !== 'idle') return;
    try {
      await this.#connect();
    } catch (error) {
      if (this.#now() === 'connecting') this.#state = 'idle';
      throw error;
    }
    if (this.#gcIntervalMs > 0 && !this.#gcTimer) {
      this.#gcTimer = setInterval(() => {
        this.collectSpill().catch((error: unknown) =>
          this.#logger.warn({ err: error }, 'spill collection failed'),
        );
      }, this.#gcIntervalMs);
      this.#gcTimer.unref();
    }
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.#handlers = [...this.#handlers, handler];
    return () => {
      this.#handlers = this.#handlers.filter((h) => h !== handler);
    };
  }

  /** Deletes spilled payloads older than the retention; resolves to how many. Skips (0) if a run is in progress. */
  async collectSpill(): Promise<number> {
    if (this.#gcRunning) return 0;
    this.#gcRunning = true;
    try {
      const result = await this.#db.query(
        "DELETE FROM pgrt.spill WHERE created_at < now() - $1::int8 * interval '1 millisecond'",
        [this.#retentionMs],
      );
      return result.rowCount ?? 0;
    } finally {
      this.#gcRunning = false;
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#gcTimer);
    this.#reconnectTimer = undefined;
    this.#gcTimer = undefined;
    this.#queue = [];
    this.#head = 0;
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.end().catch(() => {});
  }

  /** The state, read afresh (TypeScript would keep a narrowing across awaits). */
  #now(): State {
    return this.#state;
  }

  /** Opens the LISTEN connection; on success the state is `listening`. Rejects (state unchanged) on failure. */
  async #connect(): Promise<void> {
    this.#state = 'connecting';
    const client = await this.#db.connectDedicated({ applicationName: this.#applicationName });
    if (this.#now() === 'closed') {
      await client.end().catch(() => {});
      return;
    }
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, undefined));
    client.on('notification', (message) => {
      if (client !== this.#client || message.channel !== this.#channel) return;
      // Listening already (LISTEN's reply may not have resumed #connect yet): the resync must come first.
      if (this.#resyncDue) this.#listening();
      this.#receive(message.payload ?? '');
    });
    this.#client = client;
    try {
      // Two statements in one round trip: pg resolves to one result per statement.
      const reply = await client.query(
        `LISTEN ${client.escapeIdentifier(this.#channel)}; SELECT pg_backend_pid() AS pid`,
      );
      const results = reply as unknown as pg.QueryResult<{ pid: number }>[];
      this.#pid = results[1]?.rows[0]?.pid;
      if (this.#client !== client) throw new Error('LISTEN connection lost while subscribing');
    } catch (error) {
      if (this.#client === client) this.#client = undefined;
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#now() === 'closed') return;
    this.#attempt = 0;
    this.#listening();
    this.#logger.info({ channel: this.#channel, backendPid: this.#pid }, 'listening');
  }

  /** Marks the connection listening and, after a gap, queues the resync before anything else it receives. */
  #listening(): void {
    this.#state = 'listening';
    if (!this.#resyncDue) return;
    this.#resyncDue = false;
    this.#enqueue({ value: RESYNC });
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.#client) return;
    this.#client = undefined;
    // Later errors of this client must not crash the process.
    client.removeAllListeners('notification');
    client.on('error', () => {});
    client.end().catch(() => {});
    if (this.#state !== 'listening') return; // a pending #connect() fails and schedules the retry
    this.#state = 'waiting';
    this.#resyncDue = true;
    this.#logger.warn({ err: error }, 'LISTEN connection lost; reconnecting');
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#state = 'waiting';
    if (this.#reconnectTimer) return;
    const base = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#attempt);
    this.#attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state !== 'waiting') return;
      this.#connect().catch((error: unknown) => {
        if (this.#state === 'closed') return;
        this.#logger.warn({ err: error, attempt: this.#attempt }, 'LISTEN reconnect failed');
        this.#scheduleReconnect();
      });
    }, delay);
  }

  #receive(text: string): void {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      this.#logger.warn({ payload: text.slice(0, 200) }, 'malformed notification skipped');
      return;
    }
    if (!isObject(payload)) {
      this.#logger.warn({ payload: text.slice(0, 200) }, 'malformed notification skipped');
      return;
    }
    if (payload.s !== undefined) {
      const slot: Slot = { value: undefined };
      this.#enqueue(slot);
      this.#fetchSpill(payload.s).then(
        (value) => {
          slot.value = value;
          this.#drain();
        },
        (error: unknown) => {
          this.#logger.error({ err: error, spill: payload.s }, 'spilled payload lost; resyncing');
          slot.value = RESYNC;
          this.#drain();
        },
      );
      return;
    }
    if (this.#head === this.#queue.length) this.#deliver(payload);
    else this.#queue.push({ value: payload });
  }

  /** Resolves to the spilled payload (`null` if malformed: skipped); rejects if it is gone. */
  async #fetchSpill(id: unknown): Promise<Payload | null> {
    if (typeof id !== 'number' && typeof id !== 'string') throw new Error(`bad spill id ${String(id)}`);
    const result = await this.#db.query<{ payload: string }>('SELECT payload FROM pgrt.spill WHERE id = $1', [
      id,
    ]);
    const row = result.rows[0];
    if (!row) throw new Error(`spilled payload ${id} not found (collected?)`);
    try {
      const payload: unknown = JSON.parse(row.payload);
      if (isObject(payload) && payload.s === undefined) return payload;
    } catch {
      // fall through
    }
    this.#logger.warn({ spill: id }, 'malformed spilled payload skipped');
    return null;
  }

  #enqueue(slot: Slot): void {
    this.#queue.push(slot);
    this.#drain();
  }

  /** Delivers ready slots from the head of the queue, stopping at the first pending fetch. */
  #drain(): void {
    while (this.#head < this.#queue.length && this.#state !== 'closed') {
      const slot = this.#queue[this.#head]!;
      if (slot.value === undefined) return;
      this.#head++;
      if (slot.value !== null) this.#deliver(slot.value);
    }
    this.#queue = [];
    this.#head = 0;
  }

  #deliver(value: Payload | typeof RESYNC): void {
    const seq = this.#seq + 1;
    const event = value === RESYNC ? ({ kind: 'resync', seq } as const) : toEvent(value, seq);
    if (!event) {
      this.#logger.warn({ payload: value }, 'malformed notification skipped');
      return;
    }
    this.#seq = seq;
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#logger.error({ err: error, seq, kind: event.kind }, 'bus handler threw');
      }
    }
  }
}

function isObject(value: unknown): value is Payload {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const OPS = { i: 'insert', u: 'update', d: 'delete' } as const;

/** The event of a payload (see core/database/schema.ts for the format), or undefined if malformed. */
function toEvent(p: Payload, seq: number): BusEvent | undefined {
  if (typeof p.f === 'string') return { kind: 'fence', seq, id: p.f };
  const { t: table, o, x: txid } = p;
  if (typeof table !== 'string' || typeof txid !== 'string') return undefined;
  if (o === 't') return { kind: 'truncate', seq, table, txid };
  if (o !== 'i' && o !== 'u' && o !== 'd') return undefined;
  if (p.k === undefined) return undefined;
  let row: Payload | undefined;
  if (o !== 'd') {
    if (!isObject(p.r)) return undefined;
    row = p.r;
  }
  return { kind: 'change', seq, table, op: OPS[o], key: p.k, row, txid };
}
