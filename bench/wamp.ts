/**
 * WAMP routing: pgrt's router (adapters/wamp) and the peer fox-wamp 0.7.28 side by side in one run, with the
 * same Autobahn|JS 22.11.1 clients, the same process layout and the same pinning (the method of perf.md §4.7 and
 * perf-scripts/wamp-bench.js, whose figures for fox-wamp were 22k–26k calls/s and 45k–50k deliveries/s).
 *
 * Each router runs in its own process (pgrt: support/wamp-server.ts, the bench app over DDP + WAMP with a real
 * PostgreSQL; fox-wamp: support/wamp-foxwamp-server.ts, in memory); every Autobahn session runs in this process.
 * For each router:
 * - **RPC** `wamp_echo`: a CALL routed to another Autobahn session that registered `bench.wamp_echo` (the
 *   callee is in this process too). pgrt also answers core methods as procedures: `core_echo` (`bench.echo`,
 *   default options: a transaction, RESULT after the write fence) and `core_echo_notx` (`bench.echoNoTx`,
 *   `transaction: false`). Sequential p50/p99 over 2,000 calls after 200 warm-up calls; calls/s with 64 in flight
 *   on one session for BENCH_SECONDS, with the router's CPU %.
 * - **Fan-out**: 200 subscriber sessions on one topic, a publisher in another session. Burst: 500 unacknowledged
 *   events of ~200 B (yielding every 10), 3 runs, median deliveries/s, router CPU %, deliveries per router
 *   CPU-second, and the latency of a 1/16 sample. Paced: 100 events at 20/s, every delivery's latency.
 * When both routers ran, `ratio_*` figures give pgrt ÷ fox-wamp.
 *
 * fox-wamp runs only when env `BENCH_FOXWAMP_DIR` names a directory where it is installed, outside this repo:
 *   mkdir -p /tmp/pgrt-foxwamp && cd /tmp/pgrt-foxwamp && npm init -y && npm install fox-wamp@0.7.28
 *   BENCH_FOXWAMP_DIR=/tmp/pgrt-foxwamp npx tsx bench/wamp.ts
 * Otherwise only pgrt is measured, with a note. Not like-for-like on one point: every pgrt session is also a core
 * session (bridge), and fox-wamp has no database at all.
 *
 * Usage: [BENCH_FOXWAMP_DIR=…] npx tsx bench/wamp.ts
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Figure, inBatches, progress, report, sleep } from './support/measure.js';
import { type Knobs, runScenario, startServer, stopServer } from './support/scenario.js';
import type { ServerProcess } from './support/server-process.js';
import { openWampClient, type WampClient } from './support/wamp-client.js';
import {
  callsPerSecond,
  type FanoutBurst,
  FanoutReceiver,
  fanoutBurst,
  medianFanout,
  pacedFanout,
  sequentialCalls,
} from './support/wamp-load.js';

const SCENARIO = 'wamp';
const BURSTS = 3;
const TOPIC = 'bench.topic';
/** The procedure the callee session registers (not a core method: those cannot be registered). */
const CALLEE_PROCEDURE = 'bench.wamp_echo';

/** One RPC case: a metric label, the procedure, DESIGN.md targets (T3 for pgrt's core methods). */
interface RpcCase {
  readonly label: string;
  readonly procedure: string;
  readonly targets: {
    readonly p50: number | null;
    readonly p99: number | null;
    readonly rate: number | null;
  };
}

const NO_TARGETS = { p50: null, p99: null, rate: null } as const;
const ROUTED: RpcCase = { label: 'wamp_echo', procedure: CALLEE_PROCEDURE, targets: NO_TARGETS };
const CORE: readonly RpcCase[] = [
  { label: 'core_echo', procedure: 'bench.echo', targets: { p50: 0.2, p99: 1, rate: 40_000 } },
  { label: 'core_echo_notx', procedure: 'bench.echoNoTx', targets: { p50: 0.2, p99: 1, rate: 40_000 } },
];

/** A router to measure. */
interface Router {
  /** Metric prefix. */
  readonly label: 'pgrt' | 'foxwamp';
  /** Its server script (IPC as support/server.ts). */
  readonly script: string;
  readonly env: Readonly<Record<string, string>>;
  readonly describe: string;
  readonly cases: readonly RpcCase[];
}

/** The figures the ratio rows compare, per router label. */
type Headline = Map<string, number>;

function reporter(router: Router, note: string, headline: Headline) {
  return (
    metric: string,
    value: number,
    unit: string,
    better: Figure['better'],
    extra = '',
    target: number | null = null,
  ) => {
    headline.set(`${router.label}:${metric}`, value);
    report({
      scenario: SCENARIO,
      metric: `${router.label}_${metric}`,
      value,
      unit,
      target,
      better,
      note: extra ? `${extra}; ${note}` : note,
    });
  };
}

async function measure(router: Router, { seconds, quick }: Knobs, headline: Headline): Promise<void> {
  progress(SCENARIO, `${router.label}: starting ${router.describe}`);
  const server = await startServer({ script: router.script, env: router.env });
  const url = `ws://127.0.0.1:${server.port}/ws`;
  const note = `${router.describe}; Autobahn|JS 22.11.1 JSON; pinned=${server.pinned}`;
  const put = reporter(router, note, headline);
  const sessions: WampClient[] = [];
  const open = async (): Promise<WampClient> => {
    const client = await openWampClient(url);
    sessions.push(client);
    return client;
  };
  try {
    const callee = await open();
    const caller = await open();
    await callee.session.register(CALLEE_PROCEDURE, (args?: unknown[]) => args?.[0]);
    await rpc(server, caller, router.cases, { seconds, quick }, put);

    const subscribers = 200;
    const events = quick ? 200 : 500;
    progress(SCENARIO, `${router.label}: opening ${subscribers} subscriber sessions`);
    const subs = await inBatches(subscribers, 20, () => open());
    const receiver = new FanoutReceiver();
    await receiver.subscribe(
      subs.map((s) => s.session),
      TOPIC,
    );
    // Warm-up: every subscription is in place and the JIT has seen the path.
    await fanoutBurst(server, caller.session, receiver, subscribers, TOPIC, 20);
    const bursts: FanoutBurst[] = [];
    for (let run = 0; run < BURSTS; run++) {
      const b = await fanoutBurst(server, caller.session, receiver, subscribers, TOPIC, events);
      progress(
        SCENARIO,
        `${router.label} burst ${run + 1}: ${b.delivered}/${b.expected} at ${Math.round(b.perSecond)}/s, router CPU ${Math.round(b.serverCpuPercent)}%, client CPU ${Math.round(b.clientCpuPercent)}%`,
      );
      bursts.push(b);
      await sleep(300);
    }
    const m = medianFanout(bursts);
    const burstNote = `${subscribers} subs × ${events} events of ~200 B, median of ${BURSTS}; ${m.delivered}/${m.expected} delivered; router CPU ${Math.round(m.serverCpuPercent)}%, client CPU ${Math.round(m.clientCpuPercent)}%`;
    put('fanout_deliveries_per_s', m.perSecond, 'msgs/s', 'higher', burstNote);
    put('fanout_per_server_cpu_s', m.perServerCpuSecond, 'msgs/cpu-s', 'higher', burstNote);
    put('fanout_burst_p50_ms', m.p50, 'ms', 'lower', `${burstNote}; 1/16 sample`);
    put('fanout_burst_p99_ms', m.p99, 'ms', 'lower', `${burstNote}; 1/16 sample`);

    const paced = quick ? 40 : 100;
    progress(SCENARIO, `${router.label}: ${paced} paced events at 20/s`);
    const p = await pacedFanout(caller.session, receiver, subscribers, TOPIC, paced, 50);
    const [p50, p99, max] = p.latency.quantiles(0.5, 0.99, 1);
    const pacedNote = `${subscribers} subs, ${paced} events at 20/s (${20 * subscribers} deliveries/s); ${p.delivered}/${p.expected} delivered`;
    put('fanout_paced_p50_ms', p50!, 'ms', 'lower', pacedNote);
    put('fanout_paced_p99_ms', p99!, 'ms', 'lower', pacedNote);
    put('fanout_paced_max_ms', max!, 'ms', 'lower', pacedNote);
  } finally {
    await Promise.allSettled(sessions.map((s) => s.close()));
    await stopServer(server);
  }
}

async function rpc(
  server: ServerProcess,
  caller: WampClient,
  cases: readonly RpcCase[],
  { seconds, quick }: Knobs,
  put: ReturnType<typeof reporter>,
): Promise<void> {
  const calls = quick ? 500 : 2000;
  for (const c of cases) {
    await sequentialCalls(caller.session, c.procedure, 200); // warm-up: JIT, pool connections
    progress(SCENARIO, `${c.label}: ${calls} sequential calls`);
    const samples = await sequentialCalls(caller.session, c.procedure, calls);
    const [p50, p99] = samples.quantiles(0.5, 0.99);
    put(`${c.label}_seq_p50_ms`, p50!, 'ms', 'lower', '', c.targets.p50);
    put(`${c.label}_seq_p99_ms`, p99!, 'ms', 'lower', '', c.targets.p99);
    progress(SCENARIO, `${c.label}: 64 in flight for ${seconds} s`);
    const { rate, cpu } = await callsPerSecond(server, caller.session, c.procedure, 64, seconds);
    put(
      `${c.label}_64_calls_per_s`,
      rate,
      'calls/s',
      'higher',
      `64 in flight, 1 session; router CPU ${Math.round(cpu)}%`,
      c.targets.rate,
    );
  }
}

/** pgrt ÷ fox-wamp for the headline figures (higher is better for pgrt in every row). */
function ratios(headline: Headline): void {
  const rows: readonly [metric: string, higherIsBetter: boolean][] = [
    ['wamp_echo_64_calls_per_s', true],
    ['wamp_echo_seq_p50_ms', false],
    ['fanout_deliveries_per_s', true],
    ['fanout_per_server_cpu_s', true],
    ['fanout_paced_p99_ms', false],
  ];
  for (const [metric, higherIsBetter] of rows) {
    const ours = headline.get(`pgrt:${metric}`);
    const theirs = headline.get(`foxwamp:${metric}`);
    if (ours === undefined || theirs === undefined || ours === 0 || theirs === 0) continue;
    report({
      scenario: SCENARIO,
      metric: `ratio_${metric}`,
      value: higherIsBetter ? ours / theirs : theirs / ours,
      unit: '×',
      target: null,
      better: 'higher',
      note: higherIsBetter ? 'pgrt ÷ fox-wamp (> 1: pgrt ahead)' : 'fox-wamp ÷ pgrt (> 1: pgrt ahead)',
    });
  }
}

async function body(knobs: Knobs): Promise<void> {
  const headline: Headline = new Map();
  const script = (name: string) => fileURLToPath(new URL(`./support/${name}`, import.meta.url));
  await measure(
    {
      label: 'pgrt',
      script: script('wamp-server.ts'),
      env: {},
      describe: 'pgrt router, realm1 bridged to the core (PostgreSQL)',
      cases: [ROUTED, ...CORE],
    },
    knobs,
    headline,
  );
  const dir = process.env.BENCH_FOXWAMP_DIR;
  if (!dir || !existsSync(join(dir, 'node_modules', 'fox-wamp'))) {
    progress(
      SCENARIO,
      'fox-wamp skipped: set BENCH_FOXWAMP_DIR to a directory with fox-wamp@0.7.28 installed (see wamp.ts)',
    );
    return;
  }
  await measure(
    {
      label: 'foxwamp',
      script: script('wamp-foxwamp-server.ts'),
      env: { BENCH_FOXWAMP_DIR: dir },
      describe: 'fox-wamp 0.7.28, in memory',
      cases: [ROUTED],
    },
    knobs,
    headline,
  );
  ratios(headline);
}

runScenario(SCENARIO, body);
