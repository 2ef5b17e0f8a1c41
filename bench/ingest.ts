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
 * `<mode>_gaps` (sequence numbers committed but never received, both clients; expected 0) and `<mode>_duplicates`.
 *
 * Usage: npx tsx bench/ingest.ts [notify|outbox|logical]   (no mode: all three)
 * Env: BENCH_INGEST_RATE (rows/s per writer)
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DdpClient } from './support/ddp-client.js';
import { FaultPostgres } from './support/fault-postgres.js';
import { now, progress, report, round, Samples, sleep } from './support/measure.js';
import { type Knobs, runScenario } from './support/scenario.js';
import { type ServerProcess, startServerProcess } from './support/server-process.js';

const SCENARIO = 'ingest';
const MODES = ['notify', 'outbox', 'logical'] as const;
type Mode = (typeof MODES)[number];
const SCRIPT = fileURLToPath(new URL('./support/fault-server.ts', import.meta.url));
const WRITERS = 2;
const TICK_MS = 10;

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

/** One writer: `rate` rows/s as INSERTs of rate×TICK_MS/1000 rows every TICK_MS; resolves to rows written. */
async function write(url: string, w: number, rate: number, until: number, counts: number[]): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
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
  } finally {
    await client.end();
  }
}

async function runMode(mode: Mode, seconds: number, rate: number): Promise<void> {
  progress(SCENARIO, `${mode}: ${WRITERS} writers × ${rate} rows/s for ${seconds} s`);
  const db = await FaultPostgres.create();
  const servers: ServerProcess[] = [];
  try {
    for (const name of ['a', 'b']) {
      servers.push(
        await startServerProcess({
          script: SCRIPT,
          env: { BENCH_DATABASE_URL: db.url, BENCH_CAPTURE: mode, BENCH_PUMP_NAME: `pump-${name}` },
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
    const counts = new Array<number>(WRITERS).fill(0);
    const started = now();
    const until = started + seconds * 1000;
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => write(db.url, w, rate, until, counts)));
    const writtenMs = now() - started;
    const total = counts.reduce((a, b) => a + b, 0);
    // Let the tail arrive (bounded), then count gaps.
    const deadline = now() + 30_000;
    while (now() < deadline && receivers.some((r) => r.received < total)) await sleep(50);
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
