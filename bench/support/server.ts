/**
 * The server under test, run as its own process (`node --import tsx --expose-gc bench/support/server.ts`,
 * started by {@link startServerProcess}) so that its CPU and memory are measured apart from the clients'.
 *
 * It serves the bench app over DDP on 127.0.0.1 (port 0), reports `{type:'ready', port}` over IPC, then answers
 * requests: `cpu` (process.cpuUsage, cumulative µs), `mem` (process.memoryUsage after forced GCs), `stats`
 * (open sessions) and `close`. It exits when its parent goes away. Warnings and errors are logged to stderr.
 */

import type { Logger } from '../../core/logger.js';
import { createServer, ddp } from '../../server.js';
import { benchApp, migrateBench } from './bench-app.js';
import type { ServerReply, ServerRequest } from './server-protocol.js';

const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn(fields, message) {
    process.stderr.write(`[server warn] ${message ?? ''} ${safeJson(fields)}\n`);
  },
  error(fields, message) {
    process.stderr.write(`[server error] ${message ?? ''} ${safeJson(fields)}\n`);
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

function send(message: ServerReply): void {
  process.send?.(message);
}

const gc = (globalThis as { gc?: () => void }).gc;

async function collectGarbage(): Promise<void> {
  if (!gc) return;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const heartbeatInterval = Number(process.env.BENCH_HEARTBEAT_MS ?? 15_000);
  // BENCH_COALESCE_MS: `off` = one socket write per message; a number = ddp({ coalesceMs }); unset = the default.
  const coalesce = process.env.BENCH_COALESCE_MS;
  const coalesceOption =
    coalesce === undefined ? {} : { coalesceMs: coalesce === 'off' ? (false as const) : Number(coalesce) };
  const server = await createServer({
    app: benchApp(),
    protocols: [ddp({ heartbeatInterval, ...coalesceOption })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    migrate: migrateBench,
    logger: stderrLogger,
    // The bench measures capacity: the per-connection request budget (a policy, 1000 per 10 s by default)
    // would refuse the pipelined calls after the first thousand.
    rateLimits: { perConnection: false },
  });

  process.on('message', (raw: unknown) => {
    const request = raw as ServerRequest;
    void (async () => {
      switch (request.op) {
        case 'cpu': {
          const { user, system } = process.cpuUsage();
          send({ id: request.id, op: 'cpu', user, system });
          return;
        }
        case 'mem': {
          await collectGarbage();
          const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
          send({
            id: request.id,
            op: 'mem',
            rss,
            heapUsed,
            heapTotal,
            external,
            arrayBuffers,
            gc: gc !== undefined,
          });
          return;
        }
        case 'stats':
          send({ id: request.id, op: 'stats', sessions: server.core.sessions.size });
          return;
        case 'close':
          await server.close();
          send({ id: request.id, op: 'close' });
          process.exit(0);
      }
    })().catch((error: unknown) => {
      process.stderr.write(`[server] request ${request.op} failed: ${String(error)}\n`);
    });
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: server.port });
}

main().catch((error: unknown) => {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  send({ type: 'failed', error: text });
  process.stderr.write(`[server] failed to start: ${text}\n`);
  process.exit(1);
});
