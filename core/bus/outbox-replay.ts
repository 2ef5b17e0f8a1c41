/**
 * The PostgreSQL bus's other job (pg-notification-bus.ts holds LISTEN and the reconnect): in the capture modes that
 * fill `pgrt.outbox`, a LISTEN gap is REPLAYED from the outbox instead of resyncing, and a payload too big to notify
 * (`{"p":<id>}`) is read from its outbox row.
 *
 * The replay reads this channel's rows past the last position the listener received, up to the pump's position (read
 * once, after LISTEN is active again, so every later row arrives as a notification), chunk by chunk (at most
 * `chunkRows` rows, cut after the row that reaches `chunkBytes` of payload), and hands each chunk to the listener's
 * delivery queue as one slot, in order, before anything received on the new connection. Only when retention already
 * deleted some of those rows (or a read fails) does the slot become a `resync`.
 *
 * The queue's slots are defined here because a replay is one of them: pg-notification-bus.ts owns the queue and
 * drains it; a slot tells it, through {@link ReplaySink}, when it changed.
 */
import type { Database } from '../database/database.js';
import type { Logger } from '../logger.js';
import { type Payload, rowPayloads } from './payloads.js';

/** Marks a queued resync. */
export const RESYNC = Symbol('resync');

/** Marks a replay slot whose `batch` is ready. */
export const BATCH = Symbol('batch');

/**
 * A queue slot: a payload to deliver, RESYNC, `null` (skip), `undefined` while its spill (or replay chunk) is being
 * fetched, or BATCH: deliver `batch`, then, if `more` is set, stay at the head and fetch the next chunk with it.
 */
export interface Slot {
  value: Payload | typeof RESYNC | typeof BATCH | null | undefined;
  batch?: Payload[] | undefined;
  more?: (() => void) | undefined;
  /** After delivering this slot, positions up to here count as delivered (a resync's horizon). */
  through?: number | undefined;
}

/** What a replay tells the listener that queued it. */
export interface ReplaySink {
  /** True once the bus closed: nothing more is done. */
  closed(): boolean;
  /** Positions up to `position` were read (received). */
  received(position: number): void;
  /** The slot changed (a chunk is ready, or it became a resync): drain the queue. */
  ready(): void;
}

/** Options of {@link OutboxReplay}. */
export interface OutboxReplayOptions {
  readonly channel: string;
  /** Outbox rows read per replay query. */
  readonly chunkRows: number;
  /** Payload bytes per replay query, past its first row. */
  readonly chunkBytes: number;
  readonly logger: Logger;
}

/** One chunk of a replay: the rows read, and the outbox's state in the same snapshot. */
interface ReplayChunk {
  readonly pumpedThrough: number;
  readonly deletedThrough: number;
  readonly rows: ReadonlyArray<{ readonly id: number; readonly payload: string }>;
  /** Rows may remain past the last one read. */
  readonly more: boolean;
}

/** Reads a channel's outbox rows for its listener. */
export class OutboxReplay {
  readonly #db: Database;
  readonly #channel: string;
  readonly #chunkRows: number;
  readonly #chunkBytes: number;
  readonly #logger: Logger;
  #replays = 0;

  constructor(db: Database, options: OutboxReplayOptions) {
    this.#db = db;
    this.#channel = options.channel;
    this.#chunkRows = options.chunkRows;
    this.#chunkBytes = options.chunkBytes;
    this.#logger = options.logger;
  }

  /** How many gaps were replayed (diagnostics, tests). */
  get replays(): number {
    return this.#replays;
  }

  /**
   * A slot replaying the outbox rows of this channel in (`from`, pump position], chunk by chunk; it becomes a
   * RESYNC when retention already deleted part of the range or the read fails.
   */
  gap(from: number, sink: ReplaySink): Slot {
    const slot: Slot = { value: undefined };
    let after = from;
    let upTo: number | undefined;
    let rows = 0;
    this.#replays++;
    const fetch = (): void => {
      slot.more = undefined;
      this.#fetchChunk(after, upTo).then(
        (chunk) => {
          if (sink.closed()) return;
          upTo ??= chunk.pumpedThrough;
          if (after < chunk.deletedThrough) {
            this.#logger.warn(
              { from: after, deletedThrough: chunk.deletedThrough },
              'outbox rows of the gap already deleted by retention; resyncing',
            );
            sink.received(upTo);
            slot.value = RESYNC;
            slot.through = upTo;
            sink.ready();
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
          sink.received(after);
          slot.batch = batch;
          slot.more = done ? undefined : fetch;
          slot.through = done ? upTo : undefined;
          slot.value = BATCH;
          sink.ready();
        },
        (error: unknown) => {
          if (sink.closed()) return;
          this.#logger.error({ err: error, from: after }, 'outbox replay failed; resyncing');
          slot.value = RESYNC;
          sink.ready();
        },
      );
    };
    fetch();
    return slot;
  }

  /** Resolves to the payload of outbox row `id` with its position (`null` if malformed); rejects if it is gone. */
  async row(id: number): Promise<Payload | null> {
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

  /**
   * Reads up to one chunk of this channel's outbox rows past `after` (up to `upTo`, else the pump's position): at
   * most `replayChunkRows` rows, cut after the row that reaches `replayChunkBytes` of payload.
   */
  async #fetchChunk(after: number, upTo: number | undefined): Promise<ReplayChunk> {
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
      [this.#channel, after, upTo ?? null, this.#chunkRows, this.#chunkBytes],
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
}
