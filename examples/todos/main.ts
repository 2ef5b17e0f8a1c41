/**
 * `npx tsx examples/todos/main.ts`: the todos example on PORT (default 3000), DDP at /websocket and /sockjs,
 * WAMP at /ws (realm `realm1`: anonymous, or ticket/WAMP-CRA against the same users), on DATABASE_URL or an
 * embedded PostgreSQL. Seeds a public list and user `demo` / password `demo` (role admin) on first start.
 */
import pino from 'pino';
import { accountsAuthenticators, anonymousAuthenticator } from '../../adapters/wamp/authentication.js';
import { accounts } from '../../core/accounts/accounts.js';
import { createServer, ddp, wamp } from '../../server.js';
import { migrateTodos, todosApp } from './app.js';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const users = accounts();
const server = await createServer({
  app: todosApp(users),
  protocols: [
    ddp(),
    wamp({
      realms: [
        { name: 'realm1', authenticators: [...accountsAuthenticators(users), anonymousAuthenticator()] },
      ],
    }),
  ],
  port: Number.parseInt(process.env.PORT ?? '3000', 10),
  migrate: migrateTodos,
  meteorClient: {},
  logger,
});
const seeded = await server.db.query("SELECT 1 FROM pgrt.users WHERE lower(username) = 'demo'");
if (seeded.rowCount === 0) {
  await users.createUser({ username: 'demo', password: 'demo', roles: ['admin'] });
  await server.db.query(
    "INSERT INTO todo_lists (id, name) VALUES ('public', 'Public list') ON CONFLICT DO NOTHING",
  );
}
logger.info({ url: server.url }, 'todos example listening');
