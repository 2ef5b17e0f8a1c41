/**
 * Writer overhead of change capture (DESIGN.md: the outbox/logical capture keeps ≥ 85% of the baseline insert rate;
 * perf.md §4.2: NOTIFY in the trigger keeps 23–32% with 8 writers, because every notifying commit takes
 * PostgreSQL's cluster-wide notify lock through its WAL flush).
 *
 * pgbench-style single-row INSERTs (autocommit, one row per transaction) into a 5-column table (~180-B
 * payload, as in perf.md §4.2) with 1 and 8 concurrent writers, each for BENCH_SECONDS, under five captures on two
 * PRIVATE embedded PostgreSQL servers of the same version (wal_level can only change with a restart):
 * - on a `wal_level=replica` server: `off` (no trigger: THE baseline), `notify` (pg_notify in the writer's
 *   transaction), `outbox` (outbox triggers, with an OutboxPump draining into batched NOTIFYs during the run);
 * - on a `wal_level=logical` server: `off_logical` (no capture: what the WAL level alone costs) and `logical` (no
 *   trigger; the pump streams the slot and appends to the outbox during the run).
 * So the pump's work on the database is included. A LISTEN connection consumes the notifications (as a server's
 * bus would); its count is printed in the progress lines. The writers are `pgbench` (`-n -M prepared`, script
 * `INSERT …`) when it is on PATH, else a pool of Node `pg` clients doing the same.
 *
 * Pinning (issue 16 item 3, "writers as if the database had its own host"; support/pin-writers.ts): the writers'
 * backends run on CPU 0, everything else — PostgreSQL's other processes (walwriter, checkpointer, walsender, the
 * pump's backend), the pump process, pgbench and this process — on the last CPU, for the baseline and every capture
 * alike (`BENCH_PIN=0`: unpinned). The progress lines say how many writer backends were moved.
 *
 * The captures run interleaved (off, notify, outbox, off_logical, logical, off, …) for `BENCH_ROUNDS` rounds
 * (default 3; 1 with BENCH_QUICK=1), so that drift of the shared machine hits all alike; each figure is the median.
 *
 * Figures: `inserts_<capture>_<writers>w` (inserts/s), `<capture>_vs_off_<writers>w` (ratio to the replica
 * baseline; targets, issue 16: outbox 0.75, logical 0.9, pinned) and `wal_logical_vs_replica_<writers>w`. With a pump,
 * the progress lines also give the CPU each of its processes spent per change appended: the pump's Node process, its PostgreSQL
 * backend (`application_name` pgrt-pump) and, in logical mode, the walsender decoding for it (pgrt-pump-stream).
 * `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile of each pump process there; `BENCH_RATE=<inserts/s>` has pgbench
 * insert at that fixed rate (`--rate`) instead of as fast as it can, so that the CPU per change of variants of the
 * pump compares under the same load.
 *
 * Usage: npx tsx bench/writer-overhead.ts [1] [8] [captures]
 * where captures is a comma-separated subset of off,notify,outbox,off_logical,logical (default all), e.g.
 * `npx tsx bench/writer-overhead.ts 8 off,logical`; ratios whose captures did not run are not reported. Named only:
 * `outbox_nopump` (the outbox triggers with no pump running: the triggers' own share of the outbox mode's cost).
 * Every trigger-outbox case starts from an empty outbox. Each case also prints where the writers and the pump's
 * backend spend their time (`pg_stat_activity` wait events sampled every 20 ms, `CPU` = active, not waiting), the
 * WAL written per insert and the machine's CPU utilisation.
 */
import { execFile, fork } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { ensureLogicalSlot } from '../core/capture/logical/slot.js';
import { PgDatabase } from '../core/database/database.js';
import { startEmbeddedPostgres } from '../core/database/embedded-postgres.js';
import { introspectTable } from '../core/database/introspect.js';
import {
  type CaptureModeName as CaptureMode,
  ensureSchema,
  installCapture,
  removeCapture,
} from '../core/database/schema.js';
import type { TableInfo } from '../core/database/table-info.js';
import { progress, report, sleep } from './support/measure.js';
import {
  pinSelfRest,
  pinServerRest,
  pinWriterBackends,
  REST_CPU,
  WRITERS_CPU,
} from './support/pin-writers.js';
import { processCpuMs } from './support/process-cpu.js';
import { type Knobs, runScenario } from './support/scenario.js';
import { WaitSampler } from './support/wait-sampler.js';

const SCENARIO = 'writer_overhead';
const TABLE = 'bench_writer';
const CHANNEL = 'pgrt_bench_writer';
const INSERT = `INSERT INTO ${TABLE} (a, b, c, d) VALUES (42, 4242, 'the quick brown fox jumps over the lazy dog', now())`;

type Capture = 'off' | 'off_logical' | 'outbox_nopump' | CaptureMode;
const ALL_CAPTURES: readonly Capture[] = ['off', 'notify', 'outbox', 'off_logical', 'logical'];
/** Captures for splitting the cost, run only when named: `outbox_nopump` = outbox triggers with no pump running. */
const EXTRA_CAPTURES: readonly Capture[] = ['outbox_nopump'];

const run = promisify(execFile);

async function hasPgbench(): Promise<boolean> {
  try {
    await run('pgbench', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Inserts/s of `writers` pgbench clients for `seconds`. */
async function pgbenchRate(url: string, writers: number, seconds: number, script: string): Promise<number> {
  const { stdout } = await run(
    'pgbench',
    [
      '-n',
      '-M',
      'prepared',
      '-c',
      String(writers),
      '-j',
      String(writers),
      '-T',
      String(seconds),
      '-f',
      script,
      // BENCH_RATE=<inserts/s>: a fixed load (pgbench --rate), to compare the pump's CPU per change alone.
      ...(process.env.BENCH_RATE ? ['-R', process.env.BENCH_RATE] : []),
      url,
    ],
    { maxBuffer: 1 << 20 },
  );
  const match =
    /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(stdout);
  if (!match) throw new Error(`cannot read pgbench's tps from: ${stdout}`);
  return Number(match[1]);
}

/** Inserts/s of `writers` Node clients for `seconds` (when pgbench is missing). */
async function nodeRate(url: string, writers: number, seconds: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: writers }, async () => {
      const client = new pg.Client(url);
      await client.connect();
      return client;
    }),
  );
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        await client.query({ name: 'bench_writer_insert', text: INSERT });
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return count / elapsed;
}

const pumpScript = fileURLToPath(new URL('./support/pump-process.ts', import.meta.url));

/** An outbox pump running in its own process (as in a pgrt server), not in this one next to the writers. */
async function startPump(
  url: string,
  capture: 'outbox' | 'logical',
): Promise<{ readonly pid: number; stop(): Promise<{ leading: boolean; sent: number; cpuMs: number }> }> {
  const child = fork(pumpScript, [], {
    execArgv: [
      '--import',
      'tsx',
      // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the pump process, written there when it exits.
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ],
    env: {
      ...process.env,
      PUMP_DATABASE_URL: url,
      PUMP_SOURCE: capture === 'logical' ? 'logical' : 'triggers',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const leading = await new Promise<boolean>((resolve, reject) => {
    child.once('message', (message: { op: string; leading: boolean }) => resolve(message.leading));
    child.once('exit', (code) => reject(new Error(`pump process exited (${code})`)));
  });
  return {
    pid: child.pid ?? 0,
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('message', (message: { sent: number; cpuMs: number }) =>
          resolve({ leading, sent: message.sent, cpuMs: message.cpuMs }),
        );
        child.once('exit', (code) => reject(new Error(`pump process exited (${code})`)));
        child.send({ op: 'stop' });
      }),
  };
}

/** The pids of the pump's PostgreSQL processes: its backend and (logical mode) its walsender, by application_name. */
async function pumpBackends(db: PgDatabase): Promise<Map<string, number>> {
  const result = await db.query<{ name: string; pid: number }>(
    "SELECT application_name AS name, pid FROM pg_stat_activity WHERE application_name IN ('pgrt-pump', 'pgrt-pump-stream')",
  );
  return new Map(result.rows.map((row) => [row.name, row.pid]));
}

/** Empties the outbox and marks everything drawn so far as pumped and deleted (no pump may be running). */
async function resetOutbox(db: PgDatabase): Promise<void> {
  await db.query('TRUNCATE pgrt.outbox');
  await db.query(
    `UPDATE pgrt.outbox_state SET pumped_through = last, deleted_through = last
       FROM (SELECT coalesce(pg_sequence_last_value('pgrt.outbox_id_seq'::regclass), 0) AS last) l`,
  );
}

/** A private embedded PostgreSQL for this scenario (settings differ per capture family: see the header). */
async function privateServer(name: string, settings: Record<string, string>): Promise<LogicalPostgresLike> {
  const dir = mkdtempSync(join(tmpdir(), `pgrt-bench-writer-${name}-`));
  chmodSync(dir, 0o755); // postgres runs as the `postgres` user when we are root
  const handle = await startEmbeddedPostgres({ dataDir: join(dir, 'pgdata'), database: 'bench', settings });
  return {
    url: handle.url,
    dataDir: join(dir, 'pgdata'),
    async destroy() {
      await handle.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface LogicalPostgresLike {
  readonly url: string;
  /** The server's data folder (its postmaster.pid: pinning). */
  readonly dataDir: string;
  destroy(): Promise<void>;
}

/** One database the writers insert into, its capture installed or removed per case. */
class Target {
  readonly db: PgDatabase;
  readonly listener: pg.Client;
  heard = 0;
  table!: TableInfo;

  constructor(readonly url: string) {
    this.db = new PgDatabase(url, { poolSize: 2 });
    this.listener = new pg.Client(url);
  }

  async open(): Promise<void> {
    await ensureSchema(this.db);
    await this.db.query(
      `CREATE TABLE IF NOT EXISTS ${TABLE} (id bigserial PRIMARY KEY, a int, b int, c text, d timestamptz)`,
    );
    this.table = await introspectTable(this.db, TABLE);
    await this.listener.connect();
    this.listener.on('notification', () => {
      this.heard++;
    });
    await this.listener.query(`LISTEN ${CHANNEL}`);
  }

  async close(): Promise<void> {
    await removeCapture(this.db, this.table).catch(() => {});
    await this.listener.end().catch(() => {});
    await this.db.close();
  }
}

async function measure(
  knobs: Knobs,
  writersList: readonly number[],
  captures: readonly Capture[],
): Promise<void> {
  const usePgbench = await hasPgbench();
  const script = join(mkdtempSync(join(tmpdir(), 'pgrt-bench-')), 'insert.sql');
  writeFileSync(script, `${INSERT};\n`);
  progress(SCENARIO, 'starting two private PostgreSQL servers (wal_level replica and logical)');
  const replicaServer = await privateServer('replica', {});
  const logicalServer = await privateServer('logical', { wal_level: 'logical' });
  const replica = new Target(replicaServer.url);
  const logical = new Target(logicalServer.url);
  try {
    await replica.open();
    await logical.open();
    // Writer backends on one core, everything else on the other (support/pin-writers.ts).
    const pinned =
      pinSelfRest() && pinServerRest(replicaServer.dataDir) && pinServerRest(logicalServer.dataDir);
    progress(
      SCENARIO,
      pinned
        ? `pinned: writer backends on CPU ${WRITERS_CPU}, PostgreSQL's other processes, the pump and pgbench on CPU ${REST_CPU}`
        : 'not pinned (BENCH_PIN=0, no taskset or one CPU)',
    );
    const seconds = knobs.seconds;
    progress(SCENARIO, `writers: ${usePgbench ? 'pgbench' : 'node pg pool'}, ${seconds} s per case`);
    const rounds = Number(process.env.BENCH_ROUNDS ?? (knobs.quick ? 1 : 3));
    for (const writers of writersList) {
      const samples = new Map<Capture, number[]>(captures.map((c) => [c, []]));
      for (let round = 0; round < rounds; round++) {
        for (const capture of captures) {
          const target = capture === 'off_logical' || capture === 'logical' ? logical : replica;
          const { db, table } = target;
          await db.query(`TRUNCATE ${TABLE}`);
          if (capture === 'off' || capture === 'off_logical') await removeCapture(db, table);
          else
            await installCapture(db, table, {
              channel: CHANNEL,
              mode: capture === 'outbox_nopump' ? 'outbox' : capture,
            });
          if (capture === 'logical') await ensureLogicalSlot(db);
          // Every trigger-outbox case starts from an empty outbox, all of it pumped (no pump runs between cases).
          if (capture === 'outbox' || capture === 'outbox_nopump') await resetOutbox(db);
          const pump =
            capture === 'outbox' || capture === 'logical' ? await startPump(target.url, capture) : undefined;
          await db.query('CHECKPOINT').catch(() => {}); // needs superuser or pg_checkpoint; best effort
          await sleep(300);
          target.heard = 0;
          const backends = pump ? await pumpBackends(db) : new Map<string, number>();
          if (pump) backends.set('pump process', pump.pid);
          const backendCpu = new Map([...backends].map(([name, pid]) => [name, processCpuMs(pid)]));
          const sampler = new WaitSampler(target.url);
          await sampler.start();
          const pinner = usePgbench ? pinWriterBackends(target.url) : undefined;
          const rate = usePgbench
            ? await pgbenchRate(target.url, writers, seconds, script)
            : await nodeRate(target.url, writers, seconds);
          const movedBackends = (await pinner?.stop()) ?? 0;
          const waits = await sampler.stop(rate * seconds);
          await sleep(200);
          for (const [name, pid] of backends)
            backendCpu.set(name, processCpuMs(pid) - (backendCpu.get(name) ?? 0));
          const pumped = await pump?.stop();
          const perChange = (ms: number | undefined) =>
            pumped && pumped.sent > 0 && ms !== undefined
              ? `${((ms * 1000) / pumped.sent).toFixed(1)} µs`
              : '?';
          progress(
            SCENARIO,
            `round ${round + 1}: ${capture} ${writers}w: ${Math.round(rate)} inserts/s; notifications heard ${target.heard}; ` +
              `writer backends pinned ${movedBackends}` +
              (pumped
                ? ` (pump led: ${pumped.leading}, changes appended ${pumped.sent}; CPU per change while writing: pump ` +
                  `process ${perChange(backendCpu.get('pump process'))} (${Math.round(pumped.cpuMs)} ms in all), ` +
                  `its backend ${perChange(backendCpu.get('pgrt-pump'))}` +
                  (capture === 'logical'
                    ? `, walsender ${perChange(backendCpu.get('pgrt-pump-stream'))}`
                    : '') +
                  ')'
                : ''),
          );
          progress(SCENARIO, `round ${round + 1}: ${capture} ${writers}w: ${waits}`);
          samples.get(capture)?.push(rate);
        }
      }
      const rates = new Map<Capture, number>();
      for (const capture of captures) {
        const rate = median(samples.get(capture) ?? []);
        rates.set(capture, rate);
        report({
          scenario: SCENARIO,
          metric: `inserts_${capture}_${writers}w`,
          value: rate,
          unit: 'inserts/s',
          target: null,
          better: 'higher',
          note: `${writers} writer(s), single-row autocommit INSERT, ${usePgbench ? 'pgbench' : 'node pool'}, median of ${rounds} × ${seconds} s: ${(samples.get(capture) ?? []).map(Math.round).join(' / ')}`,
        });
      }
      const baseline = rates.get('off') ?? Number.NaN;
      for (const capture of ['notify', 'outbox', 'outbox_nopump', 'logical'] as const) {
        if (!captures.includes(capture) || !captures.includes('off')) continue;
        report({
          scenario: SCENARIO,
          metric: `${capture}_vs_off_${writers}w`,
          value: (rates.get(capture) ?? Number.NaN) / baseline,
          unit: 'ratio',
          target: capture === 'outbox' ? 0.75 : capture === 'logical' ? 0.9 : null,
          better: 'higher',
          note: `inserts/s with ${capture} capture ÷ without (wal_level=replica), ${writers} writer(s)`,
        });
      }
      if (!captures.includes('off_logical') || !captures.includes('off')) continue;
      report({
        scenario: SCENARIO,
        metric: `wal_logical_vs_replica_${writers}w`,
        value: (rates.get('off_logical') ?? Number.NaN) / baseline,
        unit: 'ratio',
        target: null,
        better: 'higher',
        note: `inserts/s without capture: wal_level=logical ÷ replica (the WAL level's own share of the logical mode's cost), ${writers} writer(s)`,
      });
    }
  } finally {
    await replica.close().catch(() => {});
    await logical.close().catch(() => {});
    await replicaServer.destroy();
    await logicalServer.destroy();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const args = process.argv.slice(2);
const requested = args.map(Number).filter((n) => Number.isInteger(n) && n > 0);
const named = args.filter((arg) => !/^\d+$/.test(arg)).flatMap((arg) => arg.split(','));
const known = [...ALL_CAPTURES, ...EXTRA_CAPTURES];
for (const name of named) {
  if (!known.includes(name as Capture)) throw new Error(`unknown capture ${name} (${known.join(', ')})`);
}
const selected = named.length > 0 ? known.filter((capture) => named.includes(capture)) : ALL_CAPTURES;
// The scenario pins itself (writer backends apart from everything else, support/pin-writers.ts), not the runner.
runScenario(SCENARIO, (knobs) => measure(knobs, requested.length > 0 ? requested : [1, 8], selected), {
  pin: false,
});
