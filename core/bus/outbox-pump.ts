/**
 * The outbox pump (capture mode `outbox`, DESIGN.md decision 4): moves the changes that capture triggers appended
 * to `pgrt.outbox` onto NOTIFY, in batched transactions, so that no writer's commit ever takes PostgreSQL's
 * cluster-wide notify lock (reference/perf.md §2: 8 writers 6.8k → ~2k inserts/s with NOTIFY in the trigger).
 *
 * Election. One pump per database: every process runs an OutboxPump, which holds a dedicated connection
 * (`application_name` `pgrt-pump`) and tries `pg_try_advisory_lock` on it every `electionIntervalMs` (default
 * 1 s). The session that holds the lock pumps; when its connection dies the lock is released with it and another
 * process takes over within about one interval. The position lives in `pgrt.outbox_state` and moves in the same
 * transaction as the notifications it covers, so a pump killed mid-batch leaves nothing half done: the batch is
 * rolled back (nothing was notified) and the next pump sends it.
 *
 * The ordering rule (implemented by `pgrt.outbox_pump`, core/database/schema.ts). Outbox ids come from a CACHE 1
 * sequence, so they are handed out in real time order; but neither ids nor xids are commit order: a transaction
 * can hold id 9 while the one holding id 10 commits first. A pump that consumed 10 and moved its position past 9
 * would skip 9 forever; one that delivered 9 after 10 could undo a newer row. "Consume the rows whose
 * `xid < pg_snapshot_xmin`" alone has both problems: a long transaction T (xid 101, id 9) holds xmin at 101 while
 * T' (xid 100, id 10) is consumed; when T commits its row sits behind the position. So the pump uses a barrier:
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
 * the committed table. (TRUNCATE takes an exclusive table lock: same argument.) Transactions that never touch a
 * captured table still hold xmin back while they run: a long writing transaction anywhere in the cluster delays
 * delivery (never order) until it ends; the pump logs it when the wait exceeds `stallWarningMs`.
 *
 * Latency vs throughput. The pump polls: every `busyPollMs` (default 2 ms) while rows flow or a barrier is pending
 * and for 200 ms after, then backs off by doubling to `idlePollMs` (default 20 ms); a full batch is followed at once
 * by the next. While rows arrive faster than {@link GATHER_ABOVE_PER_SECOND} it polls every `gatherMs` (default
 * 10 ms) instead: a step costs about the same CPU whatever it carries, and on a database's machine that CPU is the
 * writers'. A step that sends everything up to its barrier takes the next barrier at once (`pgrt.outbox_pump`), so
 * that under a steady flow every step sends. (The logical source's pump does not poll for changes: it appends what
 * the stream delivered, at most once per {@link LOGICAL_STEP_MS} = 5 ms while transactions keep coming, at once
 * after a quiet spell.)
 * Delivery therefore costs the writers nothing and adds about one or two poll intervals plus the longest
 * concurrent transaction to commit → listener latency (an idle system: up to `idlePollMs`); throughput is that of
 * batched NOTIFY (up to `batchRows` rows per pump transaction, consecutive rows of a channel gathered into one
 * notification of at most `spillThresholdBytes`: a JSON array of the per-row payloads; perf.md §4.1: ~157k msgs/s
 * at 100 B). A per-transaction NOTIFY "wake-up" from the trigger was not used: it would put the notify lock back
 * into every writer's commit.
 *
 * Retention. The pump deletes rows at least `retentionMs` (default 10 min) after it notified them (it samples its
 * position every `gcIntervalMs`) and advances `deleted_through` in the same transaction; listeners replay gaps from
 * the rows still there (pg-notification-bus.ts) and resync when the rows they need are gone.
 *
 * Background failures go to the logger; nothing here rejects unhandled. After `close()` the lock is released and
 * nothing runs.
 */
import type pg from 'pg';
import type { Database } from '../database/database.js';
import { type Logger, silentLogger } from '../logger.js';
import {
  type CapturedTable,
  type DecodedTransaction,
  ensureLogicalSlot,
  LogicalStream,
  logicalAppendQuery,
  readCapturedTables,
} from './logical-source.js';
import { formatLsn, parseLsn } from './pgoutput.js';

/** Advisory lock key of the pump ('pgrtpump' in ASCII), distinct from the DDL lock. */
export const PUMP_LOCK_KEY = BigInt('0x7067727470756d70').toString();

/** How long the pump keeps polling at `busyPollMs` after the last work before it backs off, in ms. */
const BUSY_LINGER_MS = 200;

/**
 * Changes per second above which the trigger-source pump polls every `gatherMs` instead of every `busyPollMs`. Each
 * step costs about the same whatever it carries (a round trip, a plpgsql call, a commit with its WAL flush and the
 * notify lock, wake-ups of the pump and its backend). bench/writer-overhead.ts at 2,000 changes/s, pump process and
 * backend together: ~145–165 µs of CPU per change with 2-ms steps (every other one only taking a barrier), ~120
 * with the barrier taken by the sending step, ~80 with 10-ms gathering (~55 at 20 ms): CPU the writers share. Above this
 * rate gathering saves that CPU for the writers; below it the latency is worth more.
 */
export const GATHER_ABOVE_PER_SECOND = 1000;

/** Options of {@link OutboxPump}. */
export interface OutboxPumpOptions {
  /** Receives elections, lost connections, stalls and background errors. */
  readonly logger?: Logger;
  /** `application_name` of the pump's connection (default `pgrt-pump`). */
  readonly applicationName?: string;
  /** How often a process that is not the pump tries to become it, in ms (default 1000). */
  readonly electionIntervalMs?: number;
  /** Poll interval while changes flow or a barrier is pending, in ms (default 2). */
  readonly busyPollMs?: number;
  /** Longest poll interval when idle, in ms (default 20). */
  readonly idlePollMs?: number;
  /**
   * Poll interval while changes arrive faster than {@link GATHER_ABOVE_PER_SECOND} (default 10; at most `busyPollMs`
   * disables it): fewer, larger pump transactions under load, at the price of up to this much latency.
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
   * Where the changes come from: `triggers` (capture mode `outbox`: rows the triggers appended) or `logical`
   * (capture mode `logical`: the WAL, decoded through the capture slot; logical-source.ts). Default `triggers`.
   */
  readonly source?: 'triggers' | 'logical';
}

/** Logical source: bounds of the backoff between attempts to reopen a failing replication stream, in ms. */
const REOPEN_MIN_MS = 100;
const REOPEN_MAX_MS = 5000;

/**
 * Logical source: least time between the starts of two appends while transactions keep arriving, in ms. Each append costs a statement, a commit (a WAL flush) and round trips, and each
 * wake-up of the pump, its backend and the walsender costs far more CPU than decoding a change: under a stream of
 * one-row transactions (bench/writer-overhead.ts) gathering them adds at most this much latency and saves much of the
 * pump's CPU. A transaction arriving after a quiet spell is appended at once.
 */
const LOGICAL_STEP_MS = 5;

/** Logical source: decoded changes queued beyond this many pause the replication stream until the pump catches up. */
const LOGICAL_QUEUE_HIGH_WATER = 100_000;

interface StepRow {
  pumped: string;
  sent: number;
  pending_id: string | null;
  pending_xid: string | null;
}

/** One process's candidate pump. */
export class OutboxPump {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #applicationName: string;
  readonly #electionMs: number;
  readonly #busyMs: number;
  readonly #idleMs: number;
  readonly #gatherPollMs: number;
  readonly #batchRows: number;
  readonly #threshold: number;
  readonly #retentionMs: number;
  readonly #gcIntervalMs: number;
  readonly #gcChunkRows: number;
  readonly #stallMs: number;
  readonly #source: 'triggers' | 'logical';

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
  #barrier: { id: string; xid: string; since: number; warned: boolean } | undefined;
  #pumped = 0;
  #sent = 0;
  #deletedThrough = 0;
  #samples: Array<{ at: number; position: number }> = [];
  #lastGc = 0;
  /** When the last step found work (rows sent or a barrier pending). */
  #activeAt = 0;
  /** When the last trigger-source step began (performance.now() ms; 0: none yet). */
  #stepAt = 0;
  /** Logical source: the stream (while leading), its decoded transactions not yet appended, and their change count. */
  #stream: LogicalStream | undefined;
  #queue: DecodedTransaction[] = [];
  #queuedChanges = 0;
  #paused = false;
  /** Logical source: commit LSNs up to here were appended by an earlier pump (skip them when re-sent). */
  #skipThrough = 0n;
  /** Logical source: no new stream before this time (Date.now() ms), and the next backoff step. */
  #reopenAt = 0;
  #reopenDelayMs = REOPEN_MIN_MS;
  #tables = new Map<string, CapturedTable>();
  /** Logical source: when the last append began (performance.now() ms). */
  #appendedAt = Number.NEGATIVE_INFINITY;

  constructor(db: Database, options: OutboxPumpOptions = {}) {
    this.#db = db;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'outbox-pump' });
    this.#applicationName = options.applicationName ?? 'pgrt-pump';
    this.#electionMs = options.electionIntervalMs ?? 1000;
    this.#busyMs = options.busyPollMs ?? 2;
    this.#idleMs = Math.max(this.#busyMs, options.idlePollMs ?? 20);
    this.#gatherPollMs = Math.max(this.#busyMs, options.gatherMs ?? 10);
    this.#batchRows = options.batchRows ?? 1000;
    this.#threshold = options.spillThresholdBytes ?? 7900;
    this.#retentionMs = options.retentionMs ?? 600_000;
    this.#gcIntervalMs = options.gcIntervalMs ?? 5000;
    this.#gcChunkRows = options.gcChunkRows ?? 50_000;
    this.#stallMs = options.stallWarningMs ?? 5000;
    this.#source = options.source ?? 'triggers';
    if (!Number.isInteger(this.#threshold) || this.#threshold < 16 || this.#threshold > 7999) {
      throw new RangeError(`spillThresholdBytes must be an integer in 16..7999, got ${this.#threshold}`);
    }
    if (!(this.#retentionMs >= 0)) throw new RangeError(`retentionMs must be ≥ 0, got ${this.#retentionMs}`);
  }

  /** True while this process is the pump. */
  get leading(): boolean {
    return this.#leading;
  }

  /** The last outbox position this pump recorded (0 before it led). */
  get pumpedThrough(): number {
    return this.#pumped;
  }

  /** Notifications this pump sent (diagnostics, tests). */
  get sent(): number {
    return this.#sent;
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
    await this.#stopStream();
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
      const run = this.#tick().catch((error: unknown) => this.#failed(error));
      this.#running = run;
      void run.finally(() => {
        if (this.#running === run) this.#running = undefined;
        if (!this.#closed) this.#schedule(this.#delayMs);
      });
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

  /** One turn: campaign when not leading, else one pump step (and retention when due). Sets the next delay. */
  async #tick(): Promise<void> {
    if (!this.#leading) {
      this.#delayMs = this.#electionMs;
      await this.#campaign();
      if (!this.#leading) return;
    }
    const client = this.#client;
    if (!client) return;
    if (this.#source === 'logical') await this.#stepLogical(client);
    else await this.#step(client);
    if (Date.now() - this.#lastGc >= this.#gcIntervalMs) await this.#collect(client);
  }

  /**
   * One step of the logical source: (re)opens the stream when there is none, then appends the queued transactions
   * (up to `batchRows` changes) in one `pgrt.logical_append` and acknowledges their LSN. `busyPollMs` does not apply:
   * steps follow the stream ({@link LOGICAL_STEP_MS}).
   */
  async #stepLogical(client: pg.Client): Promise<void> {
    if (!this.#stream) {
      const wait = this.#reopenAt - Date.now();
      if (wait > 0) {
        this.#delayMs = Math.min(wait, this.#idleMs * 10);
        return;
      }
      await this.#openStream(client);
      this.#delayMs = this.#idleMs;
      return;
    }
    // The batch leaves the queue only once appended: a failed step retries the same transactions.
    let size = 0;
    let changes = 0;
    while (size < this.#queue.length && (size === 0 || changes < this.#batchRows)) {
      changes += this.#queue[size]!.changes.length;
      size++;
    }
    const batch = this.#queue.slice(0, size);
    if (batch.length > 0) {
      this.#appendedAt = performance.now();
      const fresh = batch.filter((transaction) => transaction.endLsn > this.#skipThrough);
      const unknown = fresh.some((transaction) =>
        transaction.changes.some(
          (change) => change.kind === 'row' && !this.#tables.has(change.relation.table),
        ),
      );
      if (unknown) this.#tables = await readCapturedTables(this.#db);
      const endLsn = batch[batch.length - 1]!.endLsn;
      const query = logicalAppendQuery(fresh, this.#tables, this.#threshold);
      if (query) {
        query.values[0] = formatLsn(endLsn);
        const result = await client.query<{ appended: number }>({
          text: query.text,
          values: query.values,
          ...(query.name ? { name: query.name } : {}),
        });
        const appended = result.rows[0]?.appended ?? 0;
        if (appended > 0) {
          this.#sent += appended;
          this.#activeAt = Date.now();
        }
        if (endLsn > this.#skipThrough) this.#skipThrough = endLsn;
      }
      this.#queue.splice(0, size);
      this.#queuedChanges -= changes;
      if (this.#paused && this.#queuedChanges < LOGICAL_QUEUE_HIGH_WATER / 2) {
        this.#paused = false;
        this.#stream?.resume();
      }
      this.#stream?.confirm(endLsn, batch.length);
    }
    this.#delayMs =
      this.#queuedChanges >= this.#batchRows ? 0 : this.#queue.length > 0 ? this.#gatherMs() : this.#idleMs;
  }

  /**
   * Logical source: how long to let transactions gather before the next append: until {@link LOGICAL_STEP_MS} after
   * the previous one began (0 within a ms of it: timers are no finer), at once for a full batch.
   */
  #gatherMs(): number {
    if (this.#queuedChanges >= this.#batchRows) return 0;
    const wait = this.#appendedAt + LOGICAL_STEP_MS - performance.now();
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
      applicationName: `${this.#applicationName}-stream`,
      logger: this.#logger,
      // Read the stream once per append: the walsender's messages gather in the socket meanwhile.
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
        this.#wake();
      },
      onEnd: (error) => {
        if (stream !== this.#stream) return;
        this.#stream = undefined;
        if (this.#closed) return;
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
      },
    });
    if (this.#closed || !this.#leading) {
      await stream.close();
      return;
    }
    this.#stream = stream;
    this.#logger.info({ slot, from: decoded ?? 'slot start' }, 'streaming the capture slot');
  }

  async #stopStream(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#queue = [];
    this.#queuedChanges = 0;
    await stream?.close();
  }

  /**
   * The stream delivered a transaction: step at once if the previous append began at least {@link LOGICAL_STEP_MS}
   * ago (or a full batch is queued), else when it is that old, instead of after the idle delay. The wait gathers the
   * transactions of a busy stream into one pump transaction (one statement, one WAL flush) instead of one each; a
   * pending earlier step is never postponed.
   */
  #wake(): void {
    if (this.#closed || this.#running || !this.#timer) return;
    const delay = this.#gatherMs();
    if (this.#timerDue <= performance.now() + delay) return;
    this.#timer.cancel();
    this.#timer = undefined;
    this.#schedule(delay);
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
    this.#barrier = undefined;
    // Rows before the takeover were notified by a predecessor at unknown times: count them as notified now.
    this.#samples = [{ at: Date.now(), position: this.#pumped }];
    this.#lastGc = Date.now();
    this.#leading = true;
    this.#delayMs = 0;
    this.#logger.info({ position: this.#pumped, backendPid: this.#pid }, 'became the outbox pump');
  }

  async #step(client: pg.Client): Promise<void> {
    const startedAt = performance.now();
    const sinceLast = this.#stepAt > 0 ? startedAt - this.#stepAt : Number.POSITIVE_INFINITY;
    this.#stepAt = startedAt;
    const barrier = this.#barrier;
    const result = await client.query<StepRow>(
      'SELECT pumped, sent, pending_id, pending_xid FROM pgrt.outbox_pump($1::int8, $2::xid8, $3, $4)',
      [barrier?.id ?? null, barrier?.xid ?? null, this.#threshold, this.#batchRows],
    );
    const row = result.rows[0];
    if (!row) throw new Error('pgrt.outbox_pump returned no row');
    this.#pumped = Number(row.pumped);
    this.#sent += row.sent;
    if (row.pending_id !== null && row.pending_xid !== null) {
      if (barrier?.id === row.pending_id && barrier.xid === row.pending_xid) {
        const waited = Date.now() - barrier.since;
        if (waited > this.#stallMs && !barrier.warned && row.sent === 0) {
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
    if (row.sent >= this.#batchRows) this.#delayMs = 0;
    else if (row.sent > 0 && (row.sent * 1000) / sinceLast >= GATHER_ABOVE_PER_SECOND)
      this.#delayMs = this.#gatherPollMs;
    else if (now - this.#activeAt < BUSY_LINGER_MS) this.#delayMs = this.#busyMs;
    else this.#delayMs = Math.min(this.#idleMs, Math.max(this.#busyMs, this.#delayMs * 2));
  }

  /** Retention: deletes rows notified at least `retentionMs` ago, moving `deleted_through` in the same transaction. */
  async #collect(client: pg.Client): Promise<void> {
    const now = Date.now();
    this.#lastGc = now;
    this.#samples.push({ at: now, position: this.#pumped });
    let cutoff = this.#deletedThrough;
    while (this.#samples.length > 1 && this.#samples[1]!.at <= now - this.#retentionMs) this.#samples.shift();
    const oldest = this.#samples[0]!;
    if (oldest.at <= now - this.#retentionMs) cutoff = Math.max(cutoff, oldest.position);
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
    this.#barrier = undefined;
    void this.#stopStream();
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
