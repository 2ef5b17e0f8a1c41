/**
 * `npm run bench -- bus-fleet`: a fleet of N pgrt cores receiving the changes of one table through the PostgreSQL
 * bus (LISTEN/NOTIFY, one LISTEN connection per core) and through the NATS bus (the pump relays the outbox to
 * JetStream, each core consumes its table's subject), both with capture `outbox` and one pump. A writer inserts at a
 * fixed rate for BENCH_SECONDS; each core counts the changes it receives and their latency (the row carries its
 * `clock_timestamp()`; same machine, same clock).
 *
 * Figures per bus and fleet size: delivered changes/s (all cores together, first write to last delivery), PostgreSQL
 * CPU per change written (user + system time of every backend of the bench's database: the LISTEN backends, the
 * pump's, the writer's; from /proc, Linux), the NATS server's CPU per change, this process's CPU per delivered change,
 * and the latency p50/p99 (ms). The cores run in THIS process (one event loop, each with its own bus connection and
 * database pool): it is the bus's cost that differs, and a 2-core machine cannot host 8 real processes plus
 * PostgreSQL, NATS and a writer without the figures measuring the scheduler. Env: BENCH_SECONDS (default 4),
 * BENCH_FLEET (default 1,2,4,8), BENCH_RATE (rows/s, default 1000), BENCH_NATS_URL (default 127.0.0.1:4222),
 * DATABASE_URL (a server where databases can be created; default postgres@127.0.0.1:5432).
 */
import { execFileSync } from 'node:child_process';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { App } from '../core/app.js';
import type { ChangeBus } from '../core/bus/change-bus.js';
import { NatsChangeBus } from '../core/bus/nats/nats-change-bus.js';
import { PgNotificationBus } from '../core/bus/pg-notification-bus.js';
import { PgDatabase } from '../core/database/database.js';
import { RealtimeCore } from '../core/realtime-core.js';
import { now, progress, report, Samples, sleep, waitFor } from './support/measure.js';
import { processCpuMs } from './support/process-cpu.js';

const SCENARIO = 'bus-fleet';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const FLEET = (process.env.BENCH_FLEET ?? '1,2,4,8').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TABLE = 'fleet_rows';
const TICK_MS = 10;

type BusName = 'postgres' | 'nats';

interface Run {
  readonly bus: BusName;
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

async function runOne(admin: pg.Client, bus: BusName, size: number): Promise<Run> {
  const database = `bench_fleet_${process.pid}_${bus}_${size}`;
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database}`);
  const url = withDatabase(SERVER_URL, database);
  const stream = `bench_fleet_${process.pid}_${size}`;
  const setup = new pg.Client(url);
  await setup.connect();
  await setup.query(`CREATE TABLE ${TABLE} (id bigserial PRIMARY KEY, t float8 NOT NULL, pad text)`);
  const cores: RealtimeCore[] = [];
  const dbs: PgDatabase[] = [];
  const counts: number[] = [];
  const latency = new Samples();
  try {
    for (let i = 0; i < size; i++) {
      const db = new PgDatabase(url, { poolSize: 2 });
      dbs.push(db);
      const changeBus: ChangeBus =
        bus === 'nats'
          ? new NatsChangeBus({ url: NATS_URL, stream, channel: 'fleet' })
          : new PgNotificationBus(db, { channel: 'fleet', outbox: true });
      const app = new App().collection('rows', { table: TABLE });
      const core = new RealtimeCore(app, db, changeBus, {
        channel: 'fleet',
        capture: 'outbox',
        outboxPump: i === 0 ? { electionIntervalMs: 200 } : false,
      });
      counts.push(0);
      changeBus.subscribe((event) => {
        if (event.kind !== 'change' || event.table !== `public.${TABLE}`) return;
        counts[i]!++;
        const t = event.row?.t;
        if (typeof t === 'number') latency.add(Date.now() - t);
      });
      await core.start();
      // A live query of the table in every core: a bus that filters tables (NATS) consumes only watched ones.
      await changeBus.watch?.([`public.${TABLE}`]).ready;
      cores.push(core);
    }
    await waitFor(() => cores[0]?.outboxPump?.leading === true, 10_000);
    // Warm-up: every core receives a first change (the relay found the stream, consumers are pulling).
    await setup.query(`INSERT INTO ${TABLE} (t) VALUES (extract(epoch FROM clock_timestamp()) * 1000)`);
    await waitFor(() => counts.every((c) => c >= 1), 20_000);
    for (let i = 0; i < size; i++) counts[i] = 0;
    latency.clear();
    const natsPid = bus === 'nats' ? natsServerPid(NATS_URL) : undefined;
    const pgBefore = await backendsCpuMs(admin, database);
    const natsBefore = natsPid ? processCpuMs(natsPid) : 0;
    const nodeBefore = process.cpuUsage();
    const start = now();
    let written = 0;
    const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
    while (now() - start < SECONDS * 1000) {
      const tickStart = now();
      await setup.query(
        `INSERT INTO ${TABLE} (t, pad) SELECT extract(epoch FROM clock_timestamp()) * 1000, repeat('x', 64)
           FROM generate_series(1, $1)`,
        [perTick],
      );
      written += perTick;
      const wait = TICK_MS - (now() - tickStart);
      if (wait > 0) await sleep(wait);
    }
    const complete = await waitFor(() => counts.every((c) => c >= written), 60_000);
    const seconds = (now() - start) / 1000;
    const nodeCpu = process.cpuUsage(nodeBefore);
    const pgAfter = await backendsCpuMs(admin, database);
    let pgCpuMs = 0;
    for (const [pid, after] of pgAfter) pgCpuMs += after - (pgBefore.get(pid) ?? after);
    const natsCpuMs = natsPid ? processCpuMs(natsPid) - natsBefore : 0;
    if (!complete)
      progress(SCENARIO, `${bus} ×${size}: not every core received every change (${counts.join(',')})`);
    const [p50, p99] = latency.quantiles(0.5, 0.99);
    return {
      bus,
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
    for (const core of cores) await core.close().catch(() => {});
    for (const db of dbs) await db.close().catch(() => {});
    await setup.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    if (bus === 'nats') {
      const nc = await connect({ servers: NATS_URL });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      await nc.close();
    }
  }
}

async function main(): Promise<void> {
  const admin = new pg.Client(SERVER_URL);
  await admin.connect();
  const runs: Run[] = [];
  try {
    for (const size of FLEET) {
      for (const bus of ['postgres', 'nats'] as const) {
        progress(SCENARIO, `${bus} bus, ${size} core(s), ${RATE} rows/s for ${SECONDS} s`);
        const run = await runOne(admin, bus, size);
        runs.push(run);
        const note = `${size} core(s), ${RATE} rows/s offered, capture outbox`;
        const metric = (name: string, value: number, unit: string, better: 'lower' | 'higher') =>
          report({ scenario: SCENARIO, metric: `${bus}_${name}`, value, unit, target: null, better, note });
        metric('delivered_per_s', run.delivered / run.seconds, 'changes/s', 'higher');
        metric('pg_cpu_us_per_change', (run.pgCpuMs * 1000) / run.written, 'µs', 'lower');
        if (bus === 'nats')
          metric('nats_cpu_us_per_change', (run.natsCpuMs * 1000) / run.written, 'µs', 'lower');
        metric(
          'node_cpu_us_per_delivered',
          (run.nodeCpuMs * 1000) / Math.max(1, run.delivered),
          'µs',
          'lower',
        );
        metric('latency_p50', run.p50, 'ms', 'lower');
        metric('latency_p99', run.p99, 'ms', 'lower');
      }
    }
  } finally {
    await admin.end();
  }
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const rows = [
    line([
      'bus',
      'cores',
      'written',
      'delivered/s',
      'PG CPU µs/change',
      'NATS CPU µs/change',
      'p50 ms',
      'p99 ms',
    ]),
    line(['---', '---', '---', '---', '---', '---', '---', '---']),
    ...runs.map((r) =>
      line([
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

await main();
