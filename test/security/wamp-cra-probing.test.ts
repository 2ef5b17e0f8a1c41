/**
 * Attack: probing accounts through the WAMP-CRA challenge (issue 12 item 4). On the main of issue 12 a known
 * authid got its real salt and role (`admin` for the seeded demo) and an unknown one no salt and an empty role.
 * Now both get the same shape: a salt (stable per authid, the same on every process), the same iterations and
 * keylen, a challenge that names the authid as sent and carries no user id and no role; both fail alike.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { accountsAuthenticators } from '../../adapters/wamp/accounts-authentication.js';
import { craSign } from '../../adapters/wamp/authentication.js';
import { openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { type Accounts, accounts } from '../../core/accounts/accounts.js';
import { App } from '../../core/app.js';
import { createServer, type PgrtServer, wamp } from '../../server.js';
import { testDatabaseUrl } from '../support/database.js';

describe('security: the WAMP-CRA challenge does not tell whether an account exists', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  const admin = `admin_${tag}`;
  const servers: PgrtServer[] = [];
  let store: Accounts;
  let adminId: string;

  before(async () => {
    for (let i = 0; i < 2; i++) {
      const users = accounts({ bcryptRounds: 4 });
      store ??= users;
      servers.push(
        await createServer({
          app: new App().use(users),
          accounts: users,
          protocols: [wamp({ realms: [{ name: 'realm1', authenticators: accountsAuthenticators(users) }] })],
          port: 0,
          host: '127.0.0.1',
          databaseUrl: testDatabaseUrl(),
          rateLimits: false,
        }),
      );
    }
    adminId = await store.createUser({ username: admin, password: 'pw', roles: ['admin'] });
    // The key exists once the password was used through pgrt (a ticket login here).
    await (
      await openAutobahn(`ws://127.0.0.1:${servers[0]?.port}/ws`, {
        authmethods: ['ticket'],
        authid: admin,
        onchallenge: () => 'pw',
      })
    ).close();
  });
  after(async () => {
    for (const server of servers) await server.close();
  });

  /** The challenge `authid` gets on server `i`, answered with a wrong signature; and how the attempt ended. */
  async function probe(
    i: number,
    authid: string,
  ): Promise<{ extra: Record<string, unknown>; failure: string }> {
    let extra: Record<string, unknown> = {};
    const failure = await openAutobahn(`ws://127.0.0.1:${servers[i]?.port}/ws`, {
      authmethods: ['wampcra'],
      authid,
      onchallenge: (_session, _method, e) => {
        extra = e;
        return craSign('not-the-key', String(e.challenge));
      },
    }).then(
      () => 'joined',
      (error: Error) => error.message,
    );
    return { extra, failure };
  }

  it('known and unknown authids get challenges of the same shape; neither carries a user id or a role', async () => {
    const known = await probe(0, admin);
    const unknown = await probe(0, `nobody_${tag}`);
    for (const { extra } of [known, unknown]) {
      assert.deepEqual(Object.keys(extra).sort(), ['challenge', 'iterations', 'keylen', 'salt']);
      assert.equal(extra.iterations, 1000);
      assert.equal(extra.keylen, 32);
      assert.equal(Buffer.from(String(extra.salt), 'base64').length, 16);
      const challenge = JSON.parse(String(extra.challenge)) as Record<string, unknown>;
      assert.deepEqual(Object.keys(challenge).sort(), [
        'authid',
        'authmethod',
        'authprovider',
        'nonce',
        'session',
        'timestamp',
      ]);
      assert.ok(!String(extra.challenge).includes(adminId), 'the user id is not in the challenge');
      assert.ok(!String(extra.challenge).includes('admin"'), 'no role in the challenge');
    }
    assert.equal(JSON.parse(String(known.extra.challenge)).authid, admin);
    // Both fail with the same ABORT.
    assert.equal(known.failure, unknown.failure);
    assert.match(known.failure, /wamp\.error\.authentication_failed/);
  });

  it('an unknown authid keeps its salt across attempts and processes, as a stored one does', async () => {
    const nobody = `nobody2_${tag}`;
    const [one, two, three] = [
      await probe(0, nobody),
      await probe(1, nobody),
      await probe(1, `other_${tag}`),
    ];
    assert.equal(one.extra.salt, two.extra.salt);
    assert.notEqual(one.extra.salt, three.extra.salt);
    const [k1, k2] = [await probe(0, admin), await probe(1, admin)];
    assert.equal(k1.extra.salt, k2.extra.salt);
  });
});
