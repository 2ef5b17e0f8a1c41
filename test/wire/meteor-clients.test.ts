/**
 * Real third-party Meteor clients against pgrt's accounts (issue 13): `@meteorrn/core` (the React Native Meteor
 * client, minimongo inside) and `simpleddp-plugin-login`. They live in test/clients/ (a package of its own:
 * @meteorrn/core declares react-native as a peer; .ci/run installs it). @meteorrn/core imports its files without
 * extensions, which tsx's loader (mocha runs with it) resolves.
 *
 * - @meteorrn/core: `Accounts.createUser` with an extra field reaches `onCreateUser`; `Meteor.user()` is the
 *   published document; `loginWithPassword`; after a reconnection the stored token logs it in again (`login
 *   {resume}`, type `resume` in the server's `onLogin`).
 * - simpleddp-plugin-login: `login` fires `login`; after a reconnection its automatic `login {resume}` fires
 *   `loginResume`, which it decides by the result's `type`.
 * - @rocket.chat/ddp-client (Rocket.Chat's DDPSDK): `createUser` with an extra field, `loginWithPassword` (it sends
 *   the SHA-256 digest its caller computed), the user's published document through `onCollection`, a private
 *   method seeing the user, the automatic `login {resume}` after a reconnection, `logout`.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import simpleDDP from 'simpleddp';
import WebSocket from 'ws';
import { type Accounts, accounts, type LoginAttempt } from '../../core/accounts/accounts.js';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const clients = createRequire(new URL('../clients/package.json', import.meta.url));

/** The parts of Rocket.Chat's DDPSDK (@rocket.chat/ddp-client) this test uses. */
interface RocketChatSdk {
  readonly connection: { connect(): Promise<unknown>; close(): void; readonly status: string };
  readonly client: {
    callAsync(method: string, ...params: unknown[]): Promise<unknown>;
    onCollection(
      name: string,
      callback: (data: { msg: string; id?: string; fields?: Record<string, unknown> }) => void,
    ): () => void;
  };
  readonly account: {
    readonly uid: string | undefined;
    loginWithPassword(username: string, digest: string): Promise<void>;
    logout(): Promise<void>;
  };
}

/** The parts of @meteorrn/core's API this test uses. */
interface MeteorRn {
  connect(endpoint: string, options: Record<string, unknown>): void;
  disconnect(): void;
  reconnect(): void;
  status(): { connected: boolean };
  userId(): string | null;
  user(): { _id: string; username?: string; profile?: Record<string, unknown> } | null;
  loginWithPassword(user: string, password: string, callback: (error?: unknown) => void): void;
  logout(callback: (error?: unknown) => void): void;
  call(name: string, ...args: unknown[]): void;
}

describe('real Meteor clients: @meteorrn/core, simpleddp-plugin-login, @rocket.chat/ddp-client', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  let server: PgrtServer;
  let store: Accounts;
  let url: string;
  const created: Record<string, unknown>[] = [];
  const logins: Pick<LoginAttempt, 'type' | 'methodName'>[] = [];

  const logouts: (string | undefined)[] = [];

  before(async () => {
    store = accounts({ bcryptRounds: 4 });
    store.onLogout(({ user }) => {
      logouts.push(user?._id);
    });
    store.onCreateUser((options, user) => {
      created.push({ ...options });
      return { ...user, profile: { referrer: options.referrer ?? null } };
    });
    store.onLogin((attempt) => {
      logins.push({ type: attempt.type, methodName: attempt.methodName });
    });
    server = await createServer({
      app: new App().use(store).method('whoami', async (ctx) => ctx.userId),
      accounts: store,
      protocols: [ddp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: false,
    });
    url = `ws://127.0.0.1:${server.port}/websocket`;
  });
  after(async () => server?.close());

  it('@meteorrn/core: createUser with extra fields, the published user, password login, resume after a reconnect', async () => {
    const module = (await import(clients.resolve('@meteorrn/core'))) as {
      default: MeteorRn;
      Accounts: { createUser(options: Record<string, unknown>, callback: (error?: unknown) => void): void };
    };
    const Meteor = module.default;
    // React Native has a global WebSocket; Node 20 has none (Meteor.connect names it before reading options).
    const global = globalThis as { WebSocket?: unknown };
    const hadWebSocket = 'WebSocket' in global;
    global.WebSocket ??= WebSocket;
    const storage = new Map<string, string>();
    Meteor.connect(url, {
      SocketConstructor: WebSocket,
      AsyncStorage: {
        getItem: async (key: string) => storage.get(key) ?? null,
        setItem: async (key: string, value: string) => void storage.set(key, value),
        removeItem: async (key: string) => void storage.delete(key),
      },
      autoConnect: true,
      autoReconnect: false,
    });
    try {
      await waitUntil(() => Meteor.status().connected, { what: () => 'connected' });
      const username = `rn_${tag}`;
      await new Promise<void>((resolve, reject) =>
        module.Accounts.createUser({ username, password: 'rn-pw', referrer: 'app-store' }, (error) =>
          error ? reject(new Error(JSON.stringify(error))) : resolve(),
        ),
      );
      assert.deepEqual(created.at(-1), {
        username,
        password: created.at(-1)?.password,
        referrer: 'app-store',
      });
      await waitUntil(() => Meteor.user()?.username === username, { what: () => 'the published user' });
      assert.deepEqual(Meteor.user()?.profile, { referrer: 'app-store' });
      const id = Meteor.userId();
      await new Promise<void>((resolve, reject) => Meteor.logout((e) => (e ? reject(e) : resolve())));
      await waitUntil(() => Meteor.userId() === null, { what: () => 'logged out' });
      await new Promise<void>((resolve, reject) =>
        Meteor.loginWithPassword(username, 'rn-pw', (e) =>
          e ? reject(new Error(JSON.stringify(e))) : resolve(),
        ),
      );
      assert.equal(Meteor.userId(), id);
      logins.length = 0;
      Meteor.disconnect();
      await waitUntil(() => !Meteor.status().connected, { what: () => 'disconnected' });
      Meteor.reconnect();
      await waitUntil(() => logins.some((l) => l.type === 'resume'), { what: () => 'resumed on the server' });
      await waitUntil(() => Meteor.user()?._id === id, { what: () => 'the user again after the resume' });
    } finally {
      Meteor.disconnect();
      if (!hadWebSocket) delete global.WebSocket;
    }
  });

  it('simpleddp-plugin-login: login fires "login"; the resume after a reconnection fires "loginResume"', async () => {
    const username = `simple_${tag}`;
    await store.createUser({ username, password: 'simple-pw' });
    const { simpleDDPLogin } = (await import(clients.resolve('simpleddp-plugin-login'))) as {
      simpleDDPLogin: unknown;
    };
    const client = new simpleDDP({ endpoint: url, SocketConstructor: WebSocket, reconnectInterval: 50 }, [
      simpleDDPLogin,
    ]) as unknown as {
      connect(): Promise<void>;
      disconnect(): Promise<void>;
      on(event: string, handler: (m: unknown) => void): void;
      login(options: unknown): Promise<{ id: string; type: string }>;
    };
    const events: string[] = [];
    for (const event of ['login', 'loginResume', 'loginResumeFailed'])
      client.on(event, () => {
        events.push(event);
      });
    await client.connect();
    try {
      const result = await client.login({ user: { username }, password: 'simple-pw' });
      assert.equal(result.type, 'password');
      await waitUntil(() => events.includes('login'), { what: () => `events: ${events.join(', ')}` });
      await client.disconnect();
      await client.connect();
      await waitUntil(() => events.includes('loginResume'), { what: () => `events: ${events.join(', ')}` });
      assert.deepEqual(events, ['login', 'loginResume']);
    } finally {
      await client.disconnect();
    }
  });

  it('@rocket.chat/ddp-client: createUser with extra fields, password login, the published user, resume after a reconnect, logout', async () => {
    const { DDPSDK } = (await import(clients.resolve('@rocket.chat/ddp-client'))) as {
      DDPSDK: { createAndConnect(url: string): Promise<RocketChatSdk> };
    };
    // The SDK builds its socket with the global WebSocket (browsers, React Native); Node 20 has none.
    const global = globalThis as { WebSocket?: unknown };
    const hadWebSocket = 'WebSocket' in global;
    global.WebSocket ??= WebSocket;
    const sdk = await DDPSDK.createAndConnect(`http://127.0.0.1:${server.port}`);
    try {
      const username = `rc_${tag}`;
      const digest = createHash('sha256').update('rc-pw').digest('hex');
      const password = { digest, algorithm: 'sha-256' };
      const published = new Map<string, Record<string, unknown>>();
      sdk.client.onCollection('users', (data) => {
        if (data.msg === 'added' && data.id) published.set(data.id, { ...data.fields });
      });
      const made = (await sdk.client.callAsync('createUser', { username, password, team: 'ops' })) as {
        id: string;
        type: string;
      };
      assert.equal(made.type, 'password');
      assert.equal(created.at(-1)?.team, 'ops', 'the extra field reached onCreateUser');
      await sdk.client.callAsync('logout');
      logins.length = 0;
      await sdk.account.loginWithPassword(username, digest);
      assert.equal(sdk.account.uid, made.id);
      assert.deepEqual(logins, [{ type: 'password', methodName: 'login' }]);
      assert.equal(await sdk.client.callAsync('whoami'), made.id);
      await waitUntil(() => published.get(made.id)?.username === username, {
        what: () => 'the published user',
      });
      // A new connection: the SDK logs in again with its token by itself (`login {resume}`).
      logins.length = 0;
      sdk.connection.close();
      await waitUntil(() => sdk.connection.status === 'closed', { what: () => 'closed' });
      await sdk.connection.connect();
      await waitUntil(() => logins.some((l) => l.type === 'resume'), { what: () => 'resumed on the server' });
      assert.equal(await sdk.client.callAsync('whoami'), made.id);
      await sdk.account.logout();
      assert.equal(sdk.account.uid, undefined);
      await waitUntil(() => logouts.includes(made.id), { what: () => 'onLogout ran' });
      assert.equal(await sdk.client.callAsync('whoami'), null);
    } finally {
      sdk.connection.close();
      if (!hadWebSocket) delete global.WebSocket;
    }
  });
});
