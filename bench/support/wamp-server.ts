/**
 * pgrt as the WAMP router under test, in its own process (started by {@link startServerProcess} with this
 * script): the bench app (bench-app.ts) over DDP and WAMP on 127.0.0.1, port 0. WAMP serves one realm, `realm1`,
 * anonymous and bridged to the core, with loose URI checking so that every bench method is callable
 * (`bench.echoNoTx` is not a strict URI). IPC as ./server.ts (wamp-ipc.ts). Warnings and errors go to stderr.
 */
import type { Logger } from '../../core/logger.js';
import { createServer, ddp, wamp } from '../../server.js';
import { benchApp, migrateBench } from './bench-app.js';
import { failStart, serveScenario } from './wamp-ipc.js';

const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(fields, message) {
    process.stderr.write(`[router warn] ${message ?? ''} ${safeJson(fields)}\n`);
  },
  error(fields, message) {
    process.stderr.write(`[router error] ${message ?? ''} ${safeJson(fields)}\n`);
  },
  child() {
    return stderrLogger;
  },
};

function safeJson(value: object): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
    );
  } catch {
    return String(value);
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const server = await createServer({
    app: benchApp(),
    protocols: [ddp(), wamp({ realms: [{ name: 'realm1', uriCheck: 'loose' }] })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    migrate: migrateBench,
    logger: stderrLogger,
    // The bench measures capacity: the per-connection request budget (a policy, 1000 per 10 s by default)
    // would refuse the pipelined calls after the first thousand.
    rateLimits: { perConnection: false },
  });
  serveScenario(server.port, {
    sessions: () => server.core.sessions.size,
    close: () => server.close(),
  });
}

main().catch(failStart);
