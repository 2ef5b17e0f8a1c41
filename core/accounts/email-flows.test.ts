/**
 * The accounts-password email flows at the core level (no sockets), with a fake `sendEmail` that keeps the
 * messages: forgotPassword → reset link → resetPassword (logs in, revokes the other logins, single use, expiry),
 * enrollment, verification (live `emails.verified` in `users`), Meteor's errors, and a server without
 * `sendEmail`. The link building and templates are checked without a database at the end.
 */
import assert from 'node:assert/strict';
import { App } from '../../core/app.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { ClientError, ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type Accounts, accounts, type LoginResult } from './accounts.js';
import { AccountEmails, type EmailMessage, type EmailUser } from './emails.js';
import { sha256Hex } from './password.js';
import { hashLoginToken } from './tokens.js';

const ROOT = 'https://app.example.com';
const CREDENTIALS = 'Something went wrong. Please check your credentials.';

function expectError(error: unknown, code: number | string, reason: string): true {
  assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
  assert.deepEqual([error.error, error.reason], [code, reason]);
  return true;
}

/** The token at the end of the link in a message's text. */
function tokenIn(message: EmailMessage | undefined, path: string): string {
  const match = new RegExp(`${ROOT.replaceAll('.', '\\.')}/${path}/([A-Za-z0-9_-]{43})\\n`).exec(
    message?.text ?? '',
  );
  assert.ok(match?.[1], `no ${path} link in ${JSON.stringify(message)}`);
  return match[1];
}

/** An app with accounts and a method telling who the caller is. */
function whoamiApp(store: Accounts): App {
  return new App().use(store).method('whoami', (ctx) => ctx.userId);
}

describe('accounts email flows (core)', () => {
  let t: TestCore;
  let store: Accounts;
  const sent: EmailMessage[] = [];
  const name = (base: string) => `${base}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

  before(async () => {
    store = accounts({
      bcryptRounds: 4,
      rootUrl: `${ROOT}/`,
      sendVerificationEmail: true,
      sendEmail: async (message) => {
        sent.push(message);
      },
    });
    t = await startTestCore(whoamiApp(store), async () => {}, undefined, { rateLimits: false });
  });
  after(async () => t?.close());

  const call = (c: ReturnType<TestCore['session']>, method: string, ...params: unknown[]) =>
    t.call(c.session, c.out, method, ...params);
  const failure = (c: ReturnType<TestCore['session']>, method: string, ...params: unknown[]) =>
    call(c, method, ...params).then(
      () => assert.fail(`${method} succeeded`),
      (error: unknown) => error,
    );

  it('forgotPassword emails a reset link; resetPassword with it logs in, once, and revokes the other logins', async () => {
    const username = name('alice');
    const email = `${username}@Example.com`;
    const id = await store.createUser({ username, email, password: 'old-pw' });
    // Logged in before the reset: another connection, and the connection that will reset.
    const other = t.session();
    await call(other, 'login', { user: { username }, password: 'old-pw' });
    const caller = t.session();
    await caller.session.startUniversal();
    await call(caller, 'login', { user: { username }, password: 'old-pw' });

    const anonymous = t.session();
    const count = sent.length;
    assert.equal(await call(anonymous, 'forgotPassword', { email: email.toUpperCase() }), undefined);
    assert.equal(sent.length, count + 1);
    const message = sent.at(-1);
    assert.equal(message?.to, email, 'sent to the address as stored');
    assert.equal(message?.subject, 'How to reset your password on app.example.com');
    assert.equal(message?.from, undefined);
    const token = tokenIn(message, '#/reset-password');
    assert.match(message?.text ?? '', /^Hello,\n\nTo reset your password, simply click the link below\./);
    // Stored hashed only.
    const stored = await t.db.query<{ hashed_token: string; reason: string; email: string }>(
      'SELECT hashed_token, reason, email FROM pgrt.email_tokens WHERE user_id = $1',
      [id],
    );
    assert.deepEqual(stored.rows, [{ hashed_token: hashLoginToken(token), reason: 'reset', email }]);

    const result = (await call(caller, 'resetPassword', token, {
      digest: sha256Hex('new-pw'),
      algorithm: 'sha-256',
    })) as LoginResult;
    assert.equal(result.id, id);
    assert.equal(result.token.length, 43);
    assert.ok(result.tokenExpires instanceof Date);
    assert.equal(caller.session.userId, id);
    // Every other login token is gone: the other connection is logged out by the server; the caller stays.
    await waitUntil(() => other.session.userId === null, { what: () => 'the other connection logged out' });
    const tokens = await t.db.query<{ hashed_token: string }>(
      'SELECT hashed_token FROM pgrt.login_tokens WHERE user_id = $1',
      [id],
    );
    assert.deepEqual(
      tokens.rows.map((r) => r.hashed_token),
      [hashLoginToken(result.token)],
    );
    assert.equal(await call(caller, 'whoami'), id);
    // The address is verified, and the published user shows it.
    await waitUntil(() => caller.out.collection('users')[id]?.emails !== undefined);
    await waitUntil(
      () =>
        JSON.stringify(caller.out.collection('users')[id]?.emails) ===
        JSON.stringify([{ address: email, verified: true }]),
      { what: () => `verified: ${JSON.stringify(caller.out.collection('users')[id])}` },
    );

    const fresh = t.session();
    expectError(await failure(fresh, 'login', { user: { username }, password: 'old-pw' }), 403, CREDENTIALS);
    assert.equal(
      ((await call(fresh, 'login', { user: { email }, password: 'new-pw' })) as LoginResult).id,
      id,
    );
    // Single use.
    expectError(await failure(t.session(), 'resetPassword', token, 'again'), 403, 'Token expired');
    assert.equal((await t.db.query('SELECT 1 FROM pgrt.email_tokens WHERE user_id = $1', [id])).rowCount, 0);
  });

  it('two concurrent resetPassword calls with one token: one logs in, the other gets 403 Token expired', async () => {
    const email = `${name('race')}@example.com`;
    const id = await store.createUser({ email, password: 'pw' });
    const { token } = await store.sendResetPasswordEmail(id);
    const outcomes = await Promise.allSettled([
      call(t.session(), 'resetPassword', token, 'one'),
      call(t.session(), 'resetPassword', token, 'two'),
    ]);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    expectError(lost[0]?.reason, 403, 'Token expired');
  });

  it('an expired reset token gets 403 Token expired; the sweep deletes it; a new one replaces the old', async () => {
    const email = `${name('late')}@example.com`;
    const id = await store.createUser({ email, password: 'pw' });
    const first = await store.sendResetPasswordEmail(id);
    const second = await store.sendResetPasswordEmail(id, email, { extraParams: { lang: 'fr' } });
    assert.equal(second.url, `${ROOT}/?lang=fr#/reset-password/${second.token}`);
    expectError(await failure(t.session(), 'resetPassword', first.token, 'x'), 403, 'Token expired');
    await t.db.query(
      `UPDATE pgrt.email_tokens SET "when" = now() - interval '3 days 1 minute' WHERE user_id = $1`,
      [id],
    );
    expectError(await failure(t.session(), 'resetPassword', second.token, 'x'), 403, 'Token expired');
    await store.expireTokens();
    assert.equal((await t.db.query('SELECT 1 FROM pgrt.email_tokens WHERE user_id = $1', [id])).rowCount, 0);
  });

  it('changePassword and setPassword use up a pending reset link', async () => {
    const username = name('changer');
    const id = await store.createUser({ username, email: `${username}@example.com`, password: 'pw' });
    const c = t.session();
    await call(c, 'login', { user: { id }, password: 'pw' });
    const { token } = await store.sendResetPasswordEmail(id);
    await call(c, 'changePassword', 'pw', 'pw2');
    expectError(await failure(t.session(), 'resetPassword', token, 'x'), 403, 'Token expired');
    const again = await store.sendResetPasswordEmail(id);
    await store.setPassword(id, 'pw3');
    await waitUntil(() => c.session.userId === null, { what: () => 'setPassword logged the user out' });
    expectError(await failure(t.session(), 'resetPassword', again.token, 'x'), 403, 'Token expired');
    await call(t.session(), 'login', { user: { username }, password: 'pw3' });
    expectError(await store.setPassword(name('nobody'), 'x').catch((e: unknown) => e), 403, 'User not found');
  });

  it("Meteor's errors: unknown email (ambiguous), bad shapes, an address no longer the user's", async () => {
    const c = t.session();
    const count = sent.length;
    expectError(
      await failure(c, 'forgotPassword', { email: `${name('nobody')}@example.com` }),
      403,
      CREDENTIALS,
    );
    for (const bad of [[{ email: 'a@b', extra: 1 }], [{}], ['a@b'], [{ email: 1 }]])
      expectError(await failure(c, 'forgotPassword', ...bad), 400, 'Match failed');
    assert.equal(sent.length, count, 'nothing sent');
    expectError(await failure(c, 'resetPassword', 42, 'pw'), 400, 'Match failed');
    expectError(
      await failure(c, 'resetPassword', 'x', { digest: 'short', algorithm: 'sha-256' }),
      400,
      'Match failed',
    );
    expectError(await failure(c, 'resetPassword', 'no-such-token', 'pw'), 403, 'Token expired');
    expectError(await failure(c, 'verifyEmail', 'no-such-token'), 403, 'Verify email link expired');
    expectError(await failure(c, 'verifyEmail', ['x']), 400, 'Match failed');

    const email = `${name('moved')}@example.com`;
    const id = await store.createUser({ email, password: 'pw' });
    const reset = await store.sendResetPasswordEmail(id);
    const verify = await store.sendVerificationEmail(id);
    await t.db.query(
      `UPDATE pgrt.users SET emails = '[{"address": "elsewhere@example.com", "verified": false}]' WHERE id = $1`,
      [id],
    );
    expectError(await failure(c, 'resetPassword', reset.token, 'x'), 403, 'Token has invalid email address');
    expectError(
      await failure(c, 'verifyEmail', verify.token),
      403,
      'Verify email link is for unknown address',
    );
    assert.equal(c.session.userId, null);
    // The server API's own failures are the ambiguous 403 too (Meteor's _handleError).
    for (const attempt of [
      store.sendResetPasswordEmail(name('nobody')),
      store.sendResetPasswordEmail(id, 'not-theirs@example.com'),
      store.generateVerificationToken(id, email),
    ])
      expectError(await attempt.catch((e: unknown) => e), 403, CREDENTIALS);
  });

  it('enrollment: a user created without a password sets it with the link (30 days), is verified and logged in', async () => {
    const email = `${name('newbie')}@example.com`;
    const id = await store.createUser({ email, profile: { name: 'New Bie' } });
    const c = t.session();
    expectError(await failure(c, 'login', { user: { email }, password: 'guess' }), 403, CREDENTIALS);
    const sentEmail = await store.sendEnrollmentEmail(id);
    assert.equal(sentEmail.message, sent.at(-1));
    assert.equal(sentEmail.message.subject, 'An account has been created for you on app.example.com');
    assert.match(sentEmail.message.text ?? '', /^Hello New Bie,\n\nTo start using the service/);
    const token = tokenIn(sentEmail.message, '#/enroll-account');
    assert.equal(token, sentEmail.token);
    // Four days old: too old for a reset link, not for an enrollment link.
    await t.db.query(`UPDATE pgrt.email_tokens SET "when" = now() - interval '4 days' WHERE user_id = $1`, [
      id,
    ]);
    const result = (await call(c, 'resetPassword', token, 'chosen')) as LoginResult;
    assert.equal(result.id, id);
    assert.equal(c.session.userId, id);
    const user = await t.db.query<{ emails: unknown }>('SELECT emails FROM pgrt.users WHERE id = $1', [id]);
    assert.deepEqual(user.rows[0]?.emails, [{ address: email, verified: true }]);
    await call(t.session(), 'login', { user: { email }, password: 'chosen' });

    const late = await store.sendEnrollmentEmail(id);
    await t.db.query(`UPDATE pgrt.email_tokens SET "when" = now() - interval '31 days' WHERE user_id = $1`, [
      id,
    ]);
    expectError(await failure(t.session(), 'resetPassword', late.token, 'x'), 403, 'Token expired');
  });

  it('verification: createUser sends the link; verifyEmail marks the address verified live and logs in', async () => {
    const username = name('verify');
    const email = `${username}@example.com`;
    const signup = t.session();
    await signup.session.startUniversal();
    const count = sent.length;
    const created = (await call(signup, 'createUser', { username, email, password: 'pw' })) as LoginResult;
    assert.equal(sent.length, count + 1);
    const message = sent.at(-1);
    assert.equal(message?.to, email);
    assert.equal(message?.subject, 'How to verify email address on app.example.com');
    const token = tokenIn(message, '#/verify-email');
    assert.deepEqual(signup.out.collection('users')[created.id]?.emails, [
      { address: email, verified: false },
    ]);

    // Opened in another browser: verifyEmail logs that connection in.
    const link = t.session();
    const result = (await call(link, 'verifyEmail', token)) as LoginResult;
    assert.equal(result.id, created.id);
    assert.equal(link.session.userId, created.id);
    // The signup connection sees the change live (pgrt.users.emails is captured).
    await waitUntil(
      () =>
        JSON.stringify(signup.out.collection('users')[created.id]?.emails) ===
        JSON.stringify([{ address: email, verified: true }]),
      { what: () => JSON.stringify(signup.out.collection('users')[created.id]) },
    );
    expectError(await failure(t.session(), 'verifyEmail', token), 403, 'Verify email link expired');
    expectError(await store.sendVerificationEmail(created.id).catch((e: unknown) => e), 403, CREDENTIALS);

    // A second address: the default is the first unverified one; every link to it is used up by one.
    const secondAddress = `${username}.second@example.com`;
    await t.db.query(
      `UPDATE pgrt.users SET emails = emails || jsonb_build_array(jsonb_build_object('address', $2::text, 'verified', false))
        WHERE id = $1`,
      [created.id, secondAddress],
    );
    const first = await store.sendVerificationEmail(created.id);
    const second = await store.sendVerificationEmail(created.id, secondAddress);
    assert.equal(first.email, secondAddress);
    await call(t.session(), 'verifyEmail', second.token);
    expectError(await failure(t.session(), 'verifyEmail', first.token), 403, 'Verify email link expired');
  });

  it('without sendEmail: forgotPassword fails alike for known and unknown addresses, logged as a configuration error', async () => {
    const logged: { fields: object; message: string | undefined }[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error(fields, message) {
        logged.push({ fields, message });
      },
      child() {
        return logger;
      },
    };
    const bare = accounts({ bcryptRounds: 4, rootUrl: ROOT });
    const other = await startTestCore(whoamiApp(bare), async () => {}, undefined, {
      rateLimits: false,
      logger,
    });
    try {
      const email = `${name('nomail')}@example.com`;
      await bare.createUser({ email, password: 'pw' });
      for (const address of [email, `${name('nobody')}@example.com`]) {
        const { session, out } = other.session();
        const error = await other
          .call(session, out, 'forgotPassword', { email: address })
          .catch((e: unknown) => e);
        assert.ok(error instanceof ConfigurationError && !(error instanceof ClientError));
        assert.match(error.message, /sendEmail is not set/);
      }
      assert.equal(
        logged.filter((l) => (l.fields as { err?: unknown }).err instanceof ConfigurationError).length,
        2,
      );
      await assert.rejects(bare.sendEnrollmentEmail('whoever'), ConfigurationError);
      assert.throws(() => accounts({ sendVerificationEmail: true, sendEmail: async () => {} }), /rootUrl/);
      assert.throws(() => accounts({ rootUrl: 'not a url' }), ConfigurationError);
      assert.throws(() => accounts({ passwordResetTokenExpirationInDays: 0 }), ConfigurationError);
    } finally {
      await other.close();
    }
  });
});

describe('accounts emails: links and templates', () => {
  const user: EmailUser = { id: 'u1', username: 'ann', emails: [], profile: {} };

  it("builds Meteor's default links under rootUrl (with its path), or the app's", () => {
    const emails = new AccountEmails({ rootUrl: 'https://example.com/app', sendEmail: async () => {} });
    assert.equal(emails.url('resetPassword', 'T'), 'https://example.com/app/#/reset-password/T');
    assert.equal(emails.url('verifyEmail', 'T'), 'https://example.com/app/#/verify-email/T');
    assert.equal(
      emails.url('enrollAccount', 'T', { a: '1' }),
      'https://example.com/app/?a=1#/enroll-account/T',
    );
    const custom = new AccountEmails({
      sendEmail: async () => {},
      urls: { resetPassword: (token) => `myapp://reset?t=${token}` },
    });
    assert.equal(custom.url('resetPassword', 'T'), 'myapp://reset?t=T');
    custom.assertConfigured('resetPassword');
    assert.throws(() => custom.assertConfigured('verifyEmail'), /rootUrl or urls\.verifyEmail/);
  });

  it("an app's template fields replace Meteor's, one by one", async () => {
    const emails = new AccountEmails({
      rootUrl: 'http://localhost:3000',
      sendEmail: async () => {},
      emailTemplates: {
        from: 'Todos <no-reply@todos.test>',
        headers: { 'X-App': 'todos' },
        resetPassword: { html: (u, url) => `<a href="${url}">${u.username}</a>` },
        verifyEmail: { subject: async () => 'Check your address', from: () => 'Robot <r@todos.test>' },
      },
    });
    assert.deepEqual(await emails.message('resetPassword', 'a@b', user, 'http://x/#/r/T'), {
      to: 'a@b',
      from: 'Todos <no-reply@todos.test>',
      subject: 'How to reset your password on localhost:3000',
      text: 'Hello,\n\nTo reset your password, simply click the link below.\n\nhttp://x/#/r/T\n\nThank you.\n',
      html: '<a href="http://x/#/r/T">ann</a>',
      headers: { 'X-App': 'todos' },
    });
    const verify = await emails.message('verifyEmail', 'a@b', user, 'u');
    assert.equal(verify.subject, 'Check your address');
    assert.equal(verify.from, 'Robot <r@todos.test>');
  });
});
