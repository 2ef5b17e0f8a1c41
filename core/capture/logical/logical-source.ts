/**
 * The `logical` capture mode's pump source (DESIGN.md decision 4, docs/reference.md "Capture modes"): instead of
 * triggers appending to `pgrt.outbox` in every writer's transaction, the elected pump streams the WAL of the
 * captured tables through the capture slot (replication-client.ts, decoder.ts) and appends what it decodes to the
 * same outbox (append-query.ts), so listeners, replay and retention are those of the outbox mode and writers pay
 * nothing beyond `wal_level=logical`.
 *
 * Exactly once: the source acknowledges a commit LSN only after `pgrt.logical_append` committed it, and the
 * function ignores a batch whose LSN is not past `decoded_through`; a stream restarted after a crash re-sends from
 * the slot's confirmed position and what was already appended is skipped (`skipThrough`).
 *
 * Cadence: the stream pushes, and a transaction is appended as soon as it arrives; but each append costs the pump and
 * its backend far more CPU than a change does, so while changes arrive faster than {@link GATHER_ABOVE_PER_SECOND} they
 * are appended at most once per `gatherMs` (default 10 ms). With nothing queued the pump waits for the stream (a step
 * per `asleepCheckMs` (default 1 s) all the same). More than {@link LOGICAL_QUEUE_HIGH_WATER} queued changes pause the
 * stream.
 *
 * Differences from the triggers, documented: an UPDATE that changes nothing is still delivered (the merge box
 * finds no difference); an UPDATE that leaves a TOASTed (large, out-of-line) value unchanged does not carry it in
 * the WAL, and the pump fills it from the row as it is when the batch is appended (a later committed change of that
 * value may show early; the change that made it arrives next, so clients converge all the same).
 */
import type pg from 'pg';
import type { Database } from '../../database/database.js';
import type { Logger } from '../../logger.js';
import {
  GATHER_ABOVE_PER_SECOND,
  type PassedRows,
  type PumpSource,
  type PumpSourceOptions,
  type PumpStep,
  passedRows,
} from '../pump-source.js';
import { type CapturedTable, logicalAppendQuery } from './append-query.js';
import type { DecodedTransaction } from './decoder.js';
import { formatLsn, parseLsn } from './pgoutput.js';
import { LogicalStream } from './replication-client.js';
import { ensureLogicalSlot, readCapturedTables } from './slot.js';

/** Bounds of the backoff between attempts to reopen a failing replication stream, in ms. */
const REOPEN_MIN_MS = 100;
const REOPEN_MAX_MS = 5000;

/** Decoded changes queued beyond this many pause the replication stream until the pump catches up. */
export const LOGICAL_QUEUE_HIGH_WATER = 100_000;

/** The WAL of the captured tables, through the capture slot. */
export class LogicalSource implements PumpSource {
  readonly #db: Database;
  readonly #options: PumpSourceOptions;
  readonly #logger: Logger;
  #leading = false;
  /** The stream (while leading), its decoded transactions not yet appended, and their change count. */
  #stream: LogicalStream | undefined;
  #queue: DecodedTransaction[] = [];
  #queuedChanges = 0;
  #paused = false;
  /** Commit LSNs up to here were appended by an earlier pump (skip them when re-sent). */
  #skipThrough = 0n;
  /** No new stream before this time (Date.now() ms), and the next backoff step. */
  #reopenAt = 0;
  #reopenDelayMs = REOPEN_MIN_MS;
  #tables = new Map<string, CapturedTable>();
  /** When the last append began (performance.now() ms), and whether changes arrived fast enough to gather them. */
  #appendedAt = Number.NEGATIVE_INFINITY;
  #gathering = false;

  constructor(db: Database, options: PumpSourceOptions) {
    this.#db = db;
    this.#options = options;
    this.#logger = options.logger;
  }

  async lead(): Promise<void> {
    this.#leading = true;
  }

  /**
   * (Re)opens the stream when there is none, then appends the queued transactions (up to `batchRows` changes) in
   * one `pgrt.logical_append` (NATS bus: `pgrt.logical_step`, handing its rows to the relay) and acknowledges their LSN. `busyPollMs` does not apply: steps follow the stream.
   */
  async step(client: pg.Client): Promise<PumpStep> {
    const { batchRows, idlePollMs } = this.#options;
    if (!this.#stream) {
      const wait = this.#reopenAt - Date.now();
      if (wait > 0) return { sent: 0, delayMs: Math.min(wait, idlePollMs * 10) };
      await this.#openStream(client);
      return { sent: 0, delayMs: idlePollMs };
    }
    // The batch leaves the queue only once appended: a failed step retries the same transactions.
    let size = 0;
    let changes = 0;
    while (size < this.#queue.length && (size === 0 || changes < batchRows)) {
      changes += this.#queue[size]!.changes.length;
      size++;
    }
    let sent = 0;
    let passed: PassedRows | undefined;
    const batch = this.#queue.slice(0, size);
    if (batch.length > 0) {
      const startedAt = performance.now();
      // Each append is one statement and one WAL flush however many changes it carries (and so is each wake-up of
      // the pump, its backend and the walsender): under a stream of one-row transactions (bench/writer-overhead.ts)
      // gathering them saves much of the pump's CPU, which is the writers' on the database's machine.
      this.#gathering = (changes * 1000) / (startedAt - this.#appendedAt) >= GATHER_ABOVE_PER_SECOND;
      this.#appendedAt = startedAt;
      ({ sent, passed } = await this.#append(client, batch));
      this.#queue.splice(0, size);
      this.#queuedChanges -= changes;
      if (this.#paused && this.#queuedChanges < LOGICAL_QUEUE_HIGH_WATER / 2) {
        this.#paused = false;
        this.#stream?.resume();
      }
      this.#stream?.confirm(batch[batch.length - 1]!.endLsn, batch.length);
    }
    const delayMs =
      this.#queuedChanges >= batchRows
        ? 0
        : this.#queue.length > 0
          ? this.#gatherMs()
          : this.#options.asleepCheckMs;
    return { sent, delayMs, ...(passed ? { passed } : {}) };
  }

  async stop(): Promise<void> {
    this.#leading = false;
    const stream = this.#stream;
    this.#stream = undefined;
    this.#queue = [];
    this.#queuedChanges = 0;
    await stream?.close();
  }

  /**
   * Appends `batch` (skipping what an earlier pump appended) in one statement; resolves how many changes, and in
   * relayed mode (NATS bus) the rows it appended, which were not notified.
   */
  async #append(
    client: pg.Client,
    batch: readonly DecodedTransaction[],
  ): Promise<{ sent: number; passed?: PassedRows }> {
    const fresh = batch.filter((transaction) => transaction.endLsn > this.#skipThrough);
    const unknown = fresh.some((transaction) =>
      transaction.changes.some((change) => change.kind === 'row' && !this.#tables.has(change.relation.table)),
    );
    if (unknown) this.#tables = await readCapturedTables(this.#db);
    const endLsn = batch[batch.length - 1]!.endLsn;
    const relayed = this.#options.relayed;
    const query = logicalAppendQuery(fresh, this.#tables, this.#options.thresholdBytes, relayed);
    if (!query) return { sent: 0 };
    query.values[0] = formatLsn(endLsn);
    const result = await client.query<AppendRow>({
      text: query.text,
      values: query.values,
      ...(query.name ? { name: query.name } : {}),
    });
    if (endLsn > this.#skipThrough) this.#skipThrough = endLsn;
    const row = result.rows[0];
    const sent = Math.max(0, row?.appended ?? 0);
    return relayed && row
      ? { sent, passed: passedRows(row.pumped_from, row.pumped, row.ids, row.row_channels, row.payloads) }
      : { sent };
  }

  /**
   * How long to let transactions gather before the next append: none unless they arrive fast, then until `gatherMs`
   * after the previous append began (0 within a ms of it: timers are no finer); at once for a full batch.
   */
  #gatherMs(): number {
    if (!this.#gathering || this.#queuedChanges >= this.#options.batchRows) return 0;
    const wait = this.#appendedAt + this.#options.gatherMs - performance.now();
    return wait < 1 ? 0 : wait;
  }

  async #openStream(client: pg.Client): Promise<void> {
    const slot = await ensureLogicalSlot(this.#db, this.#logger);
    const state = await client.query<{ decoded: string | null }>(
      'SELECT decoded_through::text AS decoded FROM pgrt.outbox_state',
    );
    const decoded = state.rows[0]?.decoded;
    this.#skipThrough = decoded ? parseLsn(decoded) : 0n;
    this.#tables = await readCapturedTables(this.#db);
    this.#queue = [];
    this.#queuedChanges = 0;
    this.#paused = false;
    // The WAL text must be what this session's output functions would write (column-json.ts).
    const session = (
      await client.query<{ tz: string; digits: string }>(
        "SELECT current_setting('TimeZone') AS tz, current_setting('extra_float_digits') AS digits",
      )
    ).rows[0];
    const stream = await LogicalStream.open(this.#db, this.#skipThrough, {
      slot,
      applicationName: `${this.#options.applicationName}-stream`,
      logger: this.#logger,
      settings: {
        DateStyle: 'ISO',
        ...(session ? { TimeZone: session.tz, extra_float_digits: session.digits } : {}),
      },
      onTransaction: (transaction) => {
        if (stream !== this.#stream) return;
        this.#reopenDelayMs = REOPEN_MIN_MS;
        this.#queue.push(transaction);
        this.#queuedChanges += transaction.changes.length;
        if (!this.#paused && this.#queuedChanges >= LOGICAL_QUEUE_HIGH_WATER) {
          this.#paused = true;
          stream.pause();
        }
        // Step at once, or (changes arriving fast) `gatherMs` after the previous append began, instead of after the
        // idle delay: a busy stream's transactions gather into one append.
        this.#options.wake(this.#gatherMs());
      },
      onEnd: (error) => this.#ended(stream, error),
    });
    if (!this.#leading) {
      await stream.close();
      return;
    }
    this.#stream = stream;
    this.#logger.info({ slot, from: decoded ?? 'slot start' }, 'streaming the capture slot');
  }

  #ended(stream: LogicalStream, error: Error | undefined): void {
    if (stream !== this.#stream) return;
    this.#stream = undefined;
    if (!this.#leading) return;
    // Backoff while it keeps failing (e.g. the slot is still held by a former leader's walsender until
    // wal_sender_timeout): 100 ms doubling to 5 s; one warning per streak, the repeats at debug.
    this.#reopenAt = Date.now() + this.#reopenDelayMs;
    const log = this.#reopenDelayMs === REOPEN_MIN_MS ? this.#logger.warn : this.#logger.debug;
    log.call(
      this.#logger,
      { err: error, retryInMs: this.#reopenDelayMs },
      'logical replication stream ended; reopening',
    );
    this.#reopenDelayMs = Math.min(REOPEN_MAX_MS, this.#reopenDelayMs * 2);
  }
}

/** What the append statement returns: `appended` (-1: a replay, nothing done), the rest only in relayed mode. */
interface AppendRow {
  readonly appended: number;
  readonly pumped_from?: string;
  readonly pumped?: string;
  readonly ids?: string[];
  readonly row_channels?: string[];
  readonly payloads?: string[];
}
