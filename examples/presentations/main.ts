/**
 * `npm start`: serves the presentations demo on PORT (default 3000): the web page at `/` (a live list over DDP on
 * SockJS), DDP at /sockjs and /websocket, WAMP at /ws (realm `realm1`), on the database in DATABASE_URL, or on an
 * embedded PostgreSQL started under .pgrt/pgdata when it is unset. With PGRT_TLS_CERT and PGRT_TLS_KEY (PEM file
 * paths) it serves https/wss only. Editing `examples/presentations/web/` rebuilds the page and open pages reload
 * (hot code push).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import pino from 'pino';
import { createServer, ddp, wamp } from '../../server.js';
import { migratePresentations, presentationsApp } from './app.js';
import { buildWebClient, watchWebClient } from './web-client.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const port = Number.parseInt(process.env.PORT ?? '3000', 10);
const webDir = resolve(process.env.PGRT_WEB_DIR ?? '.pgrt/web');
/** Graceful close drains clients this long at most; the process exits at the latest 2 s later. */
const SHUTDOWN_TIMEOUT_MS = 8_000;

function tlsFromEnv(): { cert: Buffer; key: Buffer } | undefined {
  const cert = process.env.PGRT_TLS_CERT;
  const key = process.env.PGRT_TLS_KEY;
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new Error('set both PGRT_TLS_CERT and PGRT_TLS_KEY (PEM file paths), or neither');
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

await buildWebClient(webDir);
const tls = tlsFromEnv();
const server = await createServer({
  app: presentationsApp(),
  protocols: [ddp(), wamp()],
  port,
  migrate: migratePresentations,
  logger,
  meteorClient: { staticDir: webDir },
  shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
  ...(tls ? { tls } : {}),
});
const sources = watchWebClient(webDir, (error) => logger.warn({ err: error }, 'web client rebuild failed'));

const scheme = tls ? 'https' : 'http';
logger.info(
  { port: server.port, database: server.database },
  `pgrt presentations demo: ${scheme}://localhost:${server.port}/ (DDP at /sockjs and /websocket, WAMP at /ws realm1; database: ${server.database})`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    sources.close();
    const force = setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS + 2_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
