/**
 * Reconnect storm: N DDP clients (default 10,000; quick 1,000) connect at the same moment — as after a server
 * restart behind a load balancer — each doing the handshake and subscribing to `ten` (10 rows). Prints the time
 * until every client is ready, the server's peak RSS while absorbing it (the kernel's VmHWM), its CPU
 * %, and the clients that failed (the expected count is 0). One client process on 127.0.0.1: 10,000 sockets
 * need `ulimit -n` ≥ ~10,100 in each process.
 *
 * Usage: npx tsx bench/reconnect-storm.ts [N=10000]
 */
import { readFileSync } from 'node:fs';
import { DdpClient } from './support/ddp-client.js';
import { progress, report } from './support/measure.js';
import { connectWriter, type Knobs, runScenario, startServer } from './support/scenario.js';

const SCENARIO = 'reconnect-storm';

async function body({ quick }: Knobs): Promise<void> {
  const n = Number(process.argv[2] ?? (quick ? 1000 : 10_000));
  const writer = await connectWriter();
  await writer.query('TRUNCATE bench_ten RESTART IDENTITY');
  await writer.query(
    "INSERT INTO bench_ten (v, pad) SELECT g, repeat('t', 50) FROM generate_series(1, 10) g",
  );
  await writer.end();
  const server = await startServer();
  const before = await server.memory();
  // The kernel's high-water mark of the server's RSS (VmHWM), read without disturbing the server.
  const peakRssOf = (): number => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  };
  progress(SCENARIO, `${n} clients connecting at once`);
  const cpu = await server.cpu();
  const started = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, async () => {
      const client = await DdpClient.connect(server.url, 60_000);
      await client.subscribe('ten');
      return client;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const span = await cpu();
  const peakRss = Math.max(peakRssOf(), before.rss);
  const after = await server.memory();
  const errors = outcomes.filter((o) => o.status === 'rejected').length;
  const note = `${n} clients, connect + sub ten at once; ${errors} failed; server CPU ${Math.round(span.percent)}%`;
  report({
    scenario: SCENARIO,
    metric: `all_ready_s_${n}`,
    value: seconds,
    unit: 's',
    target: null,
    better: 'lower',
    note,
  });
  report({
    scenario: SCENARIO,
    metric: `peak_rss_mb_${n}`,
    value: peakRss / 2 ** 20,
    unit: 'MB',
    target: null,
    better: 'lower',
    note: `baseline ${(before.rss / 2 ** 20).toFixed(1)} MB, after GC ${(after.rss / 2 ** 20).toFixed(1)} MB`,
  });
  report({
    scenario: SCENARIO,
    metric: `errors_${n}`,
    value: errors,
    unit: 'clients',
    target: 0,
    better: 'lower',
    note,
  });
  for (const o of outcomes) if (o.status === 'fulfilled') o.value.close();
}

runScenario(SCENARIO, body);
