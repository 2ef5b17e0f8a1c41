/**
 * Accounts at the core level (no sockets): Meteor-compatible login/logout/resume/createUser/changePassword, the
 * exact errors, the `users` publication, and the rerun-and-diff on login and logout (reference/ddp.md §1.7).
 */
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { migrateTodos, todosApp } from '../../examples/todos/app.js';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { ClientError } from '../errors.js';
import { type Accounts, accounts, type LoginResult } from './accounts.js';
import { sha256Hex } from './password.js';
import { hashLoginToken } from './tokens.js';

function expectError(error: unknown, code: number | string, reason: string): true {
  assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
  assert.equal(error.error, code);
  assert.equal(error.reason, reason);
  return true;
}

const CREDENTIALS = 'Something went wrong. Please check your credentials.';

describe('accounts (core)', () => {
  let t: TestCore;
  let store: Accounts;
  const name = (base: string) => `${base}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

  before(async () => {
    store = accounts({ bcryptRounds: 4 });
    t = await startTestCore(todosApp(store), migrateTodos, undefined, { rateLimits: false });
  });
  after(async () => t?.close());

  it('logs in with a digest and a plain password; wrong password and unknown user get the same 403', async () => {
    const username = name('alice');
    const id = await store.createUser({ username, password: 'pw' });
    const { session, out } = t.session();
    const digest = { digest: sha256Hex('pw'), algorithm: 'sha-256' };
    const result = (await t.call(session, out, 'login', {
      user: { username },
      password: digest,
    })) as LoginResult;
    assert.equal(result.id, id);
    assert.equal(result.token.length, 43);
    assert.ok(result.tokenExpires instanceof Date);
    const days = (result.tokenExpires.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 89.9 && days <= 90);
    assert.equal(session.userId, id);
    // Stored: only the hash of the token; bcrypt of the SHA-256 hex.
    const tokens = await t.db.query<{ hashed_token: string }>(
      'SELECT hashed_token FROM pgrt.login_tokens WHERE user_id = $1',
      [id],
    );
    assert.deepEqual(
      tokens.rows.map((r) => r.hashed_token),
      [hashLoginToken(result.token)],
    );
    const hash = await t.db.query<{ bcrypt: string }>(
      'SELECT bcrypt FROM pgrt.user_passwords WHERE user_id = $1',
      [id],
    );
    assert.ok(await bcrypt.compare(sha256Hex('pw'), hash.rows[0]?.bcrypt ?? ''));

    const other = t.session();
    const plain = (await t
      .call(other.session, other.out, 'login', {
        user: { email: undefined, username: username.toUpperCase() },
      })
      .catch((e: unknown) => e)) as unknown;
    // No password: no handler takes it (Meteor's password handler skips a falsy password).
    expectError(plain, 400, 'Unrecognized options for login request');
    const ok = (await t.call(other.session, other.out, 'login', {
      user: { username: username.toUpperCase() },
      password: 'pw',
    })) as LoginResult;
    assert.equal(ok.id, id);

    const wrong = await t
      .call(other.session, other.out, 'login', { user: { username }, password: 'nope' })
      .catch((e: unknown) => e);
    expectError(wrong, 403, CREDENTIALS);
    const unknown = await t
      .call(other.session, other.out, 'login', { user: { username: name('nobody') }, password: 'pw' })
      .catch((e: unknown) => e);
    expectError(unknown, 403, CREDENTIALS);
    for (const bad of [
      { user: { username }, password: { digest: 'a'.repeat(63), algorithm: 'sha-256' } },
      { user: { username }, password: { digest: 'a'.repeat(64), algorithm: 'md5' } },
      { user: { username, email: 'x@y' }, password: 'pw' },
    ]) {
      expectError(
        await t.call(other.session, other.out, 'login', bad).catch((e: unknown) => e),
        400,
        'Match failed',
      );
    }
  });

  it('resumes with a token; forged and expired tokens get their 403s; logout destroys the token', async () => {
    const username = name('bob');
    const id = await store.createUser({ username, password: 'pw' });
    const a = t.session();
    const { token } = (await t.call(a.session, a.out, 'login', {
      user: { username },
      password: 'pw',
    })) as LoginResult;
    const b = t.session();
    const resumed = (await t.call(b.session, b.out, 'login', { resume: token })) as LoginResult;
    assert.equal(resumed.id, id);
    assert.equal(b.session.userId, id);
    expectError(
      await t.call(b.session, b.out, 'login', { resume: 'forged' }).catch((e: unknown) => e),
      403,
      "You've been logged out by the server. Please log in again.",
    );
    await t.db.query(
      `UPDATE pgrt.login_tokens SET "when" = now() - interval '91 days' WHERE hashed_token = $1`,
      [hashLoginToken(token)],
    );
    const c = t.session();
    expectError(
      await t.call(c.session, c.out, 'login', { resume: token }).catch((e: unknown) => e),
      403,
      'Your session has expired. Please log in again.',
    );
    // A fresh token, then logout: the token no longer resumes.
    const fresh = (await t.call(c.session, c.out, 'login', { user: { id }, password: 'pw' })) as LoginResult;
    await t.call(c.session, c.out, 'logout');
    assert.equal(c.session.userId, null);
    expectError(
      await t.call(b.session, b.out, 'login', { resume: fresh.token }).catch((e: unknown) => e),
      403,
      "You've been logged out by the server. Please log in again.",
    );
  });

  it('createUser logs in and publishes the user; duplicates and disabled signups are refused', async () => {
    const username = name('carol');
    const { session, out } = t.session();
    await session.startUniversal();
    const result = (await t.call(session, out, 'createUser', {
      username,
      email: `${username}@example.com`,
      password: { digest: sha256Hex('pw'), algorithm: 'sha-256' },
    })) as LoginResult;
    assert.equal(session.userId, result.id);
    assert.deepEqual(out.collection('users')[result.id], {
      username,
      emails: [{ address: `${username}@example.com`, verified: false }],
    });
    const again = t.session();
    expectError(
      await t
        .call(again.session, again.out, 'createUser', { username, password: 'x' })
        .catch((e: unknown) => e),
      403,
      // Meteor's `_handleError('Username already exists.')`: ambiguous by default.
      CREDENTIALS,
    );
    // changePassword: old one stops working, new one works.
    await t.call(session, out, 'changePassword', 'pw', { digest: sha256Hex('pw2'), algorithm: 'sha-256' });
    expectError(
      await t
        .call(again.session, again.out, 'login', { user: { username }, password: 'pw' })
        .catch((e: unknown) => e),
      403,
      CREDENTIALS,
    );
    await t.call(again.session, again.out, 'login', {
      user: { email: `${username}@EXAMPLE.com` },
      password: 'pw2',
    });
  });

  it('login and logout rerun subscriptions and send only the differences, ready once', async () => {
    const alice = name('alice');
    const mallory = name('mallory');
    const aliceId = await store.createUser({ username: alice, password: 'pw' });
    const malloryId = await store.createUser({ username: mallory, password: 'pw' });
    const publicList = name('public');
    await t.db.query('INSERT INTO todo_lists (id, name) VALUES ($1, $2)', [publicList, 'Public']);
    const secret = name('secret');
    await t.db.query('INSERT INTO todo_lists (id, name, owner_id) VALUES ($1, $2, $3)', [
      secret,
      'Secret',
      aliceId,
    ]);
    await t.db.query("INSERT INTO todos (id, list_id, text) VALUES ($1, $2, 'private todo')", [
      name('todo'),
      secret,
    ]);

    const m = t.session();
    await m.session.startUniversal();
    await t.call(m.session, m.out, 'login', { user: { id: malloryId }, password: 'pw' });
    await m.session.subscribe('l', 'lists', []);
    await m.session.subscribe('t', 'todos', [secret]);
    assert.ok(m.out.collection('lists')[publicList]);
    assert.equal(m.out.collection('lists')[secret], undefined);
    assert.deepEqual(m.out.collection('todos'), {});

    const { session, out } = t.session();
    await session.startUniversal();
    await session.subscribe('l', 'lists', []);
    await session.subscribe('t', 'todos', [secret]);
    assert.ok(out.collection('lists')[publicList]);
    assert.equal(out.collection('lists')[secret], undefined);
    const mark = out.messages.length;
    await t.call(session, out, 'login', { user: { username: alice }, password: 'pw' });
    const after = out.messages.slice(mark);
    // The public list was there before and after: nothing about it is re-sent.
    assert.ok(!after.some((msg) => 'id' in msg && msg.id === publicList));
    assert.ok(after.some((msg) => msg.msg === 'added' && msg.id === secret));
    assert.ok(after.some((msg) => msg.msg === 'added' && msg.collection === 'users' && msg.id === aliceId));
    const readies = after.filter((msg) => msg.msg === 'ready');
    assert.equal(readies.length, 1);
    assert.deepEqual([...(readies[0]?.msg === 'ready' ? readies[0].subs : [])].sort(), ['l', 't']);
    assert.equal(Object.keys(out.collection('todos')).length, 1);
    assert.deepEqual(out.violations, []);

    const mark2 = out.messages.length;
    await t.call(session, out, 'logout');
    const afterLogout = out.messages.slice(mark2);
    assert.ok(afterLogout.some((msg) => msg.msg === 'removed' && msg.id === secret));
    assert.ok(afterLogout.some((msg) => msg.msg === 'removed' && msg.collection === 'users'));
    assert.ok(!afterLogout.some((msg) => 'id' in msg && msg.id === publicList));
    assert.deepEqual(out.collection('todos'), {});
    assert.deepEqual(out.collection('users'), {});
    assert.deepEqual(out.violations, []);
    // Mallory still sees nothing of Alice's list.
    assert.equal(m.out.collection('lists')[secret], undefined);
    assert.deepEqual(m.out.collection('todos'), {});
  });

  it('guards: anonymous calls get 403 Login required, missing roles 403 Access denied', async () => {
    const { session, out } = t.session();
    expectError(
      await t.call(session, out, 'lists.create', 'x').catch((e: unknown) => e),
      403,
      'Login required',
    );
    const username = name('dave');
    const id = await store.createUser({ username, password: 'pw' });
    await t.call(session, out, 'login', { user: { username }, password: 'pw' });
    expectError(
      await t.call(session, out, 'lists.createPublic', 'x').catch((e: unknown) => e),
      403,
      'Access denied',
    );
    await store.setRoles(id, ['admin']);
    assert.equal(typeof (await t.call(session, out, 'lists.createPublic', 'x')), 'string');
  });

  it('imports a Meteor user document that logs in with its original password and token', async () => {
    const username = name('meteor');
    const id = `M${Math.random().toString(36).slice(2, 12)}`;
    const token = 'legacyResumeTokenFromMeteor0000000000000000';
    await store.importMeteorUser({
      _id: id,
      username,
      emails: [{ address: `${username}@example.com`, verified: true }],
      profile: { name: 'Met Eor' },
      services: {
        password: { bcrypt: bcrypt.hashSync(sha256Hex('original'), 10).replace(/^\$2b\$/, '$2a$') },
        resume: { loginTokens: [{ hashedToken: hashLoginToken(token), when: new Date() }] },
      },
    });
    const { session, out } = t.session();
    const result = (await t.call(session, out, 'login', {
      user: { username },
      password: { digest: sha256Hex('original'), algorithm: 'sha-256' },
    })) as LoginResult;
    assert.equal(result.id, id);
    // Re-hashed with the configured rounds at login.
    const hash = await t.db.query<{ bcrypt: string }>(
      'SELECT bcrypt FROM pgrt.user_passwords WHERE user_id = $1',
      [id],
    );
    assert.equal(bcrypt.getRounds(hash.rows[0]?.bcrypt ?? ''), 4);
    const other = t.session();
    assert.equal(
      ((await t.call(other.session, other.out, 'login', { resume: token })) as LoginResult).id,
      id,
    );
  });
});
