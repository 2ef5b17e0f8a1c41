/**
 * Rolling deploy behind a real HAProxy (examples/deploy/haproxy.cfg), the full size: three pgrt processes
 * on one database, `BENCH_DEPLOY_CLIENTS` clients (default 300; 30 with BENCH_QUICK=1) split evenly over DDP on a
 * raw WebSocket, DDP over SockJS (websocket) and WAMP (Autobahn|JS), an external writer inserting, updating and
 * deleting every 10 ms, and the three processes restarted one at a time (SIGTERM → drain 5 s → exit → start →
 * HAProxy UP). The scenario is test/fixtures/rolling-deploy.ts (the test runs it with a few clients and asserts).
 * Figures: per client kind `<kind>_lost|extra|stale|duplicated` (expected 0), `_reconnected` (of `_clients`),
 * `_resumed` and `_full_resends` (DDP reconnections that got their session back vs a new one with all data again),
 * `_failed_attempts` (connection attempts that failed before ready and were retried);
 * `reconnect_p50|p99_ms` (close → subscription ready again; for a resumed DDP session, → the `ready` after its
 * difference), `latency_p50|p99_ms` (INSERT sent → live `added` at a client, rows inserted during the deploy; rows
 * a client takes while reconnecting are not live), `arrival_p50|p99_ms` (INSERT sent → the row's first arrival at
 * each client however it came, outage included), `deploy_s`, `converge_ms`.
 *
 * Usage: npx tsx bench/rolling-deploy.ts   (PostgreSQL: see bench/README.md)
 */
import { runRollingDeploy } from '../test/fixtures/rolling-deploy.js';
import { databaseUrl, ensureDatabase } from './support/environment.js';
import { progress, report } from './support/measure.js';

const SCENARIO = 'rolling-deploy';
const quick = process.env.BENCH_QUICK === '1';
const total = Number(process.env.BENCH_DEPLOY_CLIENTS ?? (quick ? 30 : 300));
const perKind = Math.max(1, Math.round(total / 3));

await ensureDatabase();
const result = await runRollingDeploy({
  databaseUrl: databaseUrl(),
  clientsPerKind: perKind,
  drainDelayMs: 5000,
  writeIntervalMs: 10,
  progress: (message) => progress(SCENARIO, message),
});
const note = `${perKind * 3} clients behind HAProxy, 3 processes, writes every 10 ms (${result.writes.ok} ok, ${result.writes.failed} failed)`;
const figure = (metric: string, value: number, unit: string, better: 'lower' | 'higher' = 'lower') =>
  report({ scenario: SCENARIO, metric, value, unit, target: null, better, note });
for (const [kind, k] of Object.entries(result.kinds)) {
  figure(`${kind}_clients`, k.clients, 'clients', 'higher');
  figure(`${kind}_lost`, k.lost, 'docs');
  figure(`${kind}_extra`, k.extra, 'docs');
  figure(`${kind}_stale`, k.stale, 'docs');
  figure(`${kind}_duplicated`, k.duplicated, 'messages');
  figure(`${kind}_reconnected`, k.reconnected, 'clients', 'higher');
  figure(`${kind}_resumed`, k.resumed, 'reconnections', 'higher');
  figure(`${kind}_full_resends`, k.fullResends, 'reconnections');
  figure(`${kind}_failed_attempts`, k.failedAttempts, 'attempts');
}
figure('reconnect_p50_ms', result.reconnectMs.p50, 'ms');
figure('reconnect_p99_ms', result.reconnectMs.p99, 'ms');
figure('latency_p50_ms', result.latencyMs.p50, 'ms');
figure('latency_p99_ms', result.latencyMs.p99, 'ms');
figure('arrival_p50_ms', result.arrivalMs.p50, 'ms');
figure('arrival_p99_ms', result.arrivalMs.p99, 'ms');
figure('deploy_s', result.deployMs / 1000, 's');
figure('converge_ms', result.convergeMs, 'ms');
if (result.examples.length > 0) progress(SCENARIO, `differences: ${result.examples.join('; ')}`);
process.exit(0);
