/**
 * Method round-trips (DESIGN.md: "method round-trips, 64 in flight ≥ 40k calls/s"; perf.md T3/T3b).
 *
 * A call counts as complete when both `result` and `updated` arrived: that is when a Meteor client runs the
 * method's callback. Three methods, each with the default options unless named otherwise:
 * - `echo`: returns its argument; runs in a transaction but writes nothing.
 * - `echo_notx`: the same with `transaction: false`.
 * - `insert`: inserts one ~150-B row (its `updated` waits for the row's change to come back through the bus).
 * For each: sequential p50/p99 over 2,000 calls, then calls/s with 64 calls in flight on one connection
 * for BENCH_SECONDS (DDP runs a connection's methods one at a time, so this measures pipelining, not
 * parallelism), with the server's CPU %. Finally `echo` over 100 connections with 4 in flight each (T3b).
 *
 * Usage: npx tsx bench/rpc.ts
 */
import { DdpClient } from './support/ddp-client.js';
import { inBatches, progress, report } from './support/measure.js';
import { callsPerSecond, sequentialCalls } from './support/rpc-load.js';
import { connectWriter, type Knobs, runScenario, startServer } from './support/scenario.js';

const SCENARIO = 'rpc';

interface MethodCase {
  /** Metric prefix. */
  readonly label: string;
  readonly method: string;
  /** DESIGN.md targets (T3 applies to echo methods). */
  readonly targets: {
    readonly p50: number | null;
    readonly p99: number | null;
    readonly rate: number | null;
  };
}

const CASES: readonly MethodCase[] = [
  { label: 'echo', method: 'bench.echo', targets: { p50: 0.2, p99: 1, rate: 40_000 } },
  { label: 'echo_notx', method: 'bench.echoNoTx', targets: { p50: 0.2, p99: 1, rate: 40_000 } },
  { label: 'insert', method: 'bench.insert', targets: { p50: null, p99: null, rate: null } },
];

async function body({ seconds, quick }: Knobs): Promise<void> {
  const writer = await connectWriter();
  await writer.query('TRUNCATE bench_rpc');
  const server = await startServer();
  const client = await DdpClient.connect(server.url);
  const calls = quick ? 500 : 2000;
  const note = `pinned=${server.pinned}`;

  for (const c of CASES) {
    await sequentialCalls(client, c.method, 200); // warm-up: JIT, pool connections
    progress(SCENARIO, `${c.label}: ${calls} sequential calls`);
    const samples = await sequentialCalls(client, c.method, calls);
    const [p50, p99] = samples.quantiles(0.5, 0.99);
    report({
      scenario: SCENARIO,
      metric: `${c.label}_seq_p50_ms`,
      value: p50!,
      unit: 'ms',
      target: c.targets.p50,
      better: 'lower',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: `${c.label}_seq_p99_ms`,
      value: p99!,
      unit: 'ms',
      target: c.targets.p99,
      better: 'lower',
      note,
    });

    progress(SCENARIO, `${c.label}: 64 in flight for ${seconds} s`);
    const { rate, cpu } = await callsPerSecond(server, [client], c.method, 64, seconds);
    const pipelined = `64 in flight, 1 connection; server CPU ${Math.round(cpu)}%; ${note}`;
    report({
      scenario: SCENARIO,
      metric: `${c.label}_64_calls_per_s`,
      value: rate,
      unit: 'calls/s',
      target: c.targets.rate,
      better: 'higher',
      note: pipelined,
    });
    report({
      scenario: SCENARIO,
      metric: `${c.label}_64_server_cpu_pct`,
      value: cpu,
      unit: '%',
      target: null,
      better: 'lower',
      note,
    });
  }

  progress(SCENARIO, `echo: 100 connections × 4 in flight for ${seconds} s`);
  const many = await inBatches(100, 20, () => DdpClient.connect(server.url));
  await Promise.all(many.map((c) => sequentialCalls(c, 'bench.echo', 20)));
  const { rate, cpu } = await callsPerSecond(server, many, 'bench.echo', 4, seconds);
  report({
    scenario: SCENARIO,
    metric: 'echo_100conn_calls_per_s',
    value: rate,
    unit: 'calls/s',
    target: 50_000,
    better: 'higher',
    note: `100 connections × 4 in flight; server CPU ${Math.round(cpu)}%; ${note}`,
  });
  for (const c of many) c.close();
  client.close();
  await writer.query('TRUNCATE bench_rpc');
  await writer.end();
}

runScenario(SCENARIO, body);
