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
 *   The reads are outbox-replay.ts's; this file holds LISTEN, the reconnect and the delivery queue.
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
import { BATCH, OutboxReplay, RESYNC, type ReplaySink, type Slot } from './outbox-replay.js';
import { isObject, type Payload, parsePayload, parsePayloads, toEvent } from './payloads.js';

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
  /** Outbox mode: track positions, replay gaps. */
  readonly #outbox: boolean;
  /** Replays gaps (outbox mode) and reads payloads too big to notify. */
  readonly #replay: OutboxReplay;
  /** What a replay reports to (the queue below). */
  readonly #sink: ReplaySink = {
    closed: () => this.#state === 'closed',
    received: (position) => {
      this.#received = Math.max(this.#received ?? 0, position);
    },
    ready: () => this.#drain(),
  };

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
    this.#replay = new OutboxReplay(db, {
      channel: this.#channel,
      chunkRows: options.replayChunkRows ?? 2000,
      chunkBytes: options.replayChunkBytes ?? 1024 * 1024,
      logger: this.#logger,
    });
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
    return this.#replay.replays;
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
    if (this.#outbox && this.#received !== undefined)
      this.#enqueue(this.#replay.gap(this.#received, this.#sink));
    else this.#enqueue({ value: RESYNC });
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
        this.#replay.row(position).then(
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
