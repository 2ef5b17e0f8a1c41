/**
 * Accounts over both protocols, as an attacker would try them, on the todos example: a DDP client (raw `ws`) and
 * Autobahn|JS clients (WAMP ticket and WAMP-CRA against the same users). Private lists stay private, guarded
 * methods refuse anonymous callers, bad credentials get the documented errors, a DDP login token resumes over
 * WAMP, logout withdraws private data, and the forgotPassword → resetPassword flow logs the resetter in and closes
 * the user's other connections.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type autobahn from 'autobahn';
import { accountsAuthenticators } from '../../adapters/wamp/accounts-authentication.js';
import { anonymousAuthenticator, craKey, craSign } from '../../adapters/wamp/authentication.js';
import { subscribe } from '../../adapters/wamp/client.js';
import { openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { type Accounts, accounts, type LoginResult } from '../../core/accounts/accounts.js';
import type { EmailMessage } from '../../core/accounts/emails.js';
import { sha256Hex } from '../../core/accounts/password.js';
import { migrateTodos, todosApp } from '../../examples/todos/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const CREDENTIALS = 'Something went wrong. Please check your credentials.';

describe('accounts over DDP and WAMP (todos example)', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  const alice = `alice_${tag}`;
  const mallory = `mallory_${tag}`;
  const secretList = `secret_${tag}`;
  const publicList = `public_${tag}`;
  let server: PgrtServer;
  let store: Accounts;
  let aliceId: string;
  let ddpUrl: string;
  let wampUrl: string;
  const sent: EmailMessage[] = [];

  before(async () => {
    store = accounts({
      bcryptRounds: 4,
      rootUrl: 'https://todos.example.com',
      sendEmail: async (message) => {
        sent.push(message);
      },
    });
    server = await createServer({
      app: todosApp(store),
      accounts: store,
      protocols: [
        ddp(),
        wamp({
          realms: [
            { name: 'realm1', authenticators: [...accountsAuthenticators(store), anonymousAuthenticator()] },
          ],
        }),
      ],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migrateTodos,
      rateLimits: false,
    });
    ddpUrl = `ws://127.0.0.1:${server.port}/websocket`;
    wampUrl = `ws://127.0.0.1:${server.port}/ws`;
    aliceId = await store.createUser({ username: alice, password: 'alice-pw' });
    await store.createUser({ username: mallory, password: 'mallory-pw' });
    await server.db.query('INSERT INTO todo_lists (id, name) VALUES ($1, $2)', [publicList, 'Public']);
    await server.db.query('INSERT INTO todo_lists (id, name, owner_id) VALUES ($1, $2, $3)', [
      secretList,
      'Secret',
      aliceId,
    ]);
    await server.db.query("INSERT INTO todos (id, list_id, text) VALUES ($1, $2, 'the secret')", [
      `todo_${tag}`,
      secretList,
    ]);
  });
  after(async () => server?.close());

  const ticket = (authid: string, secret: string) =>
    openAutobahn(wampUrl, { authmethods: ['ticket'], authid, onchallenge: () => secret });

  describe('over DDP', () => {
    it('another user subscribing to a private list sees nothing of it', async () => {
      const client = await RawDdpClient.connect(ddpUrl);
      await client.apply('login', { user: { username: mallory }, password: 'mallory-pw' });
      await client.subscribe('lists');
      await client.subscribe('todos', [secretList]);
      assert.ok(client.view('lists').has(publicList));
      assert.ok(!client.view('lists').has(secretList));
      assert.equal(client.view('todos').size, 0);
      const write = await client.call('todos.add', secretList, 'injected');
      assert.equal(write.error?.error, 403);
      assert.equal(write.error?.reason, 'Access denied');
      await client.close();
    });

    it('a guarded method called anonymously gets 403 Login required', async () => {
      const client = await RawDdpClient.connect(ddpUrl);
      const outcome = await client.call('todos.add', publicList, 'x');
      assert.deepEqual(
        { error: outcome.error?.error, reason: outcome.error?.reason },
        { error: 403, reason: 'Login required' },
      );
      await client.close();
    });

    it('wrong password and unknown user get the identical 403; forged and expired tokens theirs', async () => {
      const client = await RawDdpClient.connect(ddpUrl);
      const wrong = await client.call('login', {
        user: { username: alice },
        password: { digest: sha256Hex('guess'), algorithm: 'sha-256' },
      });
      const unknown = await client.call('login', {
        user: { username: `nobody_${tag}` },
        password: { digest: sha256Hex('guess'), algorithm: 'sha-256' },
      });
      assert.equal(wrong.error?.reason, CREDENTIALS);
      assert.deepEqual(unknown.error, wrong.error);
      const forged = await client.call('login', { resume: 'x'.repeat(43) });
      assert.equal(forged.error?.reason, "You've been logged out by the server. Please log in again.");
      const { token } = (await client.apply('login', {
        user: { username: alice },
        password: 'alice-pw',
      })) as {
        token: string;
      };
      await server.db.query(
        `UPDATE pgrt.login_tokens SET "when" = now() - interval '100 days' WHERE user_id = $1`,
        [aliceId],
      );
      const other = await RawDdpClient.connect(ddpUrl);
      const expired = await other.call('login', { resume: token });
      assert.equal(expired.error?.error, 403);
      assert.equal(expired.error?.reason, 'Your session has expired. Please log in again.');
      await other.close();
      await client.close();
    });

    it('login reruns subscriptions with the private data; logout removes it', async () => {
      const client = await RawDdpClient.connect(ddpUrl);
      await client.subscribe('lists');
      await client.subscribe('todos', [secretList]);
      assert.ok(!client.view('lists').has(secretList));
      const result = (await client.apply('login', { user: { username: alice }, password: 'alice-pw' })) as {
        id: string;
        tokenExpires: unknown;
      };
      assert.equal(result.id, aliceId);
      assert.ok(result.tokenExpires instanceof Date, 'tokenExpires arrives as an EJSON date');
      assert.ok(client.view('lists').has(secretList), 'private list after login');
      assert.equal(client.view('todos').size, 1);
      // Only the safe fields (this user has neither email nor profile): no roles, no hashes, no tokens.
      assert.deepEqual(Object.keys(client.view('users').get(aliceId) ?? {}).sort(), ['username']);
      await client.apply('logout');
      assert.ok(!client.view('lists').has(secretList), 'private list gone after logout');
      assert.equal(client.view('todos').size, 0);
      assert.equal(client.view('users').size, 0);
      assert.ok(client.view('lists').has(publicList));
      await client.close();
    });
  });

  describe('revoked tokens (Meteor logs their connections out)', () => {
    const carol = `carol_${tag}`;
    let carolId: string;
    let carolList: string;
    let other: PgrtServer;
    let otherUrl: string;

    before(async () => {
      carolId = await store.createUser({ username: carol, password: 'carol-pw' });
      carolList = `carol_list_${tag}`;
      await server.db.query('INSERT INTO todo_lists (id, name, owner_id) VALUES ($1, $2, $3)', [
        carolList,
        'Carol',
        carolId,
      ]);
      // A second server process on the same database and channel.
      const otherStore = accounts({ bcryptRounds: 4 });
      other = await createServer({
        app: todosApp(otherStore),
        accounts: otherStore,
        protocols: [ddp()],
        port: 0,
        host: '127.0.0.1',
        databaseUrl: testDatabaseUrl(),
        migrate: migrateTodos,
        rateLimits: false,
      });
      otherUrl = `ws://127.0.0.1:${other.port}/websocket`;
    });
    after(async () => other?.close());

    async function carolClient(
      url: string,
      token?: string,
    ): Promise<{ client: RawDdpClient; token: string }> {
      const client = await RawDdpClient.connect(url);
      const result = (await client.apply(
        'login',
        token === undefined ? { user: { username: carol }, password: 'carol-pw' } : { resume: token },
      )) as LoginResult;
      await client.subscribe('lists');
      assert.ok(client.view('users').has(carolId));
      assert.ok(client.view('lists').has(carolList));
      return { client, token: result.token };
    }

    it("changePassword closes the user's other DDP connections and WAMP ticket sessions, on both servers", async () => {
      const caller = await carolClient(ddpUrl);
      const sameServer = await carolClient(ddpUrl);
      const otherServer = await carolClient(otherUrl);
      const handle = await ticket(carol, sameServer.token);
      const lists = await subscribe(handle.session, 'lists');
      await lists.ready;
      assert.ok(lists.collection('lists').has(carolList));
      const killed = new Promise<unknown>((resolve) => {
        handle.connection.onclose = (_reason, details) => {
          resolve((details as { reason?: unknown }).reason);
          return true;
        };
      });

      await caller.client.apply('changePassword', 'carol-pw', 'carol-pw2');
      // As Meteor's server: the connections of the removed tokens are closed (a Meteor client then reconnects,
      // fails to resume and logs out); the WAMP session gets GOODBYE wamp.close.killed.
      for (const { client } of [sameServer, otherServer]) {
        const closed = await client.closed;
        assert.equal(closed.code, 1000);
      }
      assert.equal(await killed, 'wamp.close.killed');
      assert.ok(caller.client.view('lists').has(carolList));
      assert.equal(typeof (await caller.client.apply('lists.create', 'still mine')), 'string');
      for (const [url, token] of [
        [ddpUrl, sameServer.token],
        [otherUrl, otherServer.token],
      ] as const) {
        const fresh = await RawDdpClient.connect(url);
        const resumed = await fresh.call('login', { resume: token });
        assert.deepEqual(
          [resumed.error?.error, resumed.error?.reason],
          [403, "You've been logged out by the server. Please log in again."],
        );
        await fresh.close();
      }
      for (const c of [caller, sameServer, otherServer]) await c.client.close();
    });

    it('resetPassword with the emailed token logs in and closes the connections logged in before, on both servers', async () => {
      const erin = `erin_${tag}`;
      const email = `${erin}@example.com`;
      const erinId = await store.createUser({ username: erin, email, password: 'erin-pw' });
      const before: RawDdpClient[] = [];
      const tokens: string[] = [];
      for (const url of [ddpUrl, otherUrl]) {
        const client = await RawDdpClient.connect(url);
        const result = (await client.apply('login', {
          user: { username: erin },
          password: 'erin-pw',
        })) as LoginResult;
        before.push(client);
        tokens.push(result.token);
      }

      // A Meteor client's Accounts.forgotPassword, then Accounts.resetPassword from the link (a digest password).
      const browser = await RawDdpClient.connect(ddpUrl);
      assert.equal(await browser.apply('forgotPassword', { email }), undefined);
      const message = sent.find((m) => m.to === email);
      const token = /#\/reset-password\/([\w-]{43})/.exec(message?.text ?? '')?.[1];
      assert.ok(token, `a reset link in ${JSON.stringify(message)}`);
      const result = (await browser.apply('resetPassword', token, {
        digest: sha256Hex('erin-pw2'),
        algorithm: 'sha-256',
      })) as LoginResult;
      assert.equal(result.id, erinId);
      assert.ok(result.tokenExpires instanceof Date, 'tokenExpires arrives as an EJSON date');
      await waitUntil(
        () =>
          JSON.stringify(browser.view('users').get(erinId)?.emails) ===
          JSON.stringify([{ address: email, verified: true }]),
        {
          what: () => `the verified address published: ${JSON.stringify(browser.view('users').get(erinId))}`,
        },
      );
      for (const client of before) assert.equal((await client.closed).code, 1000);
      assert.equal(typeof (await browser.apply('lists.create', 'after reset')), 'string', 'logged in');

      const check = await RawDdpClient.connect(ddpUrl);
      for (const old of tokens) {
        const resumed = await check.call('login', { resume: old });
        assert.deepEqual(
          [resumed.error?.error, resumed.error?.reason],
          [403, "You've been logged out by the server. Please log in again."],
        );
      }
      const reused = await check.call('resetPassword', token, {
        digest: sha256Hex('x'),
        algorithm: 'sha-256',
      });
      assert.deepEqual([reused.error?.error, reused.error?.reason], [403, 'Token expired']);
      const oldPassword = await check.call('login', { user: { username: erin }, password: 'erin-pw' });
      assert.equal(oldPassword.error?.reason, CREDENTIALS);
      assert.equal(
        ((await check.apply('login', { user: { email }, password: 'erin-pw2' })) as LoginResult).id,
        erinId,
      );
      for (const client of [browser, check]) await client.close();
    });

    it('forgotPassword: an unknown address gets the ambiguous 403; a server without sendEmail answers 500', async () => {
      const client = await RawDdpClient.connect(ddpUrl);
      const unknown = await client.call('forgotPassword', { email: `nobody_${tag}@example.com` });
      assert.deepEqual([unknown.error?.error, unknown.error?.reason], [403, CREDENTIALS]);
      await client.close();
      // `other` was made without sendEmail: known and unknown addresses alike get an internal error.
      const misconfigured = await RawDdpClient.connect(otherUrl);
      const known = `frank_${tag}@example.com`;
      await store.createUser({ email: known, password: 'frank-pw' });
      for (const email of [known, `nobody_${tag}@example.com`]) {
        const outcome = await misconfigured.call('forgotPassword', { email });
        assert.deepEqual([outcome.error?.error, outcome.error?.reason], [500, 'Internal server error']);
      }
      await misconfigured.close();
    });
  });

  describe('over WAMP', () => {
    it('ticket with the password: authid is the user id, authrole user; publications see the user', async () => {
      const handle = await ticket(alice, 'alice-pw');
      const lists = await subscribe(handle.session, 'lists');
      await lists.ready;
      assert.ok(lists.collection('lists').has(secretList));
      const todoId = await handle.session.call('todos.add', [secretList, 'from wamp']);
      assert.equal(typeof todoId, 'string');
      await handle.close();
    });

    it('anonymous: private lists invisible, guarded methods refused with pgrt.error.403', async () => {
      const handle = await openAutobahn(wampUrl);
      const lists = await subscribe(handle.session, 'lists');
      await lists.ready;
      assert.ok(lists.collection('lists').has(publicList));
      assert.ok(!lists.collection('lists').has(secretList));
      const todos = await subscribe(handle.session, 'todos', secretList);
      await todos.ready;
      assert.equal(todos.collection('todos').size, 0);
      await assert.rejects(
        Promise.resolve(handle.session.call('todos.add', [publicList, 'x'])),
        (error: unknown) => {
          const e = error as autobahn.Error;
          assert.equal(e.error, 'pgrt.error.403');
          assert.equal((e.kwargs as { reason?: string }).reason, 'Login required');
          return true;
        },
      );
      await handle.close();
    });

    it('wrong password, unknown user and forged token are all refused at HELLO', async () => {
      for (const [authid, secret] of [
        [alice, 'wrong'],
        [`nobody_${tag}`, 'alice-pw'],
        [alice, 'forged-token-forged-token-forged-token-xxxx'],
      ] as const) {
        await assert.rejects(ticket(authid, secret), /wamp\.error\.authentication_failed|not_authorized/);
      }
    });

    it('a token from a DDP login resumes over WAMP ticket', async () => {
      const client = await RawDdpClient.connect(ddpUrl);
      const { token } = (await client.apply('login', {
        user: { username: mallory },
        password: 'mallory-pw',
      })) as LoginResult;
      await client.close();
      const handle = await ticket(mallory, token);
      const lists = await subscribe(handle.session, 'lists');
      await lists.ready;
      assert.ok(!lists.collection('lists').has(secretList));
      const listId = await handle.session.call('lists.create', ['mallory list']);
      await waitUntil(() => lists.collection('lists').has(String(listId)), {
        what: () => 'own list published',
      });
      await handle.close();
    });

    it('WAMP-CRA with the key derived from the password digest', async () => {
      const handle = await openAutobahn(wampUrl, {
        authmethods: ['wampcra'],
        authid: alice,
        onchallenge: (_session, method, extra) => {
          assert.equal(method, 'wampcra');
          const key = craKey({
            authrole: '',
            secret: sha256Hex('alice-pw'),
            salt: String(extra.salt),
            iterations: Number(extra.iterations),
            keylen: Number(extra.keylen),
          });
          return craSign(key, String(extra.challenge));
        },
      });
      const todos = await subscribe(handle.session, 'todos', secretList);
      await todos.ready;
      assert.ok(todos.collection('todos').size >= 1);
      await handle.close();
      await assert.rejects(
        openAutobahn(wampUrl, {
          authmethods: ['wampcra'],
          authid: alice,
          onchallenge: (_s, _m, extra) => craSign('wrong', String(extra.challenge)),
        }),
      );
    });
  });
});
