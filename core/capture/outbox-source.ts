/**
 * The `outbox` capture mode's pump source: the rows its triggers appended to `pgrt.outbox`, notified by
 * `pgrt.outbox_step` calls (0010_outbox_prefix.sql) in id order (outbox-pump.ts explains the ordering rule). Each step
 * is one call of a statement prepared once: it notifies up to `batchRows` committed rows past the position that no
 * missing id precedes (past a missing id: once a barrier says it is final, taking or checking the barrier) and moves
 * the position in the same transaction.
 *
 * Cadence. Asleep (0008_pump_wake.sql), the pump holds the session advisory lock {@link WAKE_LOCK_KEY} and waits for a
 * notification on {@link WAKE_CHANNEL}, which every appender that finds the lock taken sends at its commit; so a change
 * is pumped as soon as it commits, and a quiet pump costs one step per `asleepCheckMs` (default 1 s). While fewer than
 * {@link WAKE_BELOW_PER_SECOND} changes per second arrive it stays asleep as it works (a wake-up per commit, as cheap as
 * `notify` mode's NOTIFY at that rate). Faster, or when {@link CROWDED_WAKES} or more wake-ups queue up for one step
 * (many writers, whose commits the notify lock serialises, so that the rate alone would never climb past the threshold),
 * it releases the lock, so writers notify nothing, and polls: every `busyPollMs` (default 2 ms) while rows flow or a barrier is pending
 * and for 200 ms after; a full batch is followed at once by the next; while rows arrive faster than
 * {@link GATHER_ABOVE_PER_SECOND} every `gatherMs` (default 10 ms) instead: a step costs about the same CPU whatever it
 * carries, and on a database's machine that CPU is the writers'. Once the rate falls below the threshold (and writers
 * have not crowded in for {@link CROWDED_HOLD_MS}) it falls asleep again: it takes the lock, steps once more, and waits. When the lock cannot be had (an appender's transaction
 * is running) the pump keeps polling, every `busyPollMs` for 200 ms after the last change, then backing off by
 * doubling to `idlePollMs` (default 20 ms).
 */
import type pg from 'pg';
import type { Database } from '../database/database.js';
import type { Logger } from '../logger.js';
import {
  GATHER_ABOVE_PER_SECOND,
  type PumpSource,
  type PumpSourceOptions,
  type PumpStep,
  passedRows,
} from './pump-source.js';

/** How long the pump keeps polling at `busyPollMs` after the last work before it backs off, in ms. */
const BUSY_LINGER_MS = 200;

/**
 * Changes per second below which the pump stays asleep while it works: it keeps the wake lock, so every appender
 * wakes it at its commit and a change is pumped as soon as it commits, instead of at the next poll (up to
 * `busyPollMs` plus a step later). Each such commit takes PostgreSQL's notify lock, as in `notify` mode: cheap at
 * this rate, a bottleneck for many writers (reference/perf.md §2: ~2k commits/s for 8 writers), so above it the pump
 * releases the lock and polls.
 */
export const WAKE_BELOW_PER_SECOND = 500;

/** The rate of {@link WAKE_BELOW_PER_SECOND} is measured over windows of at least this many ms. */
const RATE_WINDOW_MS = 100;

/**
 * Wake-ups queued for one step from which an asleep pump counts its writers as crowding in: each wake-up is one
 * appender's commit, and several of them between two steps mean commits come faster than the pump's steps, whatever
 * rate it delivers. Asleep, every commit takes PostgreSQL's notify lock, which serialises many writers' commits and so
 * caps the delivered rate itself (8 writers on a loaded machine: ~150/s): by the rate alone, the pump would stay
 * asleep and keep them serialised.
 */
const CROWDED_WAKES = 3;

/** How long a pump that woke because writers crowded in stays awake (polling) while changes flow, in ms. */
const CROWDED_HOLD_MS = 1_000;

/** Advisory lock key a sleeping pump holds ('pgrtwake' in ASCII; 0008_pump_wake.sql tries it shared). */
export const WAKE_LOCK_KEY = BigInt('0x7067727477616b65').toString();

/** Channel on which appenders wake a sleeping pump. */
export const WAKE_CHANNEL = 'pgrt_pump_wake';

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

/** Rows of `pgrt.outbox`, drained by `pgrt.outbox_step`. */
export class OutboxSource implements PumpSource {
  readonly #options: PumpSourceOptions;
  readonly #logger: Logger;
  #barrier: { id: string; xid: string; since: number; warned: boolean } | undefined;
  /** When the last step found work (rows sent or a barrier pending). */
  #activeAt = Number.NEGATIVE_INFINITY;
  /** When the last step began (performance.now() ms; 0: none yet). */
  #stepAt = 0;
  #delayMs = 0;
  /** The pump's connection while leading (it LISTENs on WAKE_CHANNEL), and whether it holds WAKE_LOCK_KEY. */
  #client: pg.Client | undefined;
  #asleep = false;
  /** Wake-up notifications received (a step that saw one arrive does not fall asleep). */
  #wakes = 0;
  /** {@link #wakes} when the last step began, and when writers last crowded in ({@link CROWDED_WAKES}; performance.now() ms). */
  #wakesAtStep = 0;
  #crowdedAt = Number.NEGATIVE_INFINITY;
  /** Changes per second sent over the last rate window, and the window in progress (performance.now() ms, changes). */
  #rate = 0;
  #windowAt = 0;
  #windowCount = 0;
  readonly #onNotification = (message: pg.Notification): void => {
    if (message.channel !== WAKE_CHANNEL) return;
    this.#wakes++;
    this.#options.wake(0);
  };

  constructor(_db: Database, options: PumpSourceOptions) {
    this.#options = options;
    this.#logger = options.logger;
  }

  async lead(client: pg.Client): Promise<void> {
    this.#barrier = undefined;
    this.#stepAt = 0;
    this.#delayMs = 0;
    this.#asleep = false;
    this.#wakesAtStep = this.#wakes;
    this.#crowdedAt = Number.NEGATIVE_INFINITY;
    this.#client = client;
    client.on('notification', this.#onNotification);
    await client.query(`LISTEN ${WAKE_CHANNEL}`);
    // A notifying step's transaction only moves the position: one lost in a crash is redone by the next pump, and
    // listeners drop by position what they already had. So it does not wait for its WAL flush, which would add the
    // disk's flush time to every delivery and one more flush to the writers' queue (retention's deletes are redone
    // alike). A relayed step's rows are published after it commits: that stays as it was (synchronous).
    if (!this.#options.relayed) await client.query('SET synchronous_commit = off');
  }

  async step(client: pg.Client): Promise<PumpStep> {
    const options = this.#options;
    const wakes = this.#wakes;
    const queued = wakes - this.#wakesAtStep;
    this.#wakesAtStep = wakes;
    const startedAt = performance.now();
    const sinceLast = this.#stepAt > 0 ? startedAt - this.#stepAt : Number.POSITIVE_INFINITY;
    this.#stepAt = startedAt;
    const barrier = this.#barrier;
    const values = [barrier?.id ?? null, barrier?.xid ?? null, options.thresholdBytes, options.batchRows];
    // Prepared once per connection (named): a step is parsed and planned once, not at every poll.
    const result = await client.query<StepRow>(
      options.relayed
        ? {
            name: 'pgrt_outbox_step_relayed',
            text: 'SELECT pumped, sent, pending_id, pending_xid, pumped_from, ids, channels, payloads FROM pgrt.outbox_step($1::int8, $2::xid8, $3, $4, false)',
            values,
          }
        : {
            name: 'pgrt_outbox_step',
            text: 'SELECT pumped, sent, pending_id, pending_xid FROM pgrt.outbox_step($1::int8, $2::xid8, $3, $4, true)',
            values,
          },
    );
    const row = result.rows[0];
    if (!row) throw new Error('pgrt.outbox_step returned no row');
    const passed = options.relayed
      ? passedRows(row.pumped_from, row.pumped, row.ids, row.channels, row.payloads)
      : undefined;
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
    const now = performance.now(); // a monotonic clock: a wall-clock step must not bend the rate or the holds
    const fast = this.#observeRate(row.sent, now) >= WAKE_BELOW_PER_SECOND;
    if (this.#asleep && queued >= CROWDED_WAKES) this.#crowdedAt = now;
    const busy = fast || now - this.#crowdedAt < CROWDED_HOLD_MS;
    // A wake-up that arrived during the step may be for a row its barrier did not cover yet.
    const found = row.sent > 0 || this.#barrier !== undefined || this.#wakes !== wakes;
    if (found) this.#activeAt = now;
    if (found && this.#asleep && busy) {
      // Woken with work to do, and changes come fast or writers crowd in: writers stop notifying from here on.
      await client.query('SELECT pg_advisory_unlock($1::int8)', [WAKE_LOCK_KEY]);
      this.#asleep = false;
    }
    if (row.sent >= options.batchRows) this.#delayMs = 0;
    // Asleep (the writers' commits wake it): only a pending barrier is polled.
    else if (this.#asleep) this.#delayMs = this.#barrier ? options.busyPollMs : options.asleepCheckMs;
    else if (row.sent > 0 && (row.sent * 1000) / sinceLast >= GATHER_ABOVE_PER_SECOND)
      this.#delayMs = options.gatherMs;
    else if (busy && now - this.#activeAt < BUSY_LINGER_MS) this.#delayMs = options.busyPollMs;
    else if (await this.#fallAsleep(client)) this.#delayMs = 0;
    // An appender's transaction holds the lock shared: poll on, at once while changes came lately.
    else if (now - this.#activeAt < BUSY_LINGER_MS) this.#delayMs = options.busyPollMs;
    else this.#delayMs = Math.min(options.idlePollMs, Math.max(options.busyPollMs, this.#delayMs * 2));
    return { sent: row.sent, delayMs: this.#delayMs, ...(passed ? { passed } : {}) };
  }

  /** Counts `sent` changes; resolves the rate (changes/s) over the last window of at least {@link RATE_WINDOW_MS}. */
  #observeRate(sent: number, now: number): number {
    this.#windowCount += sent;
    const elapsed = now - this.#windowAt;
    if (elapsed >= RATE_WINDOW_MS) {
      this.#rate = (this.#windowCount * 1000) / elapsed;
      this.#windowAt = now;
      this.#windowCount = 0;
    }
    return this.#rate;
  }

  /**
   * Takes the wake lock (appenders notify from now on); the next step, at once, reads the sequence after it and stays
   * asleep if it finds nothing. False while an appender's transaction holds the lock shared.
   */
  async #fallAsleep(client: pg.Client): Promise<boolean> {
    const result = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::int8) AS ok', [
      WAKE_LOCK_KEY,
    ]);
    this.#asleep = result.rows[0]?.ok === true;
    return this.#asleep;
  }

  async stop(): Promise<void> {
    this.#barrier = undefined;
    // The lock and the LISTEN go with the connection (the pump ends it when leadership ends).
    this.#asleep = false;
    this.#client?.off('notification', this.#onNotification);
    this.#client = undefined;
  }
}
