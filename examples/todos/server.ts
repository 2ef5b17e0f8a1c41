/**
 * Starts the todos example as a server: the app on top of accounts, DDP at `/websocket` and `/sockjs`, WAMP at
 * `/ws` (realm `realm1`: anonymous, or ticket/WAMP-CRA against the same users), the Meteor client's stock
 * publications, and the seed data of a first start (a public list and user `demo` / password `demo`, role
 * `admin`). `main.ts` runs it from the command line; the attack suite (test/security/) runs it as its target.
 */

import type { DdpOptions } from '../../adapters/ddp/ddp-protocol.js';
import { accountsAuthenticators } from '../../adapters/wamp/accounts-authentication.js';
import { anonymousAuthenticator } from '../../adapters/wamp/authentication.js';
import type { WampOptions, WampRealmOptions } from '../../adapters/wamp/wamp-protocol.js';
import { type Accounts, type AccountsOptions, accounts } from '../../core/accounts/accounts.js';
import type { Logger } from '../../core/logger.js';
import { createServer, ddp, type PgrtServer, type ServerOptions, wamp } from '../../server.js';
import { migrateTodos, todosApp } from './app.js';

/** Options of {@link startTodosServer}: where to listen, and any server, adapter or accounts setting to change. */
export interface TodosServerOptions
  extends Partial<Omit<ServerOptions, 'app' | 'protocols' | 'migrate' | 'accounts'>> {
  readonly logger: Logger;
  /** DDP adapter options (defaults: Meteor's). */
  readonly ddp?: DdpOptions;
  /** WAMP adapter options besides the realm, which is always `realm1` with the accounts authenticators. */
  readonly wamp?: Omit<WampOptions, 'realms'>;
  /** More options of `realm1` (grants such as `metaApiRoles`, `roles`, …); default: the router's defaults. */
  readonly wampRealm?: Omit<WampRealmOptions, 'name' | 'authenticators'>;
  /** Accounts options (defaults: core/accounts). */
  readonly accounts?: AccountsOptions;
}

/** A started todos server and its accounts store. */
export interface TodosServer {
  readonly server: PgrtServer;
  readonly accounts: Accounts;
}

/** Starts the todos example and seeds it on its first start. */
export async function startTodosServer(options: TodosServerOptions): Promise<TodosServer> {
  const {
    ddp: ddpOptions,
    wamp: wampOptions,
    wampRealm,
    accounts: accountsOptions,
    ...serverOptions
  } = options;
  const users = accounts(accountsOptions);
  const server = await createServer({
    ...serverOptions,
    app: todosApp(users),
    protocols: [
      ddp({ meteorClient: {}, ...ddpOptions }),
      wamp({
        ...wampOptions,
        realms: [
          {
            ...wampRealm,
            name: 'realm1',
            authenticators: [...accountsAuthenticators(users), anonymousAuthenticator()],
          },
        ],
      }),
    ],
    migrate: migrateTodos,
  });
  const seeded = await server.db.query("SELECT 1 FROM pgrt.users WHERE lower(username) = 'demo'");
  if (seeded.rowCount === 0) {
    await users.createUser({ username: 'demo', password: 'demo', roles: ['admin'] });
    await server.db.query(
      "INSERT INTO todo_lists (id, name) VALUES ('public', 'Public list') ON CONFLICT DO NOTHING",
    );
  }
  return { server, accounts: users };
}
