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
 * - Outbox mode (`outbox: true`, capture mode `outbox`, core/capture/outbox-pump.ts): every notification carries its
 *   outbox position `p`, increasing along the channel. The bus remembers the last position it received and
 *   delivered; a notification at or below the delivered position is a duplicate and is dropped. After a gap it
 *   REPLAYS instead of resyncing: it reads `pgrt.outbox` rows of its channel past the last position it received, up
 *   to the pump's position (read after LISTEN is active, so every later row arrives as a notification), and delivers
 *   them, in order, before anything received on the new connection. Only when retention already deleted some of
 *   those rows does it deliver `resync`. A payload `{"p":<id>}` (too big to notify) is read from the outbox row.
 *   The pumps gather changes: a notification may be a JSON array of such payloads, each with its position, in
 *   order; an outbox row written by the logical pump may hold such an array (under its last position).
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
  /** Outbox mode: track positions, drop duplicates, replay gaps from `pgrt.outbox` (default false). */
  readonly outbox?: boolean;
  /** Outbox rows read per replay query (default 2000). */
  readonly replayChunkRows?: number;
  /**
   * Payload bytes per replay query, past its first row (default 1 MiB): a row of the logical pump holds a whole
   * notification of changes, and a replay chunk is delivered in one go.
   */
  readonly replayChunkBytes?: number;
}

type Payload = Record<string, unknown>;

/** Marks a queued resync. */
const RESYNC = Symbol('resync');

/** Marks a replay slot whose `batch` is ready. */
const BATCH = Symbol('batch');

/**
 * A queue slot: a payload to deliver, RESYNC, `null` (skip), `undefined` while its spill (or replay chunk) is being
 * fetched, or BATCH: deliver `batch`, then, if `more` is set, stay at the head and fetch the next chunk with it.
 */
interface Slot {
  value: Payload | typeof RESYNC | typeof BATCH | null | undefined;
  batch?: Payload[] | undefined;
  more?: (() => void) | undefined;
  /** After delivering this slot, positions up to here count as delivered (a resync's horizon). */
  through?: number | undefined;
}

/** One chunk of a replay: the rows read, and the outbox's state in the same snapshot. */
interface ReplayChunk {
  readonly pumpedThrough: number;
  readonly deletedThrough: number;
  readonly rows: ReadonlyArray<{ readonly id: number; readonly payload: string }>;
  /** Rows may remain past the last one read. */
  readonly more: boolean;
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
  readonly #outbox: boolean;
  readonly #replayChunkRows: number;
  readonly #replayChunkBytes: number;

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
  /** Outbox mode: highest position received (queued) and delivered; undefined before the first LISTEN. */
  #received: number | undefined;
  #delivered: number | undefined;
  #replays = 0;

  constructor(db: Database, options: PgNotificationBusOptions = {}) {
    this.#db = db;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'pg-notification-bus' });
    this.#channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    this.#applicationName = options.applicationName ?? 'pgrt-listen';
    this.#initialMs = options.backoff?.initialMs ?? 100;
    this.#maxMs = options.backoff?.maxMs ?? 5000;
    this.#gcIntervalMs = options.spillGcIntervalMs ?? 30_000;
    this.#retentionMs = options.spillRetentionMs ?? 300_000;
    this.#outbox = options.outbox ?? false;
    this.#replayChunkRows = options.replayChunkRows ?? 2000;
    this.#replayChunkBytes = options.replayChunkBytes ?? 1024 * 1024;
  }

  /** Outbox mode: the outbox position of the last delivered notification (undefined before the first LISTEN). */
  get lastPosition(): number | undefined {
    return this.#delivered;
  }

  /** The reconnect delays in effect (options.backoff with defaults applied). */
  get backoff(): { readonly initialMs: number; readonly maxMs: number } {
    return { initialMs: this.#initialMs, maxMs: this.#maxMs };
  }

  /** Outbox mode: how many gaps were replayed from the outbox (diagnostics, tests). */
  get replays(): number {
    return this.#replays;
  }

  /** The LISTEN connection is a database connection: `connected` says whether the database answers. */
  readonly followsDatabase = true;

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
      // Two statements in one round trip: pg resolves to one result per statement. The SELECT runs after LISTEN
      // took effect, so the pump's position it reads covers every batch not notified to this connection.
      const position = this.#outbox ? ', (SELECT pumped_through FROM pgrt.outbox_state) AS position' : '';
      const reply = await client.query(
        `LISTEN ${client.escapeIdentifier(this.#channel)}; SELECT pg_backend_pid() AS pid${position}`,
      );
      const results = reply as unknown as pg.QueryResult<{ pid: number; position?: string | null }>[];
      this.#pid = results[1]?.rows[0]?.pid;
      if (this.#client !== client) throw new Error('LISTEN connection lost while subscribing');
      const pumped = results[1]?.rows[0]?.position;
      if (this.#outbox && this.#received === undefined && pumped != null) {
        // First LISTEN: start from the pump's position (what came before is in any later snapshot query).
        this.#received = Math.max(this.#received ?? 0, Number(pumped));
        this.#delivered = Math.max(this.#delivered ?? 0, Number(pumped));
      }
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

  /**
   * Marks the connection listening and, after a gap, queues the replay (outbox mode, position known) or the resync
   * before anything else it receives. LISTEN is active when this runs.
   */
  #listening(): void {
    this.#state = 'listening';
    if (!this.#resyncDue) return;
    this.#resyncDue = false;
    if (this.#outbox && this.#received !== undefined) this.#enqueue(this.#replay(this.#received));
    else this.#enqueue({ value: RESYNC });
  }

  /**
   * A slot replaying the outbox rows of this channel in (`from`, pump position], chunk by chunk; it becomes a
   * RESYNC when retention already deleted part of the range or the read fails.
   */
  #replay(from: number): Slot {
    const slot: Slot = { value: undefined };
    let after = from;
    let upTo: number | undefined;
    let rows = 0;
    this.#replays++;
    const fetch = (): void => {
      slot.more = undefined;
      this.#fetchReplay(after, upTo).then(
        (chunk) => {
          if (this.#state === 'closed') return;
          upTo ??= chunk.pumpedThrough;
          if (after < chunk.deletedThrough) {
            this.#logger.warn(
              { from: after, deletedThrough: chunk.deletedThrough },
              'outbox rows of the gap already deleted by retention; resyncing',
            );
            this.#received = Math.max(this.#received ?? 0, upTo);
            slot.value = RESYNC;
            slot.through = upTo;
            this.#drain();
            return;
          }
          const batch: Payload[] = [];
          for (const row of chunk.rows) {
            after = row.id;
            const payloads = rowPayloads(row);
            if (payloads) batch.push(...payloads);
            else this.#logger.warn({ position: row.id }, 'malformed outbox payload skipped');
          }
          rows += chunk.rows.length;
          const done = !chunk.more;
          if (done) {
            after = upTo;
            this.#logger.info({ from, through: upTo, rows }, 'replayed the gap from the outbox');
          }
          this.#received = Math.max(this.#received ?? 0, after);
          slot.batch = batch;
          slot.more = done ? undefined : fetch;
          slot.through = done ? upTo : undefined;
          slot.value = BATCH;
          this.#drain();
        },
        (error: unknown) => {
          if (this.#state === 'closed') return;
          this.#logger.error({ err: error, from: after }, 'outbox replay failed; resyncing');
          slot.value = RESYNC;
          this.#drain();
        },
      );
    };
    fetch();
    return slot;
  }

  /**
   * Reads up to one chunk of this channel's outbox rows past `after` (up to `upTo`, else the pump's position): at
   * most `replayChunkRows` rows, cut after the row that reaches `replayChunkBytes` of payload.
   */
  async #fetchReplay(after: number, upTo: number | undefined): Promise<ReplayChunk> {
    // One statement, one snapshot: the rows and the retention horizon agree (the pump deletes and moves it at once).
    // `more`: the row limit was reached or the byte budget cut rows off, so another chunk may follow.
    const result = await this.#db.query<{
      pumped: string;
      deleted: string;
      id: string | null;
      payload: string | null;
      more: boolean | null;
    }>(
      `SELECT s.pumped_through AS pumped, s.deleted_through AS deleted, o.id, o.payload, o.more
         FROM pgrt.outbox_state s
         LEFT JOIN LATERAL (
           SELECT w.id, w.payload, w.n = $4 OR w.last_before >= $5 AS more
             FROM (
               SELECT r.id, r.payload, r.before, count(*) OVER () AS n, max(r.before) OVER () AS last_before
                 FROM (
                   SELECT l.id, l.payload,
                          sum(octet_length(l.payload)) OVER (ORDER BY l.id) - octet_length(l.payload) AS before
                     FROM (
                       SELECT id, payload FROM pgrt.outbox
                        WHERE channel = $1 AND id > $2
                          AND id <= least(s.pumped_through, coalesce($3::int8, s.pumped_through))
                        ORDER BY id LIMIT $4
                     ) l
                 ) r
             ) w
            WHERE w.before < $5
         ) o ON true
        ORDER BY o.id`,
      [this.#channel, after, upTo ?? null, this.#replayChunkRows, this.#replayChunkBytes],
    );
    const first = result.rows[0];
    if (!first) throw new Error('pgrt.outbox_state is empty');
    const rows: Array<{ id: number; payload: string }> = [];
    for (const row of result.rows) {
      if (row.id !== null && row.payload !== null) rows.push({ id: Number(row.id), payload: row.payload });
    }
    return {
      pumpedThrough: Number(first.pumped),
      deletedThrough: Number(first.deleted),
      rows,
      more: first.more === true,
    };
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
    if (text.charCodeAt(0) === 0x5b) {
      // '[': several changes in one notification (the pumps), each with its own position, in order.
      const payloads = parsePayloads(text);
      if (!payloads) {
        this.#logger.warn({ payload: text.slice(0, 200) }, 'malformed notification skipped');
        return;
      }
      for (const payload of payloads) this.#accept(payload);
      return;
    }
    const payload = parsePayload(text);
    if (!payload) {
      this.#logger.warn({ payload: text.slice(0, 200) }, 'malformed notification skipped');
      return;
    }
    this.#accept(payload);
  }

  /** Queues (or delivers at once) the payload of one change, fence or resync, as received. */
  #accept(payload: Payload): void {
    const position = payload.p;
    if (typeof position === 'number') {
      this.#received = Math.max(this.#received ?? 0, position);
      if (payload.t === undefined && payload.f === undefined && payload.resync === undefined) {
        // Too big to notify: the payload is the outbox row's.
        const slot: Slot = { value: undefined };
        this.#enqueue(slot);
        this.#fetchOutboxRow(position).then(
          (value) => {
            slot.value = value;
            this.#drain();
          },
          (error: unknown) => {
            this.#logger.error({ err: error, position }, 'outbox payload lost; resyncing');
            slot.value = RESYNC;
            this.#drain();
          },
        );
        return;
      }
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

  /** Resolves to the payload of outbox row `id` with its position (`null` if malformed); rejects if it is gone. */
  async #fetchOutboxRow(id: number): Promise<Payload | null> {
    const result = await this.#db.query<{ payload: string }>(
      'SELECT payload FROM pgrt.outbox WHERE id = $1',
      [id],
    );
    const row = result.rows[0];
    if (!row) throw new Error(`outbox row ${id} not found (deleted by retention?)`);
    const payload = rowPayloads({ id, payload: row.payload })?.find((p) => p.p === id);
    if (payload) return payload;
    this.#logger.warn({ position: id }, 'malformed outbox payload skipped');
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
      if (slot.value === BATCH) {
        const batch = slot.batch ?? [];
        slot.batch = undefined;
        for (const payload of batch) {
          if (this.#now() === 'closed') return;
          this.#deliver(payload);
        }
        if (slot.more) {
          slot.value = undefined;
          slot.more();
          return;
        }
      } else if (slot.value !== null) {
        this.#deliver(slot.value);
      }
      if (slot.through !== undefined) this.#delivered = Math.max(this.#delivered ?? 0, slot.through);
      this.#head++;
    }
    this.#queue = [];
    this.#head = 0;
  }

  #deliver(value: Payload | typeof RESYNC): void {
    if (value !== RESYNC && typeof value.p === 'number') {
      // Outbox positions increase along the channel: anything at or below the last delivered one was replayed.
      if (this.#delivered !== undefined && value.p <= this.#delivered) return;
      this.#delivered = value.p;
    }
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

/** The JSON object of a payload, or undefined if it is not one. */
function parsePayload(text: string): Payload | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The objects of a notification of several changes (`[{"p":…},…]`), or undefined if it is not such an array. */
function parsePayloads(text: string): Payload[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every(isObject) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The payloads of an outbox row with their positions: a row of one change (a trigger's, or a lone change of the
 * logical pump) holds its payload under its position `id`; a row of the logical pump holding several is the array
 * it notified, whose elements carry their positions (the last one is `id`). Undefined if malformed.
 */
export function rowPayloads(row: { readonly id: number; readonly payload: string }): Payload[] | undefined {
  if (row.payload.charCodeAt(0) === 0x5b) return parsePayloads(row.payload);
  const payload = parsePayload(row.payload);
  return payload ? [{ ...payload, p: row.id }] : undefined;
}

const OPS = { i: 'insert', u: 'update', d: 'delete' } as const;

/** The event of a payload (see core/database/schema.ts for the format), or undefined if malformed. */
export function toEvent(p: Payload, seq: number): BusEvent | undefined {
  if (typeof p.f === 'string') return { kind: 'fence', seq, id: p.f };
  if (typeof p.m === 'string') return { kind: 'message', seq, topic: p.m, data: p.d };
  if (p.resync === true) return { kind: 'resync', seq }; // the logical capture slot was lost (core/capture/logical/slot.ts)
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
