/**
 * The server under test, run as its own process (`node --import tsx --expose-gc bench/support/server.ts`,
 * started by {@link startServerProcess}) so that its CPU and memory are measured apart from the clients'.
 *
 * It serves the bench app over DDP on 127.0.0.1 (port 0), reports `{type:'ready', port}` over IPC, then answers
 * requests: `cpu` (process.cpuUsage, cumulative µs), `mem` (process.memoryUsage after forced GCs), `stats`
 * (open sessions) and `close`. It exits when its parent goes away. Warnings and errors are logged to stderr.
 */

import { createServer, ddp } from '../../index.js';
import { benchApp, migrateBench } from './bench-app.js';
import { failStart, serveScenario, stderrLogger } from './server-ipc.js';

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const heartbeatInterval = Number(process.env.BENCH_HEARTBEAT_MS ?? 15_000);
  // BENCH_COALESCE_MS: `off` = one socket write per message; a number = ddp({ coalesceMs }); unset = the default.
  const coalesce = process.env.BENCH_COALESCE_MS;
  const coalesceOption =
    coalesce === undefined ? {} : { coalesceMs: coalesce === 'off' ? (false as const) : Number(coalesce) };
  // BENCH_CAPTURE: the capture mode (notify, outbox, logical); unset = the default (notify).
  const capture = process.env.BENCH_CAPTURE as 'notify' | 'outbox' | 'logical' | undefined;
  const server = await createServer({
    app: benchApp(),
    ...(capture ? { capture } : {}),
    protocols: [ddp({ heartbeatInterval, ...coalesceOption })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    migrate: migrateBench,
    logger: stderrLogger('server'),
    // The bench measures capacity: the per-connection request budget (a policy, 1000 per 10 s by default)
    // would refuse the pipelined calls after the first thousand.
    rateLimits: { perConnection: false },
  });

  serveScenario(
    server.port,
    { sessions: () => server.core.sessions.size, close: () => server.close() },
    'server',
  );
}

main().catch((error: unknown) => failStart(error, 'server'));
