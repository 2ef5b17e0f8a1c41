/**
 * Authorization of supabase-js clients, closed by default: tables opt in; each join asks the table's rule with the
 * user from an HS256 JWT (`sub`) or a pgrt resume token; a selector narrows rows per user so nothing leaks across
 * users; refused joins get Supabase's error reply; a new `access_token` re-runs the rules (a lost right shuts the
 * channel down).
 */
import assert from 'node:assert/strict';
import { accounts } from '../../core/accounts/accounts.js';
import { insertLoginToken } from '../../core/accounts/login-tokens.js';
import { createServer, type PgrtServer } from '../../index.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { app, migrate } from './fixtures/app.js';
import {
  type ChangePayload,
  type SupabaseClientLike,
  subscribe,
  supabaseClient,
} from './fixtures/clients.js';
import { signHs256, supabase } from './index.js';

const SECRET = 'test-jwt-secret';
const hour = () => Math.floor(Date.now() / 1000) + 3600;
const jwtFor = (sub: string | undefined, exp = hour()): string =>
  signHs256({ ...(sub === undefined ? {} : { sub }), role: 'authenticated', exp }, SECRET);

describe('supabase: authorization', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let base: string;
  const clients: SupabaseClientLike[] = [];
  const store = accounts({ bcryptRounds: 4 });

  before(async () => {
    server = await createServer({
      app,
      migrate,
      accounts: store,
      protocols: [
        supabase({
          jwtSecret: SECRET,
          access: {
            tables: {
              sb_notes: true,
              'public.sb_secrets': ({ userId }) => (userId === null ? false : { owner: userId }),
            },
          },
        }),
      ],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: false,
    });
    base = `http://127.0.0.1:${server.port}`;
    await server.db.query('DELETE FROM sb_secrets');
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) {
      await client.removeAllChannels();
      client.realtime.disconnect();
    }
  });

  after(async () => {
    await server?.close();
  });

  function client(key: string): SupabaseClientLike {
    const made = supabaseClient(base, key);
    clients.push(made);
    return made;
  }

  /** A client on sb_secrets (all events); resolves to what it receives once subscribed. */
  async function secretsOf(
    key: string,
    name: string,
  ): Promise<{ got: ChangePayload[]; sb: SupabaseClientLike }> {
    const sb = client(key);
    const got: ChangePayload[] = [];
    const seen = await subscribe(
      sb
        .channel(name)
        .on('postgres_changes', { event: '*', schema: 'public', table: 'sb_secrets' }, (p) => got.push(p)),
    );
    await waitUntil(() => seen.system.some((m) => m.status === 'ok'));
    return { got, sb };
  }

  it('refuses an anonymous join to a ruled table with Unauthorized', async () => {
    const sb = client('anon');
    const seen = await subscribe(
      sb
        .channel('anon-secrets')
        .on('postgres_changes', { event: '*', schema: 'public', table: 'sb_secrets' }, () => {}),
      'CHANNEL_ERROR',
    );
    assert.equal(
      seen.errors.at(-1)?.message,
      'Unauthorized: You do not have permissions to read from this Channel topic: anon-secrets',
    );
  });

  it("narrows rows per user: each user gets only their rows' changes", async () => {
    const alice = await secretsOf(jwtFor('alice'), 'alice');
    const bob = await secretsOf(jwtFor('bob'), 'bob');
    await server.db.query(
      `INSERT INTO sb_secrets (id, owner, body) VALUES ('a1', 'alice', 'A'), ('b1', 'bob', 'B')`,
    );
    await server.db.query(`UPDATE sb_secrets SET body = 'A2' WHERE id = 'a1'`);
    await server.db.query(`INSERT INTO sb_notes (title) VALUES ('marker')`);
    await server.db.query(`INSERT INTO sb_secrets (id, owner, body) VALUES ('a2', 'alice', 'last')`);
    await waitUntil(() => alice.got.some((p) => p.new.id === 'a2') && bob.got.length >= 1);
    assert.deepEqual(
      alice.got.map((p) => `${p.eventType}:${String(p.new.id)}:${String(p.new.body)}`),
      ['INSERT:a1:A', 'UPDATE:a1:A2', 'INSERT:a2:last'],
    );
    assert.deepEqual(
      bob.got.map((p) => `${p.eventType}:${String(p.new.id)}`),
      ['INSERT:b1'],
    );
  });

  it('refuses expired and badly signed JWTs with their reasons', async () => {
    const expired = await subscribe(client(jwtFor('alice', hour() - 7200)).channel('x'), 'CHANNEL_ERROR');
    assert.match(
      String(expired.errors.at(-1)?.message),
      /^InvalidJWTToken: Token has expired \d+ seconds ago$/,
    );
    const forged = signHs256({ sub: 'alice', exp: hour() }, 'another-secret');
    const bad = await subscribe(client(forged).channel('y'), 'CHANNEL_ERROR');
    assert.equal(bad.errors.at(-1)?.message, 'JwtSignatureError: Failed to validate JWT signature');
  });

  it('takes a pgrt resume token as the user', async () => {
    const userId = await store.createUser({ username: `carol-${Date.now()}`, password: 'carol-pw' });
    const { token } = await insertLoginToken(server.db, userId, new Date());
    const carol = await secretsOf(token, 'carol');
    await server.db.query(
      `INSERT INTO sb_secrets (id, owner, body) VALUES ('c1', $1, 'C'), ('x1', 'other', 'X')`,
      [userId],
    );
    await waitUntil(() => carol.got.length >= 1);
    await server.db.query(`INSERT INTO sb_secrets (id, owner, body) VALUES ('c2', $1, 'C2')`, [userId]);
    await waitUntil(() => carol.got.length >= 2);
    assert.deepEqual(
      carol.got.map((p) => p.new.id),
      ['c1', 'c2'],
    );
  });

  it('re-runs the rules on a new access_token: another user, then a refusal that shuts the channel down', async () => {
    const sb = client(jwtFor('alice'));
    const got: ChangePayload[] = [];
    const channel = sb
      .channel('switch')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'sb_secrets' }, (p) => got.push(p));
    const seen = await subscribe(channel);
    await waitUntil(() => seen.system.some((m) => m.status === 'ok'));
    await sb.realtime.setAuth(jwtFor('dave'));
    // The token push and the inserts travel separately: wait until the server applies it (dave's row arrives).
    await waitUntil(
      async () => {
        await server.db.query(
          `INSERT INTO sb_secrets (id, owner, body) VALUES (gen_random_uuid()::text, 'dave', 'D')`,
        );
        return got.some((p) => p.new.owner === 'dave');
      },
      { intervalMs: 50 },
    );
    await server.db.query(`INSERT INTO sb_secrets (id, owner, body) VALUES ('al-late', 'alice', 'no')`);
    await server.db.query(`INSERT INTO sb_secrets (id, owner, body) VALUES ('dv-last', 'dave', 'yes')`);
    await waitUntil(() => got.some((p) => p.new.id === 'dv-last'));
    // Changes arrive in commit order: alice's row, committed first, would be here by now.
    assert.ok(!got.some((p) => p.new.id === 'al-late'), "alice's row is no longer delivered");
    await sb.realtime.setAuth(jwtFor(undefined)); // a JWT with no sub: anonymous, which the rule refuses
    await waitUntil(() => seen.system.some((m) => m.extension === 'system'));
    assert.deepEqual(
      seen.system.find((m) => m.extension === 'system'),
      {
        extension: 'system',
        status: 'error',
        message: 'You do not have permissions to read from this Channel topic: switch',
        channel: 'switch',
      },
    );
  });
});
