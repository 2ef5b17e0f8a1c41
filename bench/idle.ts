/**
 * Idle memory per connection, server side (DESIGN.md: ≤ 12 KB RSS, ≤ 4 KB heap, issue 16 item 5: ≤ 3 KB heap; perf.md T4: a DDP session
 * open with no subscriptions, after GC, and ≤ 24 KB with one 10-doc subscription).
 *
 * For each N (1,000, 5,000 and 10,000; T4 is stated at 10,000) a fresh server process (run with --expose-gc)
 * is started and warmed with a few connections that are then closed; after forced GCs its RSS and JS heap are the baseline. Then N clients (in
 * this process) connect and finish the DDP handshake → measure; each subscribes to `empty` (a live query
 * over an empty table) → measure; each also subscribes to `ten` (10 rows of ~60 B) → measure. Figures are
 * (measurement − baseline) / N, cumulative: the `sub` figures include the connection itself.
 *
 * RSS is what the OS gives the process (allocator slack included, it rarely shrinks); heap is V8's used heap.
 * Heartbeats stay at Meteor's default (15 s), so their timers are part of the cost.
 *
 * Usage: npx tsx bench/idle.ts [N...]   (default 1000 5000 10000)
 */
import { DdpClient } from './support/ddp-client.js';
import { inBatches, progress, report, sleep } from './support/measure.js';
import { connectWriter, type Knobs, runScenario, startServer, stopServer } from './support/scenario.js';
import type { MemReply } from './support/server-protocol.js';

const SCENARIO = 'idle';
const KB = 1024;

interface Phase {
  readonly label: string;
  readonly rssTarget: number | null;
  readonly heapTarget: number | null;
}

const PHASES: readonly Phase[] = [
  { label: 'connected', rssTarget: 12, heapTarget: 3 },
  { label: 'sub_empty', rssTarget: null, heapTarget: null },
  { label: 'sub_ten', rssTarget: 24, heapTarget: null },
];

async function measureN(n: number): Promise<void> {
  const server = await startServer();
  // Warm-up: load and JIT the connection and subscription paths, then return to zero connections.
  const warm = await inBatches(20, 20, () => DdpClient.connect(server.url));
  await Promise.all(warm.flatMap((c) => [c.subscribe('empty'), c.subscribe('ten')]));
  for (const c of warm) c.close();
  await Promise.all(warm.map((c) => c.closed()));
  await sleep(300);
  const baseline = await server.memory();
  if (!baseline.gc) progress(SCENARIO, 'warning: server runs without --expose-gc, figures include garbage');

  const measure = async (phase: Phase): Promise<void> => {
    await sleep(300);
    const sessions = await server.sessions();
    const m: MemReply = await server.memory();
    const rss = (m.rss - baseline.rss) / n / KB;
    const heap = (m.heapUsed - baseline.heapUsed) / n / KB;
    progress(
      SCENARIO,
      `${n} ${phase.label}: ${sessions} sessions, RSS ${(m.rss / 2 ** 20).toFixed(1)} MB, heap ${(m.heapUsed / 2 ** 20).toFixed(1)} MB`,
    );
    const note = `${n} connections, ${sessions} server sessions; after gc()`;
    report({
      scenario: SCENARIO,
      metric: `${phase.label}_rss_kb_per_conn_${n}`,
      value: rss,
      unit: 'KB',
      target: phase.rssTarget,
      better: 'lower',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: `${phase.label}_heap_kb_per_conn_${n}`,
      value: heap,
      unit: 'KB',
      target: phase.heapTarget,
      better: 'lower',
      note,
    });
  };

  progress(SCENARIO, `${n}: connecting`);
  const clients = await inBatches(n, 100, () => DdpClient.connect(server.url));
  await measure(PHASES[0]!);
  await inBatches(n, 100, (i) => clients[i]!.subscribe('empty'));
  await measure(PHASES[1]!);
  await inBatches(n, 100, (i) => clients[i]!.subscribe('ten'));
  await measure(PHASES[2]!);
  for (const c of clients) c.close();
  await stopServer(server);
}

async function body({ quick }: Knobs): Promise<void> {
  const writer = await connectWriter();
  await writer.query('TRUNCATE bench_empty, bench_ten RESTART IDENTITY');
  await writer.query(
    "INSERT INTO bench_ten (v, pad) SELECT g, repeat('t', 50) FROM generate_series(1, 10) g",
  );
  await writer.end();
  const args = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  const sizes = args.length > 0 ? args : quick ? [1000] : [1000, 5000, 10_000];
  for (const n of sizes) await measureN(n);
}

runScenario(SCENARIO, body);
