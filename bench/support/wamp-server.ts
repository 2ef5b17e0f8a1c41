/**
 * pgrt as the WAMP router under test, in its own process (started by {@link startServerProcess} with this
 * script): the bench app (bench-app.ts) over DDP and WAMP on 127.0.0.1, port 0. WAMP serves one realm, `realm1`,
 * anonymous and bridged to the core, with loose URI checking so that every bench method is callable
 * (`bench.echoNoTx` is not a strict URI). IPC: server-ipc.ts. Warnings and errors go to stderr.
 * Env `BENCH_WAMP_COALESCE_MS`: the WAMP adapter's `coalesceMs` (`off`: false; default the adapter's, 0), for A/B.
 */
import { createServer, ddp, wamp } from '../../index.js';
import { benchApp, migrateBench } from './bench-app.js';
import { failStart, serveScenario, stderrLogger } from './server-ipc.js';

const logger = stderrLogger('router');

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const server = await createServer({
    app: benchApp(),
    protocols: [ddp(), wamp({ realms: [{ name: 'realm1', uriCheck: 'loose' }], ...coalesceOption() })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    migrate: migrateBench,
    logger,
    // The bench measures capacity: the per-connection request budget (a policy, 1000 per 10 s by default)
    // would refuse the pipelined calls after the first thousand.
    rateLimits: { perConnection: false },
  });
  serveScenario(server.port, {
    sessions: () => server.core.sessions.size,
    close: () => server.close(),
  });
}

function coalesceOption(): { coalesceMs?: number | false } {
  const value = process.env.BENCH_WAMP_COALESCE_MS;
  if (value === undefined || value === '') return {};
  return { coalesceMs: value === 'off' ? false : Number(value) };
}

main().catch(failStart);
