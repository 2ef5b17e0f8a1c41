/**
 * `npx tsx examples/todos/main.ts`: the todos example on PORT (default 3000), DDP at /websocket and /sockjs,
 * WAMP at /ws (realm `realm1`: anonymous, or ticket/WAMP-CRA against the same users), on DATABASE_URL or an
 * embedded PostgreSQL. Seeds a public list and user `demo` / password `demo` (role admin) on first start.
 */
import pino from 'pino';
import { startTodosServer } from './server.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const { server } = await startTodosServer({
  port: Number.parseInt(process.env.PORT ?? '3000', 10),
  logger,
});
logger.info({ url: server.url }, 'todos example listening');
