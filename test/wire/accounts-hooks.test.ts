/**
 * The login pipeline's hooks and handlers over both protocols (core/accounts/login-pipeline.ts, Meteor's
 * accounts_server.js semantics and order): `validateLoginAttempt` (throws, returns false, async), `onLogin`,
 * `onLoginFailure`, `onLogout`, `registerLoginHandler`, `onCreateUser`/`validateNewUser` reached through the
 * `createUser` method, for DDP `login`/`createUser` and WAMP `ticket`/`wampcra` handshakes alike.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type autobahn from 'autobahn';
import { accountsAuthenticators } from '../../adapters/wamp/accounts-authentication.js';
import { anonymousAuthenticator, craKey, craSign } from '../../adapters/wamp/authentication.js';
import { openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import {
  type Accounts,
  accounts,
  type LoginAttempt,
  type LoginResult,
} from '../../core/accounts/accounts.js';
import { sha256Hex } from '../../core/accounts/password.js';
import { App } from '../../core/app.js';
import { ClientError } from '../../core/errors.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../server.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../support/database.js';

const CREDENTIALS = 'Something went wrong. Please check your credentials.';

/** What a hook saw: its name and the attempt's essentials. */
interface Seen {
  readonly hook: string;
  readonly type: string;
  readonly allowed: boolean;
  readonly error?: string;
  readonly user?: string;
  readonly methodName: string;
  readonly protocol: string;
}

describe('accounts hooks and login handlers over DDP and WAMP', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  const alice = `alice_${tag}`;
  let server: PgrtServer;
  let store: Accounts;
  let aliceId: string;
  let ddpUrl: string;
  let wampUrl: string;
  let seen: Seen[] = [];
  /** What `validateLoginAttempt` does next: allow, refuse (false), throw, or allow after a tick. */
  let verdict: 'allow' | 'refuse' | 'throw' | 'async' = 'allow';
  const created: { options: Record<string, unknown>; user: Record<string, unknown> }[] = [];

  const record =
    (hook: string) =>
    (attempt: LoginAttempt): void => {
      seen.push({
        hook,
        type: attempt.type,
        allowed: attempt.allowed,
        ...(attempt.error instanceof ClientError ? { error: attempt.error.reason ?? '' } : {}),
        ...(attempt.user ? { user: attempt.user._id } : {}),
        methodName: attempt.methodName,
        protocol: attempt.connection.protocol,
      });
    };

  before(async () => {
    store = accounts({ bcryptRounds: 4 });
    store.validateLoginAttempt(async (attempt) => {
      record('validate')(attempt);
      // Each hook gets its own copy: mutating it changes nothing.
      attempt.allowed = true;
      if (verdict === 'refuse') return false;
      if (verdict === 'throw') throw new ClientError(403, 'Not today');
      if (verdict === 'async') await new Promise((resolve) => setImmediate(resolve));
      return true;
    });
    store.onLogin(record('onLogin'));
    store.onLogin(() => {
      throw new Error('a broken onLogin hook changes nothing');
    });
    store.onLoginFailure(record('onLoginFailure'));
    store.onLogout(({ user, connection }) => {
      seen.push({
        hook: 'onLogout',
        type: '',
        allowed: true,
        ...(user ? { user: user._id } : {}),
        methodName: 'logout',
        protocol: connection.protocol,
      });
    });
    store.registerLoginHandler('magic', async (options) => {
      if (options.magic === undefined) return undefined;
      if (options.magic !== `open-${tag}`) return { error: new ClientError(403, 'Bad magic') };
      return { userId: aliceId, options: { greeting: 'hello' } };
    });
    store.onCreateUser(async (options, user) => {
      created.push({ options: { ...options }, user: { ...user } });
      await new Promise((resolve) => setImmediate(resolve));
      return { ...user, profile: { invitedBy: options.invitedBy ?? null } };
    });
    store.validateNewUser((user) => user.username !== `blocked_${tag}`);
    store.validateNewUser(async (user) => {
      if (user.username === `thrown_${tag}`) throw new ClientError(403, 'No such names');
      return true;
    });
    server = await createServer({
      app: new App().use(store).method('whoami', (ctx) => ctx.userId),
      accounts: store,
      protocols: [
        ddp(),
        wamp({
          realms: [
            {
              name: 'realm1',
              // `createUser` is not a strict URI (upper case): callable on loose realms.
              uriCheck: 'loose',
              authenticators: [...accountsAuthenticators(store), anonymousAuthenticator()],
            },
          ],
        }),
      ],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: false,
    });
    ddpUrl = `ws://127.0.0.1:${server.port}/websocket`;
    wampUrl = `ws://127.0.0.1:${server.port}/ws`;
    aliceId = await store.createUser({ username: alice, password: 'alice-pw' });
  });
  after(async () => server?.close());
  beforeEach(() => {
    seen = [];
    verdict = 'allow';
  });

  const ticket = (authid: string, secret: string) =>
    openAutobahn(wampUrl, { authmethods: ['ticket'], authid, onchallenge: () => secret });
  const cra = (authid: string, password: string) =>
    openAutobahn(wampUrl, {
      authmethods: ['wampcra'],
      authid,
      onchallenge: (_session, _method, extra) =>
        craSign(
          craKey({
            authrole: '',
            secret: sha256Hex(password),
            salt: String(extra.salt),
            iterations: Number(extra.iterations),
            keylen: Number(extra.keylen),
          }),
          String(extra.challenge),
        ),
    });
  async function ddpLogin(options: unknown): Promise<{ result?: LoginResult; error?: string }> {
    const client = await RawDdpClient.connect(ddpUrl);
    try {
      const outcome = await client.call('login', options);
      return outcome.error
        ? { error: String(outcome.error.reason) }
        : { result: outcome.result as LoginResult };
    } finally {
      await client.close();
    }
  }
  const hooks = () => seen.map((s) => s.hook);

  it('DDP login: validate then onLogin, each with Meteor attempt fields; the result has type', async () => {
    const { result } = await ddpLogin({ user: { username: alice }, password: 'alice-pw' });
    assert.equal(result?.type, 'password');
    assert.deepEqual(hooks(), ['validate', 'onLogin']);
    for (const s of seen)
      assert.deepEqual(
        { type: s.type, allowed: s.allowed, user: s.user, methodName: s.methodName, protocol: s.protocol },
        { type: 'password', allowed: true, user: aliceId, methodName: 'login', protocol: 'ddp' },
      );
    seen = [];
    const resumed = await ddpLogin({ resume: result?.token });
    assert.equal(resumed.result?.type, 'resume');
    assert.deepEqual(
      seen.map((s) => [s.hook, s.type]),
      [
        ['validate', 'resume'],
        ['onLogin', 'resume'],
      ],
    );
  });

  it('a wrong password: validate sees the error and the user, then onLoginFailure; a true verdict keeps it refused', async () => {
    const { error } = await ddpLogin({ user: { username: alice }, password: 'wrong' });
    assert.equal(error, CREDENTIALS);
    assert.deepEqual(hooks(), ['validate', 'onLoginFailure']);
    assert.deepEqual(
      seen.map((s) => [s.allowed, s.error, s.user]),
      [
        [false, CREDENTIALS, aliceId],
        [false, CREDENTIALS, aliceId],
      ],
    );
  });

  for (const [verdictName, reason] of [
    ['refuse', 'Login forbidden'],
    ['throw', 'Not today'],
  ] as const) {
    it(`validateLoginAttempt that ${verdictName}s refuses a right password over DDP, WAMP ticket and WAMP-CRA`, async () => {
      verdict = verdictName;
      const { error } = await ddpLogin({ user: { username: alice }, password: 'alice-pw' });
      assert.equal(error, reason);
      await assert.rejects(ticket(alice, 'alice-pw'), (e: Error) => {
        assert.match(e.message, /wamp\.error\.authentication_failed/);
        assert.ok(e.message.includes(reason), e.message);
        return true;
      });
      await assert.rejects(cra(alice, 'alice-pw'), new RegExp(reason));
      assert.deepEqual(
        seen.map((s) => [s.hook, s.protocol, s.methodName, s.type]),
        [
          ['validate', 'ddp', 'login', 'password'],
          ['onLoginFailure', 'ddp', 'login', 'password'],
          ['validate', 'wamp', 'ticket', 'password'],
          ['onLoginFailure', 'wamp', 'ticket', 'password'],
          ['validate', 'wamp', 'wampcra', 'wampcra'],
          ['onLoginFailure', 'wamp', 'wampcra', 'wampcra'],
        ],
      );
    });
  }

  it('an async validateLoginAttempt allows WAMP ticket and WAMP-CRA logins; onLogin runs for them', async () => {
    verdict = 'async';
    const byTicket = await ticket(alice, 'alice-pw');
    assert.equal(await byTicket.session.call('whoami'), aliceId);
    await byTicket.close();
    const byCra = await cra(alice, 'alice-pw');
    assert.equal(await byCra.session.call('whoami'), aliceId);
    await byCra.close();
    assert.deepEqual(
      seen.map((s) => [s.hook, s.protocol, s.type, s.user]),
      [
        ['validate', 'wamp', 'password', aliceId],
        ['onLogin', 'wamp', 'password', aliceId],
        ['validate', 'wamp', 'wampcra', aliceId],
        ['onLogin', 'wamp', 'wampcra', aliceId],
      ],
    );
  });

  it('WAMP logins that fail reach onLoginFailure: unknown user (no user) and wrong CRA signature (the user)', async () => {
    await assert.rejects(ticket(`nobody_${tag}`, 'x'), /check your credentials/);
    await assert.rejects(cra(alice, 'wrong'), /check your credentials/);
    assert.deepEqual(
      seen.map((s) => [s.hook, s.type, s.user]),
      [
        ['validate', 'password', undefined],
        ['onLoginFailure', 'password', undefined],
        ['validate', 'wampcra', aliceId],
        ['onLoginFailure', 'wampcra', aliceId],
      ],
    );
  });

  it('registerLoginHandler: its name is the type, its options join the result; its error is the attempt error', async () => {
    const { result } = await ddpLogin({ magic: `open-${tag}` });
    assert.equal(result?.id, aliceId);
    assert.equal(result?.type, 'magic');
    assert.equal(result?.greeting, 'hello');
    const { error } = await ddpLogin({ magic: 'wrong' });
    assert.equal(error, 'Bad magic');
    const none = await ddpLogin({ nothing: true });
    assert.equal(none.error, 'Unrecognized options for login request');
    assert.deepEqual(
      seen.map((s) => [s.hook, s.type, s.error]),
      [
        ['validate', 'magic', undefined],
        ['onLogin', 'magic', undefined],
        ['validate', 'magic', 'Bad magic'],
        ['onLoginFailure', 'magic', 'Bad magic'],
        ['validate', 'unknown', 'Unrecognized options for login request'],
        ['onLoginFailure', 'unknown', 'Unrecognized options for login request'],
      ],
    );
  });

  it('onLogout gets the user and the connection', async () => {
    const client = await RawDdpClient.connect(ddpUrl);
    await client.apply('login', { user: { username: alice }, password: 'alice-pw' });
    await client.apply('logout');
    assert.equal(await client.apply('whoami'), null);
    await client.close();
    assert.deepEqual(
      seen.map((s) => [s.hook, s.user, s.protocol]),
      [
        ['validate', aliceId, 'ddp'],
        ['onLogin', aliceId, 'ddp'],
        ['onLogout', aliceId, 'ddp'],
      ],
    );
  });

  it('createUser over DDP and WAMP: onCreateUser gets the unknown option keys; validateNewUser refuses', async () => {
    const client = await RawDdpClient.connect(ddpUrl);
    const viaDdp = (await client.apply('createUser', {
      username: `dora_${tag}`,
      password: 'pw',
      invitedBy: 'alice',
    })) as LoginResult;
    assert.equal(viaDdp.type, 'password');
    assert.equal(await client.apply('whoami'), viaDdp.id);
    const refused = await client.call('createUser', { username: `blocked_${tag}`, password: 'pw' });
    assert.deepEqual([refused.error?.error, refused.error?.reason], [403, 'User validation failed']);
    const thrown = await client.call('createUser', { username: `thrown_${tag}`, password: 'pw' });
    assert.deepEqual([thrown.error?.error, thrown.error?.reason], [403, 'No such names']);
    await client.close();
    const anonymous = await openAutobahn(wampUrl);
    const viaWamp = (await anonymous.session.call('createUser', [
      { email: `emil_${tag}@example.com`, password: 'pw', invitedBy: 'dora' },
    ])) as LoginResult;
    await assert.rejects(
      Promise.resolve(
        anonymous.session.call('createUser', [{ user: { username: 'asteroid' }, password: 'pw' }]),
      ),
      (e: autobahn.Error) => (e.kwargs as { reason?: string }).reason === 'Need to set a username or email',
    );
    await anonymous.close();
    const mine = created.filter((c) => c.options.invitedBy !== undefined);
    assert.deepEqual(
      mine.map((c) => [
        c.options.invitedBy,
        c.user.username ?? (c.user.emails as { address: string }[])[0]?.address,
      ]),
      [
        ['alice', `dora_${tag}`],
        ['dora', `emil_${tag}@example.com`],
      ],
    );
    assert.deepEqual((await store.findUserById(viaWamp.id))?.profile, { invitedBy: 'dora' });
    // The failed signups (validateNewUser, Match) reached the login hooks as Meteor's createUser does.
    assert.deepEqual(
      seen.filter((s) => s.hook === 'onLoginFailure').map((s) => [s.methodName, s.protocol, s.error]),
      [
        ['createUser', 'ddp', 'User validation failed'],
        ['createUser', 'ddp', 'No such names'],
        ['createUser', 'wamp', 'Need to set a username or email'],
      ],
    );
  });
});
