/**
 * The pump (capture modes `outbox` and `logical`, DESIGN.md decision 4): moves the changes of its capture mode's
 * {@link PumpSource} — the rows the `outbox` triggers appended (outbox-source.ts), or the WAL decoded through the
 * capture slot (logical/logical-source.ts) — onto NOTIFY, in batched transactions, so that no writer's commit ever
 * takes PostgreSQL's cluster-wide notify lock (reference/perf.md §2: 8 writers 6.8k → ~2k inserts/s with NOTIFY in
 * the trigger). This file holds what both share: the election, the scheduling of steps, and retention.
 *
 * Election. One pump per database: every process runs an OutboxPump, which holds a dedicated connection
 * (`application_name` `pgrt-pump`) and tries `pg_try_advisory_lock` on it every `electionIntervalMs` (default
 * 1 s). The session that holds the lock pumps; when its connection dies the lock is released with it and another
 * process takes over within about one interval. The position lives in `pgrt.outbox_state` and moves in the same
 * transaction as the notifications it covers, so a pump killed mid-batch leaves nothing half done: the batch is
 * rolled back (nothing was notified) and the next pump sends it.
 *
 * The ordering rule (implemented by `pgrt.outbox_step`, core/database/migrations/0010_outbox_prefix.sql). Outbox
 * ids come from a CACHE 1 sequence, so they are handed out in real time order; but neither ids nor xids are commit
 * order: a transaction can hold id 9 while the one holding id 10 commits first. A pump that consumed 10 and moved
 * its position past 9 would skip 9 forever; one that delivered 9 after 10 could undo a newer row. "Consume the rows whose
 * `xid < pg_snapshot_xmin`" alone has both problems: a long transaction T (xid 101, id 9) holds xmin at 101 while
 * T' (xid 100, id 10) is consumed; when T commits its row sits behind the position. The pump therefore sends:
 * 0. at once, the committed rows that follow the position with no id missing (position+1, +2, …): every id up to
 *    the last of them is taken by a committed row, so no transaction can ever commit one below it. Ids are drawn one
 *    per row, so this is every committed row nearly always; a missing id is a running transaction's, or absent for
 *    good (an aborted transaction, a sequence jump after a crash, the gaps of the logical pump's rows). Past a
 *    missing id that a visible row follows, it uses a barrier:
 * 1. it reads L = the last id handed out, then, in a later snapshot, X = the next xid to be assigned. Every
 *    appender takes its xid before it draws its id (pgrt.outbox_append), so every id ≤ L belongs to a transaction
 *    with xid < X;
 * 2. it waits until `pg_snapshot_xmin(pg_current_snapshot()) ≥ X`: no transaction with xid < X is running any
 *    more, so every row with id ≤ L is final, visible if and only if its transaction committed (aborted rows stay
 *    invisible forever; ids of aborted transactions and sequence gaps are simply absent);
 * 3. it notifies the visible rows in (position, L] in id order and sets position = L (or the last id sent when a
 *    batch is cut at `batchRows`; the barrier stays valid for the rest).
 * The consumed set is therefore always a prefix of the id space in which every row is final: no committed row is
 * ever skipped, none is sent twice, and rows go out in id order. Why clients converge: every notification carries
 * the whole row (or the delete), so a client's copy of a row is the last change it received for it. Two
 * transactions that change the same row conflict on its row lock (or on the key's unique index entry): the second
 * one's trigger runs after the first committed, so it draws a higher id than every row of the first. Hence for each
 * row id order is commit order, the last change delivered is the last one committed, and every view converges to
 * the committed table. (TRUNCATE takes an exclusive table lock: same argument.) Only past a missing id does
 * xmin matter: then a long writing transaction anywhere in the cluster (also one that never touches a captured table)
 * delays delivery (never order) until it ends; the pump logs it when the wait exceeds `stallWarningMs`.
 *
 * Latency vs throughput: each source sets its own cadence. outbox-source.ts sleeps while changes are few (below 500
 * changes/s, unless writers crowd in) or none came for 200 ms: the writers' triggers wake it with a NOTIFY, sent only
 * while it sleeps (0008_pump_wake.sql), so a change is pumped as soon as it commits; faster, it is awake and polls (2 ms
 * busy, 10 ms while gathering under load), which keeps the notify lock out of the writers' commits. logical/logical-source.ts follows the stream (one append per `gatherMs`
 * while more than 1,000 changes/s arrive). Either adds one pump transaction (outbox: plus up to one poll interval,
 * and the commit of a transaction holding a lower id) to commit → listener latency (and up to `gatherMs` under
 * load); throughput is that of batched NOTIFY (up to `batchRows` changes per pump transaction, consecutive changes
 * of a channel gathered into one notification of at most `spillThresholdBytes`; perf.md §4.1: ~157k msgs/s at
 * 100 B). A sleeping pump still steps every `asleepCheckMs` (retention, a relay).
 *
 * Retention. The pump deletes rows at least `retentionMs` (default 10 min) after they were notified (it samples the
 * position in `pgrt.outbox_state` every `gcIntervalMs`, whichever source moved it) and advances `deleted_through` in the same transaction; listeners replay gaps from
 * the rows still there (pg-notification-bus.ts) and resync when the rows they need are gone.
 *
 * Background failures go to the logger; nothing here rejects unhandled. After `close()` the lock is released and
 * nothing runs.
 */
import type pg from 'pg';
import type { Database } from '../database/database.js';
import { type Logger, silentLogger } from '../logger.js';
import type { CaptureMode } from './capture-mode.js';
import type { PumpRelay, PumpSource } from './pump-source.js';
import { outboxCapture } from './trigger-capture.js';

/** Advisory lock key of the pump ('pgrtpump' in ASCII), distinct from the DDL lock. */
export const PUMP_LOCK_KEY = BigInt('0x7067727470756d70').toString();

/** Options of {@link OutboxPump}. */
export interface OutboxPumpOptions {
  /** Receives elections, lost connections, stalls and background errors. */
  readonly logger?: Logger;
  /** `application_name` of the pump's connection (default `pgrt-pump`). */
  readonly applicationName?: string;
  /** How often a process that is not the pump tries to become it, in ms (default 1000). */
  readonly electionIntervalMs?: number;
  /** Poll interval while changes flow or a barrier is pending, in ms (default 2; outbox source). */
  readonly busyPollMs?: number;
  /** Longest poll interval when idle but unable to sleep (outbox: a writer's transaction runs), in ms (default 20). */
  readonly idlePollMs?: number;
  /**
   * How often a pump with nothing to do steps all the same, in ms (default 1000): changes wake it (the outbox
   * writers' wake-up, the replication stream), so this only bounds what a missed wake-up could cost and paces
   * retention and a relay while quiet.
   */
  readonly asleepCheckMs?: number;
  /**
   * Poll interval while changes arrive faster than 1,000/s (default 10; at most `busyPollMs` disables it; outbox
   * source): fewer, larger pump transactions under load, at the price of up to this much latency.
   */
  readonly gatherMs?: number;
  /** Most changes (outbox rows, or decoded changes) per pump transaction (default 1000). */
  readonly batchRows?: number;
  /**
   * Notifications hold at most this many bytes; a payload that does not fit alone is sent as `{"p":<id>}` (default
   * 7900; at most 7999).
   */
  readonly spillThresholdBytes?: number;
  /** Rows are deleted this many ms after they were notified (default 600000 = 10 min). */
  readonly retentionMs?: number;
  /** How often retention runs (and the position is sampled for it), in ms (default 5000). */
  readonly gcIntervalMs?: number;
  /** Rows deleted per retention statement (default 50000). */
  readonly gcChunkRows?: number;
  /** A barrier pending longer than this is logged (a long transaction holds delivery back), in ms (default 5000). */
  readonly stallWarningMs?: number;
  /**
   * The capture mode whose changes to pump (default `outbox`): its {@link CaptureMode.pumpSource} — the outbox
   * mode's triggers' rows, or the logical mode's WAL.
   */
  readonly capture?: CaptureMode;
  /**
   * Where the changes go instead of NOTIFY (the NATS bus's relay, core/bus/nats/nats-relay.ts): stepped after each
   * source step while leading, with the rows the step passed (the outbox source notifies nothing then); retention
   * keeps every row it has not relayed.
   */
  readonly relay?: PumpRelay;
}

/** One process's candidate pump. */
export class OutboxPump {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #applicationName: string;
  readonly #electionMs: number;
  readonly #busyMs: number;
  readonly #retentionMs: number;
  readonly #gcIntervalMs: number;
  readonly #gcChunkRows: number;
  readonly #source: PumpSource;
  readonly #relay: PumpRelay | undefined;

  #closed = false;
  #started = false;
  #client: pg.Client | undefined;
  #leading = false;
  #pid: number | undefined;
  /** The next turn, when one is scheduled. */
  #timer: { cancel(): void } | undefined;
  /** When #timer fires (performance.now() ms). */
  #timerDue = 0;
  #running: Promise<void> | undefined;
  #delayMs = 0;
  /** The soonest next step a source asked for while a step ran (ms from when that step ends). */
  #wakeMs = Number.POSITIVE_INFINITY;
  #pumped = 0;
  #sent = 0;
  #steps = 0;
  #deletedThrough = 0;
  #samples: Array<{ at: number; position: number }> = [];
  #lastGc = 0;

  constructor(db: Database, options: OutboxPumpOptions = {}) {
    this.#db = db;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'outbox-pump' });
    this.#applicationName = options.applicationName ?? 'pgrt-pump';
    this.#electionMs = options.electionIntervalMs ?? 1000;
    this.#busyMs = options.busyPollMs ?? 2;
    const idleMs = Math.max(this.#busyMs, options.idlePollMs ?? 20);
    const threshold = options.spillThresholdBytes ?? 7900;
    this.#retentionMs = options.retentionMs ?? 600_000;
    this.#gcIntervalMs = options.gcIntervalMs ?? 5000;
    this.#gcChunkRows = options.gcChunkRows ?? 50_000;
    if (!Number.isInteger(threshold) || threshold < 16 || threshold > 7999) {
      throw new RangeError(`spillThresholdBytes must be an integer in 16..7999, got ${threshold}`);
    }
    if (!(this.#retentionMs >= 0)) throw new RangeError(`retentionMs must be ≥ 0, got ${this.#retentionMs}`);
    const capture = options.capture ?? outboxCapture;
    const source = capture.pumpSource(db, {
      logger: this.#logger,
      applicationName: this.#applicationName,
      batchRows: options.batchRows ?? 1000,
      thresholdBytes: threshold,
      busyPollMs: this.#busyMs,
      gatherMs: Math.max(this.#busyMs, options.gatherMs ?? 10),
      idlePollMs: idleMs,
      asleepCheckMs: Math.max(idleMs, options.asleepCheckMs ?? 1000),
      stallWarningMs: options.stallWarningMs ?? 5000,
      wake: (delayMs) => this.#wake(delayMs),
      relayed: options.relay !== undefined,
    });
    if (!source) throw new RangeError(`capture mode '${capture.name}' has no pump`);
    this.#source = source;
    this.#relay = options.relay;
  }

  /** True while this process is the pump. */
  get leading(): boolean {
    return this.#leading;
  }

  /** The last outbox position this pump saw recorded (0 before it led). */
  get pumpedThrough(): number {
    return this.#pumped;
  }

  /** Source steps this pump took while leading (diagnostics, tests). */
  get steps(): number {
    return this.#steps;
  }

  /** Changes this pump sent (diagnostics, tests). */
  get sent(): number {
    return this.#sent;
  }

  /** Where the changes go instead of NOTIFY, if anywhere (diagnostics, tests). */
  get relay(): PumpRelay | undefined {
    return this.#relay;
  }

  /** Backend pid of the pump's connection while leading (tests, diagnostics). */
  get backendPid(): number | undefined {
    return this.#leading ? this.#pid : undefined;
  }

  /** Starts campaigning (the first attempt runs at once); idempotent. Never rejects: failures are retried. */
  start(): void {
    if (this.#closed) throw new Error('OutboxPump is closed');
    if (this.#started) return;
    this.#started = true;
    this.#schedule(0);
  }

  /** Stops for good: waits for a running step, releases the lock (closes the connection). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    await this.#running?.catch(() => {});
    this.#leading = false;
    await this.#source.stop().catch(() => {});
    await this.#relay?.close().catch(() => {});
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.end().catch(() => {});
  }

  #schedule(delayMs: number): void {
    if (this.#closed || this.#timer) return;
    this.#timerDue = performance.now() + delayMs;
    const turn = (): void => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#wakeMs = Number.POSITIVE_INFINITY;
      const run = this.#tick().catch((error: unknown) => this.#failed(error));
      this.#running = run;
      run
        .finally(() => {
          if (this.#running === run) this.#running = undefined;
          if (!this.#closed) this.#schedule(Math.min(this.#delayMs, this.#wakeMs));
        })
        .catch((error: unknown) => this.#failed(error));
    };
    // Due now: an immediate runs in this turn of the event loop; a 0-ms timer would wait ~1 ms, a wake-up more.
    if (delayMs <= 0) {
      const immediate = setImmediate(turn);
      this.#timer = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(turn, delayMs);
      this.#timer = { cancel: () => clearTimeout(timeout) };
    }
  }

  /**
   * The source asks for a step within `delayMs`: reschedules a later one (never an earlier one); asked while a step
   * runs, the next step comes at most that long after it (the step may have read its source before the news).
   */
  #wake(delayMs: number): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#wakeMs = Math.min(this.#wakeMs, delayMs);
      return;
    }
    if (!this.#timer) return;
    if (this.#timerDue <= performance.now() + delayMs) return;
    this.#timer.cancel();
    this.#timer = undefined;
    this.#schedule(delayMs);
  }

  /** One turn: campaign when not leading, else one source step (and retention when due). Sets the next delay. */
  async #tick(): Promise<void> {
    if (!this.#leading) {
      this.#delayMs = this.#electionMs;
      await this.#campaign();
      if (!this.#leading) return;
    }
    const client = this.#client;
    if (!client) return;
    const step = await this.#source.step(client);
    this.#steps++;
    this.#sent += step.sent;
    this.#delayMs = step.delayMs;
    if (this.#relay && (await this.#relay.step(client, step))) this.#delayMs = 0;
    if (Date.now() - this.#lastGc >= this.#gcIntervalMs) await this.#collect(client);
  }

  async #campaign(): Promise<void> {
    let client = this.#client;
    if (!client) {
      client = await this.#db.connectDedicated({ applicationName: this.#applicationName });
      if (this.#closed) {
        await client.end().catch(() => {});
        return;
      }
      const owned = client;
      owned.on('error', (error) => this.#lost(owned, error));
      owned.on('end', () => this.#lost(owned, undefined));
      this.#client = owned;
    }
    const result = await client.query<{ ok: boolean; pid: number }>(
      'SELECT pg_try_advisory_lock($1::int8) AS ok, pg_backend_pid() AS pid',
      [PUMP_LOCK_KEY],
    );
    if (result.rows[0]?.ok !== true || this.#closed) return;
    const state = await client.query<{ pumped: string; deleted: string }>(
      'SELECT pumped_through AS pumped, deleted_through AS deleted FROM pgrt.outbox_state',
    );
    this.#pid = result.rows[0].pid;
    this.#pumped = Number(state.rows[0]?.pumped ?? 0);
    this.#deletedThrough = Number(state.rows[0]?.deleted ?? 0);
    await this.#source.lead(client);
    await this.#relay?.lead(client);
    // Rows before the takeover were notified by a predecessor at unknown times: count them as notified now.
    this.#samples = [{ at: Date.now(), position: this.#pumped }];
    this.#lastGc = Date.now();
    this.#leading = true;
    this.#delayMs = 0;
    this.#logger.info({ position: this.#pumped, backendPid: this.#pid }, 'became the outbox pump');
  }

  /** Retention: deletes rows notified at least `retentionMs` ago, moving `deleted_through` in the same transaction. */
  async #collect(client: pg.Client): Promise<void> {
    const now = Date.now();
    this.#lastGc = now;
    const state = await client.query<{ pumped: string }>(
      'SELECT pumped_through AS pumped FROM pgrt.outbox_state',
    );
    this.#pumped = Number(state.rows[0]?.pumped ?? this.#pumped);
    this.#samples.push({ at: now, position: this.#pumped });
    let cutoff = this.#deletedThrough;
    while (this.#samples.length > 1 && this.#samples[1]!.at <= now - this.#retentionMs) this.#samples.shift();
    const oldest = this.#samples[0]!;
    if (oldest.at <= now - this.#retentionMs) cutoff = Math.max(cutoff, oldest.position);
    // A relay's transport may be behind: its rows stay (all of them while it does not know where it is).
    if (this.#relay)
      cutoff = Math.min(cutoff, Math.max(this.#deletedThrough, this.#relay.relayedThrough ?? 0));
    while (cutoff > this.#deletedThrough && !this.#closed) {
      const through = Math.min(cutoff, this.#deletedThrough + this.#gcChunkRows);
      await client.query('BEGIN');
      try {
        await client.query('DELETE FROM pgrt.outbox WHERE id > $1 AND id <= $2', [
          this.#deletedThrough,
          through,
        ]);
        await client.query('UPDATE pgrt.outbox_state SET deleted_through = greatest(deleted_through, $1)', [
          through,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      this.#deletedThrough = through;
    }
  }

  #failed(error: unknown): void {
    if (this.#closed) return;
    this.#logger.warn({ err: error, leading: this.#leading }, 'outbox pump step failed');
    this.#delayMs = this.#leading ? this.#busyMs * 10 : this.#electionMs;
    const client = this.#client;
    // A failed connection cannot be trusted to still hold the lock: start over on a new one.
    if (client && connectionBroken(error)) this.#lost(client, error instanceof Error ? error : undefined);
  }

  #lost(client: pg.Client, error: Error | undefined): void {
    if (client !== this.#client) return;
    this.#client = undefined;
    client.removeAllListeners('error');
    client.on('error', () => {});
    client.end().catch(() => {});
    if (this.#leading) this.#logger.warn({ err: error }, 'outbox pump connection lost; stepping down');
    this.#leading = false;
    this.#source
      .stop()
      .catch((stopError: unknown) => this.#logger.warn({ err: stopError }, 'pump source stop failed'));
    this.#relay?.stop().catch(() => {});
    this.#delayMs = this.#electionMs;
  }
}

/**
 * True unless the server reported `error` on a healthy session (then the session, and its lock, survive):
 * client-side errors (connection ended, timeouts) and classes 08 (connection) and 57 (terminated, shutdown).
 */
function connectionBroken(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('severity' in error)) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('08') || code.startsWith('57'));
}
