/**
 * External INSERT → DDP `added` at the client (DESIGN.md: p50 ≤ 1.5 / 2.5 / 6 ms and p99 ≤ 5 / 8 / 25 ms with
 * 1 / 100 / 1,000 subscribers; perf.md T1, T1b, T1c, T8).
 *
 * One process both writes and receives: a plain `pg` client (an external writer, like psql, not a method)
 * INSERTs rows paced at a fixed rate, each carrying the monotonic time taken just before its INSERT was sent;
 * N DDP clients subscribed to the table's publication take `now() - t` when the `added` arrives. So the
 * figure covers the INSERT's round trip and commit, the trigger, NOTIFY, the server process, the WebSocket and
 * the client's own event loop (with many subscribers, a client's position in the receive loop adds to it,
 * exactly as in perf.md §4.5). Every delivery to every subscriber is a sample.
 *
 * Cases: 1 subscriber at 200 inserts/s, 100 at 200/s, 1,000 at 50/s (T1c's 50k deliveries/s), all with ~200-B
 * rows; and 1 subscriber with ~20-KB rows, which exceed NOTIFY's limit and take the spill path (T8: the
 * spill may add ≤ 1 ms p50 and ≤ 5 ms p99 over the inline 1-subscriber case). Each case runs BENCH_SECONDS.
 *
 * Usage: npx tsx bench/latency.ts [subscribers...]   (e.g. `npx tsx bench/latency.ts 1 100`)
 */
import type pg from 'pg';
import { DdpClient } from './support/ddp-client.js';
import { inBatches, now, progress, report, Samples, sleep, waitFor } from './support/measure.js';
import { connectWriter, type Knobs, runScenario, startServer } from './support/scenario.js';
import type { ServerProcess } from './support/server-process.js';

const SCENARIO = 'latency';

interface LatencyCase {
  readonly label: string;
  readonly subscribers: number;
  readonly ratePerSecond: number;
  /** Size of the `pad` column in characters (ASCII, so bytes). */
  readonly padBytes: number;
  readonly targets: { readonly p50: number | null; readonly p99: number | null };
}

const CASES: readonly LatencyCase[] = [
  { label: 'sub1', subscribers: 1, ratePerSecond: 200, padBytes: 160, targets: { p50: 1.5, p99: 5 } },
  { label: 'sub100', subscribers: 100, ratePerSecond: 200, padBytes: 160, targets: { p50: 2.5, p99: 8 } },
  { label: 'sub1000', subscribers: 1000, ratePerSecond: 50, padBytes: 160, targets: { p50: 6, p99: 25 } },
  {
    label: 'sub1_20kb',
    subscribers: 1,
    ratePerSecond: 200,
    padBytes: 20_000,
    targets: { p50: null, p99: null },
  },
];

interface CaseResult {
  /** Rows that took the spill path during the case (pgrt.spill ids used). */
  readonly spilled: number;
  readonly p50: number;
  readonly p99: number;
  readonly delivered: number;
  readonly expected: number;
}

async function runCase(
  server: ServerProcess,
  writer: pg.Client,
  c: LatencyCase,
  seconds: number,
): Promise<CaseResult> {
  await writer.query('TRUNCATE bench_rows');
  const clients = await inBatches(c.subscribers, 50, () => DdpClient.connect(server.url));
  await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('rows'));

  const samples = new Samples();
  let delivered = 0;
  let measuring = false;
  for (const client of clients) {
    client.onData = (message) => {
      if (message.msg !== 'added') return;
      delivered++;
      const fields = message.fields as { t?: number } | undefined;
      if (measuring && typeof fields?.t === 'number') samples.add(now() - fields.t);
    };
  }
  const pad = 'x'.repeat(c.padBytes);
  const insert = (): Promise<pg.QueryResult> =>
    writer.query('INSERT INTO bench_rows (t, pad) VALUES ($1, $2)', [now(), pad]);

  // Warm-up: a few rows through the whole path before measuring.
  for (let i = 0; i < 20; i++) {
    await insert();
    await sleep(5);
  }
  await waitFor(() => delivered >= 20 * c.subscribers, 10_000);

  delivered = 0;
  measuring = true;
  const spillBefore = await spillMark(writer);
  const total = Math.round(c.ratePerSecond * seconds);
  const stopCpu = await server.cpu();
  const clientCpu = process.cpuUsage();
  const started = now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / c.ratePerSecond - now();
    if (wait > 1) await sleep(wait);
    await insert();
  }
  const expected = total * c.subscribers;
  await waitFor(() => delivered >= expected, 10_000);
  const spilled = (await spillMark(writer)) - spillBefore;
  const cpu = await stopCpu();
  const clientCpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(clientCpu));
  measuring = false;
  progress(
    SCENARIO,
    `${c.label}: server CPU ${Math.round(cpu.percent)}%, client process CPU ${Math.round((clientCpuMs / cpu.wallMs) * 100)}%`,
  );

  for (const client of clients) client.close();
  await Promise.all(clients.map((client) => client.closed()));
  const [p50, p99] = samples.quantiles(0.5, 0.99);
  return { spilled, p50: p50!, p99: p99!, delivered, expected };
}

/** The last id handed out by pgrt.spill's sequence (0 before the first spill). */
async function spillMark(writer: pg.Client): Promise<number> {
  const result = await writer.query<{ n: string }>(
    'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM pgrt.spill_id_seq',
  );
  return Number(result.rows[0]?.n ?? 0);
}

async function body({ seconds, quick }: Knobs): Promise<void> {
  const only = process.argv.slice(2).map(Number);
  const cases = CASES.filter(
    (c) => (only.length === 0 || only.includes(c.subscribers)) && !(quick && c.subscribers > 100),
  );
  const writer = await connectWriter();
  const server = await startServer();
  const inline = new Map<string, CaseResult>();
  for (const c of cases) {
    progress(
      SCENARIO,
      `${c.label}: ${c.subscribers} subscriber(s), ${c.ratePerSecond} inserts/s, ${c.padBytes}-B pad, ${seconds} s`,
    );
    const result = await runCase(server, writer, c, seconds);
    inline.set(c.label, result);
    const note = `${c.subscribers} subs, ${c.ratePerSecond} inserts/s, pad ${c.padBytes} B, ${result.delivered}/${result.expected} delivered, ${result.spilled} spilled; pinned=${server.pinned}`;
    report({
      scenario: SCENARIO,
      metric: `${c.label}_p50_ms`,
      value: result.p50,
      unit: 'ms',
      target: c.targets.p50,
      better: 'lower',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: `${c.label}_p99_ms`,
      value: result.p99,
      unit: 'ms',
      target: c.targets.p99,
      better: 'lower',
      note,
    });
    if (result.delivered < result.expected) {
      report({
        scenario: SCENARIO,
        metric: `${c.label}_lost`,
        value: result.expected - result.delivered,
        unit: 'msgs',
        target: 0,
        better: 'lower',
        note,
      });
    }
  }
  const base = inline.get('sub1');
  const spill = inline.get('sub1_20kb');
  if (base && spill) {
    const note = '20-KB rows (spill path) minus ~200-B rows, 1 subscriber';
    report({
      scenario: SCENARIO,
      metric: 'spill_extra_p50_ms',
      value: spill.p50 - base.p50,
      unit: 'ms',
      target: 1,
      better: 'lower',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: 'spill_extra_p99_ms',
      value: spill.p99 - base.p99,
      unit: 'ms',
      target: 5,
      better: 'lower',
      note,
    });
  }
  await writer.query('TRUNCATE bench_rows');
  await writer.end();
}

runScenario(SCENARIO, body);
