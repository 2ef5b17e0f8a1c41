/**
 * The `outbox` capture mode's pump source: the rows its triggers appended to `pgrt.outbox`, notified by
 * `pgrt.outbox_pump` steps (0002_outbox.sql) in id order behind a barrier (outbox-pump.ts explains the ordering
 * rule). Each step is one call: it takes or checks the barrier, notifies up to `batchRows` rows past the position
 * and moves the position in the same transaction.
 *
 * Cadence: every `busyPollMs` (default 2 ms) while rows flow or a barrier is pending and for 200 ms after, then
 * backing off by doubling to `idlePollMs` (default 20 ms); a full batch is followed at once by the next; while rows
 * arrive faster than {@link GATHER_ABOVE_PER_SECOND} every `gatherMs` (default 10 ms) instead: a step costs about the
 * same CPU whatever it carries, and on a database's machine that CPU is the writers'.
 */
import type pg from 'pg';
import type { Database } from '../database/database.js';
import type { Logger } from '../logger.js';
import type { PassedRow, PassedRows, PumpSource, PumpSourceOptions, PumpStep } from './pump-source.js';

/** How long the pump keeps polling at `busyPollMs` after the last work before it backs off, in ms. */
const BUSY_LINGER_MS = 200;

/**
 * Changes per second above which the source polls every `gatherMs` instead of every `busyPollMs`. Each step costs
 * about the same whatever it carries (a round trip, a plpgsql call, a commit with its WAL flush and the notify lock,
 * wake-ups of the pump and its backend). bench/writer-overhead.ts at 2,000 changes/s, pump process and backend
 * together: ~145–165 µs of CPU per change with 2-ms steps (every other one only taking a barrier), ~120 with the
 * barrier taken by the sending step, ~80 with 10-ms gathering (~55 at 20 ms): CPU the writers share. Above this rate
 * gathering saves that CPU for the writers; below it the latency is worth more.
 */
export const GATHER_ABOVE_PER_SECOND = 1000;

interface StepRow {
  pumped: string;
  sent: number;
  pending_id: string | null;
  pending_xid: string | null;
  /** Relayed mode: the position before the step, and the rows passed. */
  pumped_from?: string;
  ids?: string[];
  channels?: string[];
  payloads?: string[];
}

/** Rows of `pgrt.outbox`, drained by `pgrt.outbox_pump`. */
export class OutboxSource implements PumpSource {
  readonly #options: PumpSourceOptions;
  readonly #logger: Logger;
  #barrier: { id: string; xid: string; since: number; warned: boolean } | undefined;
  /** When the last step found work (rows sent or a barrier pending). */
  #activeAt = 0;
  /** When the last step began (performance.now() ms; 0: none yet). */
  #stepAt = 0;
  #delayMs = 0;

  constructor(_db: Database, options: PumpSourceOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  async lead(): Promise<void> {
    this.#barrier = undefined;
    this.#stepAt = 0;
    this.#delayMs = 0;
  }

  async step(client: pg.Client): Promise<PumpStep> {
    const options = this.#options;
    const startedAt = performance.now();
    const sinceLast = this.#stepAt > 0 ? startedAt - this.#stepAt : Number.POSITIVE_INFINITY;
    this.#stepAt = startedAt;
    const barrier = this.#barrier;
    const values = [barrier?.id ?? null, barrier?.xid ?? null, options.thresholdBytes, options.batchRows];
    const result = await client.query<StepRow>(
      options.relayed
        ? 'SELECT pumped, sent, pending_id, pending_xid, pumped_from, ids, channels, payloads FROM pgrt.outbox_step($1::int8, $2::xid8, $3, $4, false)'
        : 'SELECT pumped, sent, pending_id, pending_xid FROM pgrt.outbox_pump($1::int8, $2::xid8, $3, $4)',
      values,
    );
    const row = result.rows[0];
    if (!row) throw new Error('pgrt.outbox_pump returned no row');
    const passed = options.relayed ? this.#passed(row) : undefined;
    if (row.pending_id !== null && row.pending_xid !== null) {
      if (barrier?.id === row.pending_id && barrier.xid === row.pending_xid) {
        const waited = Date.now() - barrier.since;
        if (waited > options.stallWarningMs && !barrier.warned && row.sent === 0) {
          barrier.warned = true;
          this.#logger.warn(
            { waitedMs: waited, xid: barrier.xid },
            'outbox delivery waits for a long-running transaction (xmin held back)',
          );
        }
      } else {
        this.#barrier = { id: row.pending_id, xid: row.pending_xid, since: Date.now(), warned: false };
      }
    } else {
      this.#barrier = undefined;
    }
    const now = Date.now();
    if (row.sent > 0 || this.#barrier) this.#activeAt = now;
    if (row.sent >= options.batchRows) this.#delayMs = 0;
    else if (row.sent > 0 && (row.sent * 1000) / sinceLast >= GATHER_ABOVE_PER_SECOND)
      this.#delayMs = options.gatherMs;
    else if (now - this.#activeAt < BUSY_LINGER_MS) this.#delayMs = options.busyPollMs;
    else this.#delayMs = Math.min(options.idlePollMs, Math.max(options.busyPollMs, this.#delayMs * 2));
    return { sent: row.sent, delayMs: this.#delayMs, ...(passed ? { passed } : {}) };
  }

  /** The rows a relayed step passed, after the position it started from. */
  #passed(row: StepRow): PassedRows {
    const ids = row.ids ?? [];
    const channels = row.channels ?? [];
    const payloads = row.payloads ?? [];
    const through = Number(row.pumped);
    const rows: PassedRow[] = ids.map((id, i) => ({
      id: Number(id),
      channel: channels[i]!,
      payload: payloads[i]!,
    }));
    return { after: Number(row.pumped_from ?? through), through, rows };
  }

  async stop(): Promise<void> {
    this.#barrier = undefined;
  }
}
