/**
 * Every capture mode fast when it is quiet (issue 16 item 7): external INSERT → DDP `added` p50 for capture `outbox`
 * and `logical`, each printed next to `notify`'s from the same run (target: within 1.5×), at 1 and 100
 * subscribers, at a trickle (1 write/s) and under load (200 writes/s), plus the server process's idle CPU per
 * second in each mode (what its pump costs when nothing happens; notify has no pump).
 *
 * One private PostgreSQL with `wal_level=logical` serves all three modes (each mode's server process in turn on
 * its own database of it, so nothing of one mode's capture stays for the next). The writer is a plain `pg` client
 * (like psql); every delivery to every subscriber is a sample; samples of one case are `rate × BENCH_SECONDS`
 * writes (the trickle case: at least 10 writes).
 *
 * Usage: npx tsx bench/capture-latency.ts [subscribers...]   (default 1 100)
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../core/database/embedded-postgres.js';
import { DdpClient } from './support/ddp-client.js';
import { inBatches, now, progress, report, Samples, sleep, waitFor } from './support/measure.js';
import { type Knobs, runScenario, startServer, stopServer } from './support/scenario.js';
import type { ServerProcess } from './support/server-process.js';

const SCENARIO = 'capture_latency';
const MODES = ['notify', 'outbox', 'logical'] as const;
type Mode = (typeof MODES)[number];
const RATES = [
  { label: 'trickle', perSecond: 1 },
  { label: 'load', perSecond: 200 },
] as const;

/** p50 of one case. */
async function measureCase(
  server: ServerProcess,
  writer: pg.Client,
  subscribers: number,
  perSecond: number,
  seconds: number,
): Promise<number> {
  await writer.query('TRUNCATE bench_rows');
  const clients = await inBatches(subscribers, 50, () => DdpClient.connect(server.url));
  await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('rows'));
  const samples = new Samples();
  let delivered = 0;
  for (const client of clients) {
    client.onData = (message) => {
      if (message.msg !== 'added') return;
      delivered++;
      const fields = message.fields as { t?: number } | undefined;
      if (typeof fields?.t === 'number') samples.add(now() - fields.t);
    };
  }
  const insert = (): Promise<pg.QueryResult> =>
    writer.query('INSERT INTO bench_rows (t, pad) VALUES ($1, $2)', [now(), 'x'.repeat(160)]);
  const total = Math.max(perSecond === 1 ? 10 : 0, Math.round(perSecond * seconds));
  const started = now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / perSecond - now();
    if (wait > 1) await sleep(wait);
    await insert();
  }
  await waitFor(() => delivered >= total * subscribers, 15_000);
  for (const client of clients) client.close();
  await Promise.all(clients.map((client) => client.closed()));
  return samples.quantiles(0.5)[0]!;
}

async function body({ seconds, quick }: Knobs): Promise<void> {
  const requested = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const subscriberCounts = requested.length > 0 ? requested : quick ? [1] : [1, 100];
  progress(SCENARIO, 'starting a private PostgreSQL (wal_level=logical)');
  const dir = mkdtempSync(join(tmpdir(), 'pgrt-bench-capture-latency-'));
  chmodSync(dir, 0o755); // postgres runs as the `postgres` user when we are root
  const pg0 = await startEmbeddedPostgres({
    dataDir: join(dir, 'pgdata'),
    database: 'bench',
    settings: { wal_level: 'logical' },
  });
  const p50 = new Map<string, number>();
  try {
    for (const mode of MODES) {
      const admin = new pg.Client(pg0.url);
      await admin.connect();
      await admin.query(`CREATE DATABASE bench_${mode}`);
      await admin.end();
      const url = new URL(pg0.url);
      url.pathname = `/bench_${mode}`;
      const server = await startServer({
        env: { BENCH_DATABASE_URL: url.toString(), BENCH_CAPTURE: mode },
      });
      const writer = new pg.Client(url.toString());
      await writer.connect();
      try {
        // Idle: the server's CPU per second with nothing to do (its pump polling or waiting on the stream).
        await sleep(1000);
        const stop = await server.cpu();
        await sleep(Math.max(2000, seconds * 1000));
        const idle = await stop();
        report({
          scenario: SCENARIO,
          metric: `idle_cpu_ms_per_s_${mode}`,
          value: (idle.cpuMs / idle.wallMs) * 1000,
          unit: 'ms/s',
          target: null,
          better: 'lower',
          note: `server process CPU while idle, capture ${mode}${mode === 'notify' ? ' (no pump: the reference)' : ''}`,
        });
        for (const subscribers of subscriberCounts) {
          for (const rate of RATES) {
            const value = await measureCase(server, writer, subscribers, rate.perSecond, seconds);
            p50.set(`${mode}/${subscribers}/${rate.label}`, value);
            progress(
              SCENARIO,
              `${mode}, ${subscribers} subscriber(s), ${rate.label}: p50 ${value.toFixed(2)} ms`,
            );
          }
        }
      } finally {
        await writer.end();
        await stopServer(server);
      }
    }
  } finally {
    await pg0.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const mode of ['outbox', 'logical'] as const satisfies readonly Mode[]) {
    for (const subscribers of subscriberCounts) {
      for (const rate of RATES) {
        const reference = p50.get(`notify/${subscribers}/${rate.label}`) ?? Number.NaN;
        const value = p50.get(`${mode}/${subscribers}/${rate.label}`) ?? Number.NaN;
        report({
          scenario: SCENARIO,
          metric: `${mode}_vs_notify_p50_${subscribers}sub_${rate.label}`,
          value: value / reference,
          unit: 'ratio',
          target: 1.5,
          better: 'lower',
          note: `INSERT→added p50 ${value.toFixed(2)} ms vs notify ${reference.toFixed(2)} ms (same run), ${rate.perSecond} write/s`,
        });
      }
    }
  }
}

runScenario(SCENARIO, body);
