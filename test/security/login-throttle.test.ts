/**
 * Attack: password guessing across connections, processes and protocols (issue 12 item 5). On the main of issue
 * 12 six fresh DDP connections × 5 guesses all got a plain 403 and WAMP had no limiter at all. Two server
 * processes on one database, both protocols: failures counted on one are refused on the other, with Meteor's
 * `too-many-requests` (DDP) and `pgrt.error.too_many_requests` (WAMP); a blocked attempt with the right password is
 * refused too; the delay grows; the owner from another address is delayed at most `perUser.maxDelayMs`.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { accountsAuthenticators } from '../../adapters/wamp/accounts-authentication.js';
import { openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { type Accounts, accounts, type LoginThrottleOptions } from '../../core/accounts/accounts.js';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../server.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../support/database.js';

const THROTTLE: LoginThrottleOptions = {
  perUserAndAddress: { maxFailures: 3, baseDelayMs: 60_000, maxDelayMs: 600_000 },
  perUser: { maxFailures: 6, baseDelayMs: 5_000, maxDelayMs: 10_000 },
  perAddress: { maxFailures: 40, baseDelayMs: 60_000, maxDelayMs: 600_000 },
};

describe('security: login guessing is limited per user and per address, across processes and protocols', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  const servers: PgrtServer[] = [];
  let store: Accounts;

  async function start(): Promise<PgrtServer> {
    const users = accounts({ bcryptRounds: 4, loginThrottle: THROTTLE });
    store ??= users;
    const server = await createServer({
      app: new App().use(users).method('whoami', (ctx) => ctx.userId),
      accounts: users,
      // X-Forwarded-For is trusted one hop deep, so each guess can come from an address of its own.
      protocols: [
        ddp({ forwardedCount: 1 }),
        wamp({ realms: [{ name: 'realm1', authenticators: accountsAuthenticators(users) }] }),
      ],
      port: 0,
      host: '127.0.0.1',
      // Meteor's per-connection method limit stays on; the attacks below use a fresh connection per guess.
      databaseUrl: testDatabaseUrl(),
    });
    servers.push(server);
    return server;
  }
  before(async () => {
    await start();
    await start();
  });
  after(async () => {
    for (const server of servers) await server.close();
  });
  const a = () => servers[0] as PgrtServer;
  const b = () => servers[1] as PgrtServer;
  async function victim(n: number): Promise<string> {
    const username = `victim${n}_${tag}`;
    await store.createUser({ username, password: 'right-password' });
    return username;
  }

  /** One DDP login from a fresh connection appearing to come from `address` (X-Forwarded-For, trusted: 1 hop). */
  async function ddpGuess(server: PgrtServer, username: string, password: string, address: string) {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`, {
      headers: { 'x-forwarded-for': address },
    });
    try {
      return (await client.call('login', { user: { username }, password })).error;
    } finally {
      await client.close();
    }
  }
  function wampGuess(server: PgrtServer, username: string, password: string) {
    return openAutobahn(`ws://127.0.0.1:${server.port}/ws`, {
      authmethods: ['ticket'],
      authid: username.toUpperCase(),
      onchallenge: () => password,
    });
  }
  /** The row key of a counter (login-throttle.ts hashes what it counts). */
  const keyOf = (text: string) => createHash('sha256').update(text).digest('base64');
  const blockedFor = async (text: string) =>
    Number(
      (
        await a().db.query<{ ms: string }>(
          `SELECT ceil(extract(epoch FROM blocked_until - now()) * 1000) AS ms FROM pgrt.login_failures
            WHERE key = $1`,
          [keyOf(text)],
        )
      ).rows[0]?.ms ?? 0,
    );
  /** Time passes: the counter's block is over (its failures stay counted). */
  const unblock = (text: string) =>
    a().db.query(
      `UPDATE pgrt.login_failures SET blocked_until = now() - interval '1 second' WHERE key = $1`,
      [keyOf(text)],
    );

  it('3 failures over DDP on two processes block the next login there, even with the right password', async () => {
    const username = await victim(1);
    for (const server of [a(), b(), a()]) {
      const error = await ddpGuess(server, username, 'wrong', '203.0.113.7');
      assert.equal(error?.error, 403);
    }
    const blocked = await ddpGuess(b(), username, 'right-password', '203.0.113.7');
    assert.equal(blocked?.error, 'too-many-requests');
    const wait = (blocked?.details as { timeToReset?: number } | undefined)?.timeToReset ?? 0;
    assert.ok(wait > 50_000 && wait <= 60_000, `timeToReset ${wait}`);
    assert.match(
      String(blocked?.reason),
      /^Error, too many requests\. Please slow down\. You must wait \d+ seconds/,
    );
  });

  it('WAMP ticket guesses (any letter case of the name) count with the DDP ones for the user', async () => {
    const username = await victim(2);
    for (const address of ['203.0.113.20', '203.0.113.21', '203.0.113.22'])
      assert.equal((await ddpGuess(a(), username, 'wrong', address))?.error, 403);
    // From 127.0.0.1 over WAMP on the other process: failures 4, 5, 6 of the user; the 6th blocks the user.
    for (let i = 0; i < 3; i++)
      await assert.rejects(wampGuess(b(), username, 'wrong'), /authentication_failed/);
    await assert.rejects(wampGuess(a(), username, 'right-password'), /pgrt\.error\.too_many_requests/);
    const error = await ddpGuess(b(), username, 'right-password', '203.0.113.99');
    assert.equal(error?.error, 'too-many-requests');
  });

  it('the delay grows with each failure, and an attempt refused while blocked does not count', async () => {
    const username = await victim(3);
    const key = `ua\u0000${username}\u0000198.51.100.9`;
    for (let i = 0; i < 4; i++) await ddpGuess(a(), username, 'wrong', '198.51.100.9');
    const first = await blockedFor(key);
    assert.ok(first > 50_000 && first <= 60_000, `first delay ${first}`);
    await unblock(key);
    await ddpGuess(b(), username, 'wrong', '198.51.100.9');
    const second = await blockedFor(key);
    assert.ok(second > 110_000 && second <= 120_000, `second delay ${second}`);
  });

  it('a successful login clears the counter of that name from that address, not the others', async () => {
    const username = await victim(5);
    for (let i = 0; i < 2; i++) await ddpGuess(a(), username, 'wrong', '198.51.100.50');
    const rows = (text: string) =>
      a()
        .db.query<{ failures: number }>('SELECT failures FROM pgrt.login_failures WHERE key = $1', [
          keyOf(text),
        ])
        .then((r) => r.rows.map((row) => row.failures));
    assert.deepEqual(await rows(`ua\u0000${username}\u0000198.51.100.50`), [2]);
    assert.equal(await ddpGuess(b(), username, 'right-password', '198.51.100.50'), undefined);
    assert.deepEqual(await rows(`ua\u0000${username}\u0000198.51.100.50`), []);
    assert.deepEqual(await rows(`u\u0000${username}`), [2]);
  });

  it('the owner, from a new address, is delayed at most perUser.maxDelayMs by a distributed guess, then logs in', async () => {
    const username = await victim(4);
    for (let i = 0; i < 6; i++) await ddpGuess(a(), username, 'wrong', `192.0.2.${10 + i}`);
    const error = await ddpGuess(a(), username, 'right-password', '192.0.2.200');
    assert.equal(error?.error, 'too-many-requests');
    const wait = (error?.details as { timeToReset?: number } | undefined)?.timeToReset ?? Number.NaN;
    assert.ok(wait > 0 && wait <= 10_000, `timeToReset ${wait}`);
    await unblock(`u\u0000${username}`);
    assert.equal(await ddpGuess(b(), username, 'right-password', '192.0.2.200'), undefined);
  });
});
