/**
 * INSERT → client latency against a floor measured in the same run (issue 16 item 2: pgrt's p50 and p99 each
 * ≤ 1.2 × the floor's, ≤ 1.5 × at 1,000 subscribers).
 *
 * The floor (support/floor-server.ts) is the least any server can do on this path: a process that LISTENs and
 * writes each NOTIFY payload to N plain `ws` sockets, fed by a one-line `pg_notify(row_to_json(NEW))` trigger on
 * table `bench_floor`. pgrt is the bench server (support/server.ts) with subscribers of `rows` (table
 * `bench_rows`, notify capture). Both run at once, each in its own process pinned to the server core, and
 * both get the same writer (one `pg` client in this process, paced INSERTs of ~200-B rows carrying their send
 * time), the same rates as latency.ts (1 and 100 subscribers at 200 inserts/s, 1,000 at 50/s) and N clients
 * each in this process (raw `ws` for the floor, the bench's thin DDP client for pgrt; both parse every frame).
 *
 * Per N: `BENCH_ROUNDS` rounds (default 3) of `BENCH_SECONDS` each, floor and pgrt back to back, the order
 * alternating by round, so both see the same machine. Reported: the floor's and pgrt's p50/p99 (median over the
 * rounds) and `ratio_*` = median over the rounds of pgrt ÷ floor of that round.
 *
 * Usage: npx tsx bench/latency-floor.ts [subscribers...]   (e.g. `npx tsx bench/latency-floor.ts 1 100`)
 */
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import WebSocket, { type RawData } from 'ws';
import { DdpClient } from './support/ddp-client.js';
import { FLOOR_SQL } from './support/floor-sql.js';
import { inBatches, now, progress, report, Samples, sleep, waitFor } from './support/measure.js';
import { connectWriter, type Knobs, runScenario, startServer } from './support/scenario.js';

const SCENARIO = 'latency-floor';
const PAD = 'x'.repeat(160);

interface FloorCase {
  readonly subscribers: number;
  readonly ratePerSecond: number;
  /** Largest acceptable pgrt ÷ floor, p50 and p99 alike. */
  readonly maxRatio: number;
}

const CASES: readonly FloorCase[] = [
  { subscribers: 1, ratePerSecond: 200, maxRatio: 1.2 },
  { subscribers: 100, ratePerSecond: 200, maxRatio: 1.2 },
  { subscribers: 1000, ratePerSecond: 50, maxRatio: 1.5 },
];

/** One side of the comparison: N connected receivers and the table whose INSERTs reach them. */
interface Side {
  readonly name: 'floor' | 'pgrt';
  readonly table: 'bench_floor' | 'bench_rows';
  /** Called with each delivered row's send time. */
  onRow: (t: number) => void;
  close(): Promise<void>;
}

interface RoundResult {
  readonly p50: number;
  readonly p99: number;
  readonly delivered: number;
  readonly expected: number;
}

/** Raw `ws` receivers of the floor server; each frame is the row's JSON. */
async function floorSide(url: string, n: number): Promise<Side> {
  const side: Side = {
    name: 'floor',
    table: 'bench_floor',
    onRow: () => {},
    close: async () => {
      for (const socket of sockets) socket.close();
      await Promise.all(sockets.map((s) => new Promise((resolve) => s.once('close', resolve))));
    },
  };
  const sockets = await inBatches(
    n,
    50,
    (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(url, { perMessageDeflate: false });
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
        socket.on('message', (data: RawData) => {
          const row = JSON.parse(data.toString()) as { t?: number };
          if (typeof row.t === 'number') side.onRow(row.t);
        });
      }),
  );
  return side;
}

/** pgrt's DDP subscribers of `rows`. */
async function pgrtSide(url: string, n: number): Promise<Side> {
  const clients = await inBatches(n, 50, () => DdpClient.connect(url));
  await inBatches(n, 50, (i) => clients[i]!.subscribe('rows'));
  const side: Side = {
    name: 'pgrt',
    table: 'bench_rows',
    onRow: () => {},
    close: async () => {
      for (const client of clients) client.close();
      await Promise.all(clients.map((client) => client.closed()));
    },
  };
  for (const client of clients) {
    client.onData = (message) => {
      if (message.msg !== 'added') return;
      const fields = message.fields as { t?: number } | undefined;
      if (typeof fields?.t === 'number') side.onRow(fields.t);
    };
  }
  return side;
}

/** Paced INSERTs into the side's table for `seconds`; every delivery to every receiver is a sample. */
async function runRound(writer: pg.Client, side: Side, c: FloorCase, seconds: number): Promise<RoundResult> {
  const insert = (): Promise<pg.QueryResult> =>
    writer.query(`INSERT INTO ${side.table} (t, pad) VALUES ($1, $2)`, [now(), PAD]);
  let delivered = 0;
  side.onRow = () => delivered++;
  for (let i = 0; i < 20; i++) {
    await insert();
    await sleep(5);
  }
  await waitFor(() => delivered >= 20 * c.subscribers, 10_000);

  const samples = new Samples();
  side.onRow = (t) => samples.add(now() - t);
  const total = Math.round(c.ratePerSecond * seconds);
  const started = now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / c.ratePerSecond - now();
    if (wait > 1) await sleep(wait);
    await insert();
  }
  const expected = total * c.subscribers;
  await waitFor(() => samples.length >= expected, 30_000);
  side.onRow = () => {};
  const [p50, p99] = samples.quantiles(0.5, 0.99);
  return { p50: p50!, p99: p99!, delivered: samples.length, expected };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function body({ seconds, quick }: Knobs): Promise<void> {
  const only = process.argv.slice(2).map(Number);
  const cases = CASES.filter(
    (c) => (only.length === 0 || only.includes(c.subscribers)) && !(quick && c.subscribers > 100),
  );
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3) || 3);
  const writer = await connectWriter();
  await writer.query(FLOOR_SQL);
  const floorServer = await startServer({
    script: fileURLToPath(new URL('./support/floor-server.ts', import.meta.url)),
  });
  const pgrtServer = await startServer();
  for (const c of cases) {
    await writer.query('TRUNCATE bench_rows, bench_floor');
    progress(
      SCENARIO,
      `${c.subscribers} subscriber(s), ${c.ratePerSecond} inserts/s, ${rounds} × ${seconds} s each`,
    );
    const sides = [
      await floorSide(floorServer.url, c.subscribers),
      await pgrtSide(pgrtServer.url, c.subscribers),
    ];
    const results = { floor: [] as RoundResult[], pgrt: [] as RoundResult[] };
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) results[side.name].push(await runRound(writer, side, c, seconds));
      const [f, p] = [results.floor[round]!, results.pgrt[round]!];
      progress(
        SCENARIO,
        `${c.subscribers} round ${round + 1}: floor ${f.p50.toFixed(2)}/${f.p99.toFixed(2)} ms, pgrt ${p.p50.toFixed(2)}/${p.p99.toFixed(2)} ms`,
      );
    }
    await Promise.all(sides.map((side) => side.close()));
    reportCase(c, results.floor, results.pgrt, floorServer.pinned);
  }
  await writer.query('TRUNCATE bench_rows, bench_floor');
  await writer.end();
}

function reportCase(c: FloorCase, floor: RoundResult[], pgrt: RoundResult[], pinned: boolean): void {
  const lost = (rs: RoundResult[]): number => rs.reduce((sum, r) => sum + r.expected - r.delivered, 0);
  const note = `${c.subscribers} subs, ${c.ratePerSecond} inserts/s, pad 160 B, median of ${floor.length} interleaved rounds; lost floor ${lost(floor)}, pgrt ${lost(pgrt)}; pinned=${pinned}`;
  const n = c.subscribers;
  for (const q of ['p50', 'p99'] as const) {
    report({
      scenario: SCENARIO,
      metric: `floor_sub${n}_${q}_ms`,
      value: median(floor.map((r) => r[q])),
      unit: 'ms',
      target: null,
      better: 'lower',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: `pgrt_sub${n}_${q}_ms`,
      value: median(pgrt.map((r) => r[q])),
      unit: 'ms',
      target: null,
      better: 'lower',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: `ratio_sub${n}_${q}`,
      value: median(pgrt.map((r, i) => r[q] / floor[i]![q])),
      unit: '×',
      target: c.maxRatio,
      better: 'lower',
      note,
    });
  }
}

runScenario(SCENARIO, body);
