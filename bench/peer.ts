/**
 * Optional side-by-side with the peer ddp-server-reactive 0.4.0 (perf.md §4.7: 24.6k calls/s, 67k
 * deliveries/s), measured with the same raw client, the same process layout and the same pinning as rpc.ts
 * and fanout.ts, so that ratios within one run compare the servers, not the clients.
 *
 * Not like-for-like on the data path: the peer has no database, so its changes are made in its own process,
 * while pgrt's come from PostgreSQL through triggers, NOTIFY and live queries. Its `echo` does no I/O either,
 * whereas every pgrt method waits for its write fence.
 *
 * Runs only when env `BENCH_PEER_DIR` names a directory where the peer is installed, outside this repo:
 *   mkdir -p /tmp/pgrt-peer && cd /tmp/pgrt-peer && npm init -y && npm install ddp-server-reactive@0.4.0
 *   BENCH_PEER_DIR=/tmp/pgrt-peer npm run bench
 * The peer keys sessions by Date.now(), so subscribers connect 2 ms apart (ddp-bench.js did the same).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DdpClient } from './support/ddp-client.js';
import { DeliveryCounter, measureBurst, medianBurst } from './support/fanout-load.js';
import { progress, report, sleep, waitFor } from './support/measure.js';
import { callsPerSecond, sequentialCalls } from './support/rpc-load.js';
import { type Knobs, runScenario, startServer } from './support/scenario.js';

const SCENARIO = 'peer';
const PREFIX = 'reactive';
const RUNS = 3;

async function body({ seconds, quick }: Knobs): Promise<void> {
  const dir = process.env.BENCH_PEER_DIR;
  if (!dir || !existsSync(join(dir, 'node_modules', 'ddp-server-reactive'))) {
    progress(
      SCENARIO,
      'skipped: set BENCH_PEER_DIR to a directory with ddp-server-reactive installed (see peer.ts)',
    );
    return;
  }
  const server = await startServer({
    script: fileURLToPath(new URL('./support/peer-server.ts', import.meta.url)),
    env: { BENCH_PEER_DIR: dir },
  });
  const note = `ddp-server-reactive 0.4.0, in-memory; pinned=${server.pinned}`;

  const client = await DdpClient.connect(server.url);
  await sequentialCalls(client, 'bench.echo', 200);
  const samples = await sequentialCalls(client, 'bench.echo', quick ? 500 : 2000);
  const [p50, p99] = samples.quantiles(0.5, 0.99);
  report({
    scenario: SCENARIO,
    metric: `${PREFIX}_echo_seq_p50_ms`,
    value: p50!,
    unit: 'ms',
    target: null,
    better: 'lower',
    note,
  });
  report({
    scenario: SCENARIO,
    metric: `${PREFIX}_echo_seq_p99_ms`,
    value: p99!,
    unit: 'ms',
    target: null,
    better: 'lower',
    note,
  });
  progress(SCENARIO, `echo: 64 in flight for ${seconds} s`);
  const { rate, cpu } = await callsPerSecond(server, [client], 'bench.echo', 64, seconds);
  report({
    scenario: SCENARIO,
    metric: `${PREFIX}_echo_64_calls_per_s`,
    value: rate,
    unit: 'calls/s',
    target: null,
    better: 'higher',
    note: `64 in flight, 1 connection; server CPU ${Math.round(cpu)}%; ${note}`,
  });
  client.close();

  const subscribers = quick ? 200 : 1000;
  const changes = quick ? 50 : 100;
  progress(SCENARIO, `connecting ${subscribers} subscribers, 2 ms apart`);
  const counter = new DeliveryCounter();
  const clients: DdpClient[] = [];
  for (let i = 0; i < subscribers; i++) {
    const c = await DdpClient.connect(server.url);
    counter.attach(c);
    await c.subscribe('fan');
    clients.push(c);
    await sleep(2);
  }
  await server.burst(1);
  await waitFor(() => counter.count >= subscribers, 30_000);
  const results = [];
  for (let run = 0; run < RUNS; run++) {
    const result = await measureBurst(server, counter, changes * subscribers, () => server.burst(changes));
    progress(
      SCENARIO,
      `update burst ${run + 1}: ${result.delivered}/${result.expected} in ${Math.round(result.perSecond)}/s, server CPU ${Math.round(result.serverCpuPercent)}%, client CPU ${Math.round(result.clientCpuPercent)}%`,
    );
    results.push(result);
    await sleep(300);
  }
  const m = medianBurst(results);
  const burstNote = `${subscribers} subs × ${changes} updates, median of ${RUNS}; ${m.delivered}/${m.expected} delivered; server CPU ${Math.round(m.serverCpuPercent)}%, client CPU ${Math.round(m.clientCpuPercent)}%; ${note}`;
  report({
    scenario: SCENARIO,
    metric: `${PREFIX}_update_deliveries_per_s`,
    value: m.perSecond,
    unit: 'msgs/s',
    target: null,
    better: 'higher',
    note: burstNote,
  });
  report({
    scenario: SCENARIO,
    metric: `${PREFIX}_update_per_server_cpu_s`,
    value: m.perServerCpuSecond,
    unit: 'msgs/cpu-s',
    target: null,
    better: 'higher',
    note: burstNote,
  });
  for (const c of clients) c.close();
}

runScenario(SCENARIO, body);
