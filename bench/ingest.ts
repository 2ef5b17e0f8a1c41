/**
 * Ingest (perf.md §6): 20k rows/s across two server processes, with gap detection. Two external writers (plain
 * `pg` clients, like other services) each insert `BENCH_INGEST_RATE` rows/s (default 10,000) into `bench_ingest`
 * in multi-row INSERTs every 10 ms; each row carries its writer `w`, a per-writer sequence `seq` (1, 2, …) and the
 * monotonic send time `t`. Two server processes (bench/support/fault-server.ts) on a PRIVATE embedded PostgreSQL;
 * one DDP client on each subscribes to all rows and records, per writer, which sequence numbers arrived.
 * Per capture mode (notify, outbox, logical; the PostgreSQL runs with `wal_level=logical` for all three), for
 * BENCH_SECONDS × 2:
 * `<mode>_written_rows_s` (achieved insert rate), `<mode>_delivered_rows_s` (rows received per client per second,
 * both clients summed / 2), `<mode>_lag_p50_ms` / `_p99_ms` (commit-side send time → `added` at the client),
 * `<mode>_gaps` (sequence numbers committed but never received, both clients; expected 0) and `<mode>_duplicates`;
 * and where the CPU went, in µs per row written (`/proc`, Linux; from the first write until the tail arrived):
 * `<mode>_cpu_server_pump_us_row` (the server process that leads the pump: its pump and its listener side),
 * `_server_listen_` (the other one: listener side only; without a pump the mean of both), `_pg_pump_` (the pump's
 * backend), `_pg_walsender_` (its replication stream), `_pg_listen_` (both LISTEN backends), `_pg_writers_`,
 * `_pg_rest_` (every other PostgreSQL process) and `_bench_` (this process: the two clients and the writers).
 *
 * Usage: npx tsx bench/ingest.ts [notify|outbox|logical]   (no mode: all three)
 * Env: BENCH_INGEST_RATE (rows/s per writer)
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DdpClient } from './support/ddp-client.js';
import { FaultPostgres } from './support/fault-postgres.js';
import { now, progress, report, round, Samples, sleep } from './support/measure.js';
import { childPids, parentPid, processCpuMs } from './support/process-cpu.js';
import { type Knobs, runScenario } from './support/scenario.js';
import { type ServerProcess, startServerProcess } from './support/server-process.js';

const SCENARIO = 'ingest';
const MODES = ['notify', 'outbox', 'logical'] as const;
type Mode = (typeof MODES)[number];
const SCRIPT = fileURLToPath(new URL('./support/fault-server.ts', import.meta.url));
const WRITERS = 2;
const TICK_MS = 10;
/** `application_name` of the writers' connections. */
const WRITER_NAME = 'bench-writer';
/** The CPU stages reported, in µs per row (see the header). */
const STAGES = [
  'server_pump',
  'server_listen',
  'pg_pump',
  'pg_walsender',
  'pg_listen',
  'pg_writers',
  'pg_rest',
  'bench',
] as const;
type Stage = (typeof STAGES)[number];

/** A receiving client: per-writer sequence bitmaps and lag samples. */
class Receiver {
  readonly seen: Uint8Array[] = [];
  readonly lag = new Samples();
  received = 0;
  duplicates = 0;
  firstAt = 0;
  lastAt = 0;

  constructor(
    readonly client: DdpClient,
    capacity: number,
  ) {
    for (let w = 0; w < WRITERS; w++) this.seen.push(new Uint8Array(capacity + 1));
    client.onData = (message) => {
      if (message.msg !== 'added') return;
      const at = now();
      const fields = message.fields as { w: number; seq: string | number; t: number };
      const seq = Number(fields.seq);
      const seen = this.seen[fields.w];
      if (!seen || seq >= seen.length) return;
      if (seen[seq]) this.duplicates++;
      seen[seq] = 1;
      this.received++;
      if (this.firstAt === 0) this.firstAt = at;
      this.lastAt = at;
      this.lag.add(at - fields.t);
    };
  }
}

/**
 * One writer: `rate` rows/s as INSERTs of rate×TICK_MS/1000 rows every TICK_MS (`counts[w]`: rows written so far);
 * resolves to the CPU ms its backend used (read before it ends).
 */
async function write(url: string, w: number, rate: number, until: number, counts: number[]): Promise<number> {
  const client = new pg.Client({ connectionString: url, application_name: WRITER_NAME });
  await client.connect();
  const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
  const cpuBefore = processCpuMs(backend);
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
  let seq = 0;
  let next = now();
  try {
    while (now() < until) {
      const from = seq + 1;
      seq += perTick;
      await client.query(
        'INSERT INTO bench_ingest (w, seq, t) SELECT $1, s, $4 FROM generate_series($2::int8, $3::int8) s',
        [w, from, seq, now()],
      );
      counts[w] = seq;
      next += TICK_MS;
      const wait = next - now();
      if (wait > 0) await sleep(wait);
    }
    return processCpuMs(backend) - cpuBefore;
  } finally {
    await client.end();
  }
}

/** CPU ms used so far per process of the run: the servers, this process and every PostgreSQL process by role. */
interface CpuReading {
  readonly servers: readonly number[];
  readonly bench: number;
  /** PostgreSQL backends by pid, with their application_name; and every PostgreSQL process's CPU. */
  readonly backends: ReadonlyMap<number, { readonly app: string; readonly ms: number }>;
  readonly postgres: ReadonlyMap<number, number>;
}

async function readCpu(monitor: pg.Client, servers: readonly ServerProcess[]): Promise<CpuReading> {
  const activity = await monitor.query<{ pid: number; app: string }>(
    'SELECT pid, application_name AS app FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
  );
  const backends = new Map(
    activity.rows.map((row) => [row.pid, { app: row.app, ms: processCpuMs(row.pid) }]),
  );
  const postgres = new Map<number, number>();
  const postmaster = activity.rows[0] ? parentPid(activity.rows[0].pid) : undefined;
  if (postmaster !== undefined) {
    postgres.set(postmaster, processCpuMs(postmaster));
    for (const pid of childPids(postmaster)) postgres.set(pid, processCpuMs(pid));
  }
  const usage = process.cpuUsage();
  return {
    servers: servers.map((server) => processCpuMs(server.pid)),
    bench: (usage.user + usage.system) / 1000,
    backends,
    postgres,
  };
}

/** CPU ms per stage between two readings; `leader` is the pump's `application_name` (undefined: no pump). */
function cpuByStage(
  before: CpuReading,
  after: CpuReading,
  pumpNames: readonly string[],
  leader: string | undefined,
): Record<Stage, number> {
  const stages = Object.fromEntries(STAGES.map((stage) => [stage, 0])) as Record<Stage, number>;
  const servers = after.servers.map((ms, i) => ms - (before.servers[i] ?? 0));
  const leading = leader === undefined ? -1 : pumpNames.indexOf(leader);
  if (leading >= 0) {
    stages.server_pump = servers[leading] ?? 0;
    stages.server_listen = servers.filter((_, i) => i !== leading).reduce((a, b) => a + b, 0);
  } else {
    stages.server_listen = servers.reduce((a, b) => a + b, 0) / Math.max(1, servers.length);
  }
  stages.bench = after.bench - before.bench;
  let classified = 0;
  for (const [pid, { app, ms }] of after.backends) {
    const used = ms - (before.backends.get(pid)?.ms ?? 0);
    const stage: Stage | undefined =
      app === leader
        ? 'pg_pump'
        : app === `${leader}-stream`
          ? 'pg_walsender'
          : app === 'pgrt-listen'
            ? 'pg_listen'
            : undefined;
    if (!stage) continue;
    stages[stage] += used;
    classified += used;
  }
  let postgres = 0;
  for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
  stages.pg_rest = Math.max(0, postgres - classified);
  return stages;
}

async function runMode(mode: Mode, seconds: number, rate: number): Promise<void> {
  progress(SCENARIO, `${mode}: ${WRITERS} writers × ${rate} rows/s for ${seconds} s`);
  const db = await FaultPostgres.create();
  const servers: ServerProcess[] = [];
  // The pump's application_name in each server process (the pump's leader is found by it).
  const pumpNames = ['pump-a', 'pump-b'];
  try {
    for (const name of pumpNames) {
      servers.push(
        await startServerProcess({
          script: SCRIPT,
          env: { BENCH_DATABASE_URL: db.url, BENCH_CAPTURE: mode, BENCH_PUMP_NAME: name },
        }),
      );
    }
    const capacity = Math.ceil(rate * seconds * 1.5) + 1000;
    const receivers: Receiver[] = [];
    for (const server of servers) {
      const client = await DdpClient.connect(server.url);
      receivers.push(new Receiver(client, capacity));
      await client.subscribe('ingest');
    }
    const monitor = new pg.Client({ connectionString: db.url, application_name: 'bench-monitor' });
    await monitor.connect();
    const counts = new Array<number>(WRITERS).fill(0);
    const cpuBefore = await readCpu(monitor, servers);
    const started = now();
    const until = started + seconds * 1000;
    const writersCpu = await Promise.all(
      Array.from({ length: WRITERS }, (_, w) => write(db.url, w, rate, until, counts)),
    );
    const writtenMs = now() - started;
    const total = counts.reduce((a, b) => a + b, 0);
    // Let the tail arrive (bounded), then count gaps.
    const deadline = now() + 30_000;
    while (now() < deadline && receivers.some((r) => r.received < total)) await sleep(50);
    const cpuAfter = await readCpu(monitor, servers);
    const leader =
      mode === 'notify'
        ? undefined
        : (
            await monitor.query<{ app: string }>(
              `SELECT a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ANY($1)`,
              [pumpNames],
            )
          ).rows[0]?.app;
    await monitor.end();
    const cpu = cpuByStage(cpuBefore, cpuAfter, pumpNames, leader);
    // The writers' backends are gone by now: their CPU was read as they ended.
    cpu.pg_writers = writersCpu.reduce((a, b) => a + b, 0);
    let gaps = 0;
    for (const receiver of receivers) {
      for (let w = 0; w < WRITERS; w++) {
        const seen = receiver.seen[w]!;
        for (let s = 1; s <= (counts[w] ?? 0); s++) if (!seen[s]) gaps++;
      }
    }
    const lag = new Samples();
    for (const r of receivers) for (const v of r.lag.quantiles(0.5, 0.99)) lag.add(v);
    const delivered =
      receivers.reduce((sum, r) => sum + r.received / Math.max(0.001, (r.lastAt - started) / 1000), 0) /
      receivers.length;
    const [p50a, p99a] = receivers[0]!.lag.quantiles(0.5, 0.99);
    const [p50b, p99b] = receivers[1]!.lag.quantiles(0.5, 0.99);
    const note = `${WRITERS} writers × ${rate}/s target, 2 server processes, 1 client each, ${seconds} s, ${total} rows`;
    const fig = (
      metric: string,
      value: number,
      unit: string,
      target: number | null,
      better: 'lower' | 'higher',
    ) =>
      report({
        scenario: SCENARIO,
        metric: `${mode}_${metric}`,
        value: round(value),
        unit,
        target,
        better,
        note,
      });
    fig('written_rows_s', (total / writtenMs) * 1000, 'rows/s', 20_000, 'higher');
    fig('delivered_rows_s', delivered, 'rows/s', null, 'higher');
    fig('lag_p50_ms', Math.max(p50a ?? 0, p50b ?? 0), 'ms', null, 'lower');
    fig('lag_p99_ms', Math.max(p99a ?? 0, p99b ?? 0), 'ms', null, 'lower');
    fig('gaps', gaps, 'rows', 0, 'lower');
    fig(
      'duplicates',
      receivers.reduce((s, r) => s + r.duplicates, 0),
      'rows',
      0,
      'lower',
    );
    for (const stage of STAGES)
      fig(`cpu_${stage}_us_row`, (cpu[stage] * 1000) / Math.max(1, total), 'µs', null, 'lower');
    for (const r of receivers) r.client.close();
  } finally {
    for (const server of servers) await server.close().catch(() => {});
    await db.destroy();
  }
}

async function main(knobs: Knobs): Promise<void> {
  const args = process.argv.slice(2);
  const modes = MODES.filter((m) => args.length === 0 || args.includes(m));
  const rate = Number(process.env.BENCH_INGEST_RATE ?? (knobs.quick ? 2000 : 10_000));
  const seconds = knobs.seconds * 2;
  for (const mode of modes) await runMode(mode, seconds, rate);
}

runScenario(SCENARIO, main);
