/**
 * Fan-out: deliveries/s to 1,000 subscribers of one publication (DESIGN.md: ≥ 300k/s with coalesced frames,
 * ≥ 90k/s without, one server core; perf.md T2).
 *
 * 1,000 DDP clients (in this process) subscribe to `fan` (every row of bench_fan); the server under test runs
 * in its own process, pinned to its own core when pinning is on, and reports its CPU time. An external `pg`
 * writer then makes a burst of changes and we count the data messages received across all clients:
 * - `update` burst: one DO block that updates one row K times, committing after each update, so every
 *   subscriber should get K `changed` (K commits, not one: within one transaction a server may legitimately
 *   collapse the updates of one row);
 * - `insert` burst: one INSERT … SELECT of K ~200-B rows, so every subscriber gets K `added`.
 * Deliveries/s = messages received / (last receipt − burst start). Each burst runs 3 times; the median is
 * reported, with the server's CPU % and deliveries per server-CPU-second (what one fully busy core would do).
 * Receivers count frames by their prefix without parsing them, to keep the client side cheap; when the client
 * process is near 100% CPU (see the note), the figure is a floor set by the clients, not the server.
 *
 * Each subscriber count runs twice, on a fresh server each: with coalescing off (`ddp({ coalesceMs: false })`,
 * one socket write per message; metrics `*_nocoalesce`) and with the default (`coalesceMs: 0`, a session's
 * frames of one event-loop turn in one write; no suffix). `BENCH_COALESCE_MS=2` makes the second run use 2 ms.
 *
 * Usage: npx tsx bench/fanout.ts [subscribers=1000 …] [--changes=100]
 *   e.g. `npx tsx bench/fanout.ts 100 1000 10000` (10,000 subscribers need `ulimit -n` ≥ 20,100)
 */
import type pg from 'pg';
import { DdpClient } from './support/ddp-client.js';
import { type BurstResult, DeliveryCounter, measureBurst, medianBurst } from './support/fanout-load.js';
import { inBatches, progress, report, sleep, waitFor } from './support/measure.js';
import { connectWriter, type Knobs, runScenario, startServer, stopServer } from './support/scenario.js';

const SCENARIO = 'fanout';
const RUNS = 3;

async function body({ quick }: Knobs): Promise<void> {
  const args = process.argv.slice(2);
  const changesArg = args.find((a) => a.startsWith('--changes='));
  const changes = Number(changesArg?.slice('--changes='.length) ?? (quick ? 50 : 100));
  const counts = args.filter((a) => !a.startsWith('--')).map(Number);
  const coalesced = process.env.BENCH_COALESCE_MS ?? '0';
  for (const subscribers of counts.length > 0 ? counts : [quick ? 200 : 1000]) {
    for (const mode of ['off', coalesced]) await runFanout(subscribers, changes, mode);
  }
}

async function runFanout(subscribers: number, changes: number, coalesce: string): Promise<void> {
  const suffix = `${subscribers === 1000 ? '' : `_${subscribers}`}${coalesce === 'off' ? '_nocoalesce' : ''}`;
  const writer = await connectWriter();
  await writer.query('SET synchronous_commit = off');
  await writer.query('TRUNCATE bench_fan RESTART IDENTITY');
  await writer.query("INSERT INTO bench_fan (v, pad) VALUES (0, 'f')");
  const server = await startServer({ env: { BENCH_COALESCE_MS: coalesce } });

  progress(SCENARIO, `connecting ${subscribers} subscribers`);
  const clients = await inBatches(subscribers, 50, () => DdpClient.connect(server.url));
  await inBatches(clients.length, 50, (i) => clients[i]!.subscribe('fan'));
  const counter = new DeliveryCounter();
  for (const client of clients) counter.attach(client);

  const updateBurst = (): Promise<pg.QueryResult> =>
    writer.query(
      `DO $$ BEGIN FOR i IN 1..${changes} LOOP UPDATE bench_fan SET v = v + 1 WHERE id = 1; COMMIT; END LOOP; END $$`,
    );
  const pad = 'p'.repeat(150);
  const insertBurst = (): Promise<pg.QueryResult> =>
    writer.query('INSERT INTO bench_fan (v, pad) SELECT g, $1 FROM generate_series(1, $2::int) g', [
      pad,
      changes,
    ]);

  // Warm-up: one small update round through every session.
  await writer.query('UPDATE bench_fan SET v = v + 1 WHERE id = 1');
  await waitFor(() => counter.count >= subscribers, 30_000);
  await sleep(200);

  for (const [kind, write] of [
    ['update', updateBurst],
    ['insert', insertBurst],
  ] as const) {
    const results: BurstResult[] = [];
    for (let run = 0; run < RUNS; run++) {
      const result = await measureBurst(server, counter, changes * subscribers, write);
      progress(
        SCENARIO,
        `${kind} burst ${run + 1}: ${result.delivered}/${result.expected} in ${Math.round(result.perSecond)}/s, server CPU ${Math.round(result.serverCpuPercent)}%, client CPU ${Math.round(result.clientCpuPercent)}%`,
      );
      results.push(result);
      await sleep(300);
    }
    const m = medianBurst(results);
    const note = `${subscribers} subs × ${changes} ${kind}s, coalesceMs=${coalesce}, median of ${RUNS}; ${m.delivered}/${m.expected} delivered; server CPU ${Math.round(m.serverCpuPercent)}%, client CPU ${Math.round(m.clientCpuPercent)}%; pinned=${server.pinned}`;
    report({
      scenario: SCENARIO,
      metric: `${kind}_deliveries_per_s${suffix}`,
      value: m.perSecond,
      unit: 'msgs/s',
      target: coalesce === 'off' ? 90_000 : 300_000,
      better: 'higher',
      note,
    });
    report({
      scenario: SCENARIO,
      metric: `${kind}_per_server_cpu_s${suffix}`,
      value: m.perServerCpuSecond,
      unit: 'msgs/cpu-s',
      target: null,
      better: 'higher',
      note: 'deliveries per second of server CPU time (one busy core)',
    });
    report({
      scenario: SCENARIO,
      metric: `${kind}_server_cpu_pct${suffix}`,
      value: m.serverCpuPercent,
      unit: '%',
      target: null,
      better: 'lower',
      note,
    });
  }

  for (const client of clients) client.close();
  await stopServer(server);
  await writer.query('TRUNCATE bench_fan RESTART IDENTITY');
  await writer.end();
}

runScenario(SCENARIO, body);
