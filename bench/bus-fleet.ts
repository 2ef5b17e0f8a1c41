/**
 * `npm run bench -- bus-fleet`: a fleet of N pgrt cores receiving the changes of one table through the PostgreSQL
 * bus (LISTEN/NOTIFY, one LISTEN connection per core) and through the NATS bus (the pump relays the outbox to
 * JetStream, each core consumes its table's subject), with one pump, in capture `outbox` (triggers append, the pump
 * notifies or relays) and/or `logical` (the pump decodes the WAL and appends; on the NATS bus its append hands the
 * rows to the relay, no pg_notify). A writer inserts at a fixed rate for BENCH_SECONDS; each core counts the changes
 * it receives and their latency (the row carries its `clock_timestamp()`; same machine, same clock).
 *
 * Figures per bus and fleet size: delivered changes/s (all cores together, first write to last delivery), PostgreSQL
 * CPU per change written (user + system time of every backend of the bench's database: the LISTEN backends, the
 * pump's, the writer's; from /proc, Linux), the NATS server's CPU per change, this process's CPU per delivered change,
 * and the latency p50/p99 (ms). The cores run in THIS process (one event loop, each with its own bus connection and
 * database pool): it is the bus's cost that differs, and a 2-core machine cannot host 8 real processes plus
 * PostgreSQL, NATS and a writer without the figures measuring the scheduler. Env: BENCH_SECONDS (default 4),
 * BENCH_FLEET (default 1,2,4,8), BENCH_RATE (rows/s, default 1000), BENCH_NATS_URL (default 127.0.0.1:4222),
 * BENCH_CAPTURE (`outbox`, `logical` or `outbox,logical`; default outbox), DATABASE_URL (a server where databases
 * can be created; default postgres@127.0.0.1:5432). Logical capture needs `wal_level=logical`: when BENCH_CAPTURE
 * names it and DATABASE_URL's server has another level, every capture of the run (outbox too, so the two compare
 * on one server) runs on a private embedded PostgreSQL started with `wal_level=logical`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { App } from '../core/app.js';
import type { ChangeBus } from '../core/bus/change-bus.js';
import { NatsChangeBus } from '../core/bus/nats/nats-change-bus.js';
import { PgNotificationBus } from '../core/bus/pg-notification-bus.js';
import { PgDatabase } from '../core/database/database.js';
import { startEmbeddedPostgres } from '../core/database/embedded-postgres.js';
import { RealtimeCore } from '../core/realtime-core.js';
import { now, progress, report, Samples, sleep, waitFor } from './support/measure.js';
import { processCpuMs } from './support/process-cpu.js';

const SCENARIO = 'bus-fleet';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const FLEET = (process.env.BENCH_FLEET ?? '1,2,4,8').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const CAPTURES = (process.env.BENCH_CAPTURE ?? 'outbox').split(',').map(parseCapture);
const TABLE = 'fleet_rows';
const TICK_MS = 10;

type BusName = 'postgres' | 'nats';
type Capture = 'outbox' | 'logical';

function parseCapture(name: string): Capture {
  if (name === 'outbox' || name === 'logical') return name;
  throw new Error(`BENCH_CAPTURE: '${name}' is not outbox or logical`);
}

interface Run {
  readonly bus: BusName;
  readonly capture: Capture;
  readonly size: number;
  readonly written: number;
  readonly delivered: number;
  readonly seconds: number;
  readonly pgCpuMs: number;
  readonly natsCpuMs: number;
  readonly nodeCpuMs: number;
  readonly p50: number;
  readonly p99: number;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The pid of the nats-server listening on the URL's port (for its CPU), if found. */
function natsServerPid(url: string): number | undefined {
  const port = new URL(url).port || '4222';
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const match = /pid=(\d+)/.exec(out);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU ms of every backend of the database (as of now; backends that exit take their time with them). */
async function backendsCpuMs(admin: pg.Client, database: string): Promise<Map<number, number>> {
  const result = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
    database,
  ]);
  const cpu = new Map<number, number>();
  for (const { pid } of result.rows) {
    try {
      cpu.set(pid, processCpuMs(pid));
    } catch {
      // exited meanwhile
    }
  }
  return cpu;
}

/** N cores on one database, each with its own bus connection and database pool, counting what it receives. */
interface Fleet {
  readonly cores: RealtimeCore[];
  readonly dbs: PgDatabase[];
  /** Changes of the table received per core. */
  readonly counts: number[];
  /** INSERT → bus event, ms, every delivery of every core. */
  readonly latency: Samples;
}

/** Starts `size` cores into `fleet` (the first one runs the pump); on failure the caller closes what started. */
async function startCores(
  fleet: Fleet,
  url: string,
  bus: BusName,
  capture: Capture,
  size: number,
  stream: string,
): Promise<void> {
  for (let i = 0; i < size; i++) {
    const db = new PgDatabase(url, { poolSize: 2 });
    fleet.dbs.push(db);
    const changeBus: ChangeBus =
      bus === 'nats'
        ? new NatsChangeBus({ url: NATS_URL, stream, channel: 'fleet' })
        : new PgNotificationBus(db, { channel: 'fleet', outbox: true });
    const app = new App().collection('rows', { table: TABLE });
    const core = new RealtimeCore(app, db, changeBus, {
      channel: 'fleet',
      capture,
      outboxPump: i === 0 ? { electionIntervalMs: 200 } : false,
    });
    fleet.counts.push(0);
    changeBus.subscribe((event) => {
      if (event.kind !== 'change' || event.table !== `public.${TABLE}`) return;
      fleet.counts[i]!++;
      const t = event.row?.t;
      if (typeof t === 'number') fleet.latency.add(Date.now() - t);
    });
    await core.start();
    // A live query of the table in every core: a bus that filters tables (NATS) consumes only watched ones.
    await changeBus.watch?.([`public.${TABLE}`]).ready;
    fleet.cores.push(core);
  }
}

/** Inserts RATE rows/s in ticks of TICK_MS for SECONDS; resolves to the number of rows written. */
async function writeRows(writer: pg.Client): Promise<number> {
  const start = now();
  let written = 0;
  const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
  while (now() - start < SECONDS * 1000) {
    const tickStart = now();
    await writer.query(
      `INSERT INTO ${TABLE} (t, pad) SELECT extract(epoch FROM clock_timestamp()) * 1000, repeat('x', 64)
         FROM generate_series(1, $1)`,
      [perTick],
    );
    written += perTick;
    const wait = TICK_MS - (now() - tickStart);
    if (wait > 0) await sleep(wait);
  }
  return written;
}

/** Drops the run's database, and first its logical capture slot (a slot keeps its database from being dropped). */
async function dropDatabase(admin: pg.Client, database: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const slots = await admin.query<{ slot_name: string; active_pid: number | null }>(
      'SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1',
      [database],
    );
    if (slots.rows.length === 0) break;
    for (const { slot_name, active_pid } of slots.rows) {
      if (active_pid !== null) await admin.query('SELECT pg_terminate_backend($1)', [active_pid]);
      else await admin.query('SELECT pg_drop_replication_slot($1)', [slot_name]).catch(() => {});
    }
    await sleep(100);
  }
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
}

async function runOne(
  admin: pg.Client,
  serverUrl: string,
  bus: BusName,
  capture: Capture,
  size: number,
): Promise<Run> {
  const database = `bench_fleet_${process.pid}_${capture}_${bus}_${size}`;
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database}`);
  const url = withDatabase(serverUrl, database);
  const stream = `bench_fleet_${process.pid}_${capture}_${size}`;
  const setup = new pg.Client(url);
  await setup.connect();
  await setup.query(`CREATE TABLE ${TABLE} (id bigserial PRIMARY KEY, t float8 NOT NULL, pad text)`);
  const fleet: Fleet = { cores: [], dbs: [], counts: [], latency: new Samples() };
  const { counts, latency } = fleet;
  try {
    await startCores(fleet, url, bus, capture, size, stream);
    await waitFor(() => fleet.cores[0]?.outboxPump?.leading === true, 10_000);
    // Warm-up: every core receives a first change (the relay found the stream, consumers are pulling).
    await setup.query(`INSERT INTO ${TABLE} (t) VALUES (extract(epoch FROM clock_timestamp()) * 1000)`);
    await waitFor(() => counts.every((c) => c >= 1), 20_000);
    counts.fill(0);
    latency.clear();
    const natsPid = bus === 'nats' ? natsServerPid(NATS_URL) : undefined;
    const pgBefore = await backendsCpuMs(admin, database);
    const natsBefore = natsPid ? processCpuMs(natsPid) : 0;
    const nodeBefore = process.cpuUsage();
    const start = now();
    const written = await writeRows(setup);
    const complete = await waitFor(() => counts.every((c) => c >= written), 60_000);
    const seconds = (now() - start) / 1000;
    const nodeCpu = process.cpuUsage(nodeBefore);
    const pgAfter = await backendsCpuMs(admin, database);
    let pgCpuMs = 0;
    for (const [pid, after] of pgAfter) pgCpuMs += after - (pgBefore.get(pid) ?? after);
    const natsCpuMs = natsPid ? processCpuMs(natsPid) - natsBefore : 0;
    if (!complete)
      progress(
        SCENARIO,
        `${capture} ${bus} ×${size}: not every core received every change (${counts.join(',')})`,
      );
    const [p50, p99] = latency.quantiles(0.5, 0.99);
    return {
      bus,
      capture,
      size,
      written,
      delivered: counts.reduce((a, b) => a + b, 0),
      seconds,
      pgCpuMs,
      natsCpuMs,
      nodeCpuMs: (nodeCpu.user + nodeCpu.system) / 1000,
      p50: p50 ?? Number.NaN,
      p99: p99 ?? Number.NaN,
    };
  } finally {
    for (const core of fleet.cores) await core.close().catch(() => {});
    for (const db of fleet.dbs) await db.close().catch(() => {});
    await setup.end().catch(() => {});
    await dropDatabase(admin, database).catch((error: unknown) =>
      progress(SCENARIO, `could not drop ${database}: ${String(error)}`),
    );
    if (bus === 'nats') {
      const nc = await connect({ servers: NATS_URL });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      await nc.close();
    }
  }
}

/** The figures of one run, as JSON lines (run.ts reads them). */
function reportRun(run: Run): void {
  const note = `${run.size} core(s), ${RATE} rows/s offered, capture ${run.capture}`;
  const prefix = run.capture === 'outbox' ? run.bus : `${run.bus}_logical`;
  const metric = (name: string, value: number, unit: string, better: 'lower' | 'higher') =>
    report({ scenario: SCENARIO, metric: `${prefix}_${name}`, value, unit, target: null, better, note });
  metric('delivered_per_s', run.delivered / run.seconds, 'changes/s', 'higher');
  metric('pg_cpu_us_per_change', (run.pgCpuMs * 1000) / run.written, 'µs', 'lower');
  if (run.bus === 'nats')
    metric('nats_cpu_us_per_change', (run.natsCpuMs * 1000) / run.written, 'µs', 'lower');
  metric('node_cpu_us_per_delivered', (run.nodeCpuMs * 1000) / Math.max(1, run.delivered), 'µs', 'lower');
  metric('latency_p50', run.p50, 'ms', 'lower');
  metric('latency_p99', run.p99, 'ms', 'lower');
}

/** The runs as a Markdown table, on stderr. */
function printTable(runs: readonly Run[]): void {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const header = ['capture', 'bus', 'cores', 'written', 'delivered/s', 'PG CPU µs/change'];
  const rows = [
    line([...header, 'NATS CPU µs/change', 'p50 ms', 'p99 ms']),
    line(Array.from({ length: header.length + 3 }, () => '---')),
    ...runs.map((r) =>
      line([
        r.capture,
        r.bus,
        String(r.size),
        String(r.written),
        (r.delivered / r.seconds).toFixed(0),
        ((r.pgCpuMs * 1000) / r.written).toFixed(1),
        r.bus === 'nats' ? ((r.natsCpuMs * 1000) / r.written).toFixed(1) : '—',
        r.p50.toFixed(1),
        r.p99.toFixed(1),
      ]),
    ),
  ];
  process.stderr.write(`${rows.join('\n')}\n`);
}

/**
 * The server the runs create their databases on: DATABASE_URL's, unless logical capture is asked for and its
 * `wal_level` is not `logical` — then a private embedded PostgreSQL with `wal_level=logical`.
 */
async function benchServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const probe = new pg.Client(SERVER_URL);
  await probe.connect();
  const level = (await probe.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  await probe.end();
  if (!CAPTURES.includes('logical') || level === 'logical') return { url: SERVER_URL, stop: async () => {} };
  progress(SCENARIO, `wal_level is ${level}: starting a private PostgreSQL with wal_level=logical`);
  const dir = mkdtempSync(join(tmpdir(), 'pgrt-bench-fleet-'));
  chmodSync(dir, 0o755); // postgres runs as the `postgres` user when we are root
  const handle = await startEmbeddedPostgres({
    dataDir: join(dir, 'pgdata'),
    database: 'bench',
    settings: { wal_level: 'logical' },
  });
  return {
    url: withDatabase(handle.url, 'postgres'),
    async stop() {
      await handle.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const server = await benchServer();
  const admin = new pg.Client(server.url);
  await admin.connect();
  const runs: Run[] = [];
  try {
    for (const capture of CAPTURES) {
      for (const size of FLEET) {
        for (const bus of ['postgres', 'nats'] as const) {
          progress(
            SCENARIO,
            `capture ${capture}, ${bus} bus, ${size} core(s), ${RATE} rows/s for ${SECONDS} s`,
          );
          const run = await runOne(admin, server.url, bus, capture, size);
          runs.push(run);
          reportRun(run);
        }
      }
    }
  } finally {
    await admin.end();
    await server.stop();
  }
  printTable(runs);
}

await main();
