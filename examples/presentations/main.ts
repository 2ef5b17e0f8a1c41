/**
 * `npm start`: serves the presentations demo on PORT (default 3000) — DDP at /websocket — on the database in
 * DATABASE_URL, or on an embedded PostgreSQL started under .pgrt/pgdata when it is unset.
 */
import pino from 'pino';
import { createServer, ddp } from '../../server.js';
import { migratePresentations, presentationsApp } from './app.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const port = Number.parseInt(process.env.PORT ?? '3000', 10);

const server = await createServer({
  app: presentationsApp(),
  protocols: [ddp()],
  port,
  migrate: migratePresentations,
  logger,
});

logger.info(
  { port: server.port, database: server.database },
  `pgrt presentations demo: DDP at ws://localhost:${server.port}/websocket (database: ${server.database})`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
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
