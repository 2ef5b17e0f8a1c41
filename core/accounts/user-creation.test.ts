/**
 * Creating users as Meteor does (user-creation.ts): `onCreateUser` with the whole options object and extra fields
 * stored in app columns and published through `defaultFieldSelector`; `validateNewUser`; the `Accounts.config`
 * equivalents (`forbidClientAccountCreation`, `restrictCreationByEmailDomain`, `ambiguousErrorMessages`);
 * password-less signups finished by the enrollment email; unique addresses, case-insensitively.
 */
import assert from 'node:assert/strict';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { App } from '../app.js';
import { ClientError } from '../errors.js';
import { type Accounts, type AccountsOptions, accounts, type LoginResult } from './accounts.js';
import type { EmailMessage } from './emails.js';

const CREDENTIALS = 'Something went wrong. Please check your credentials.';
const name = (base: string) => `${base}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

function expectError(error: unknown, code: number | string, reason: string): void {
  assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
  assert.deepEqual([error.error, error.reason], [code, reason]);
}

/** A core with only this accounts plug-in. */
async function startWith(options: AccountsOptions, setup?: (store: Accounts) => void) {
  const store = accounts({ bcryptRounds: 4, ...options });
  setup?.(store);
  const t = await startTestCore(new App().use(store), async () => {}, undefined, { rateLimits: false });
  const call = async (method: string, ...params: unknown[]) => {
    const { session, out } = t.session();
    await session.startUniversal();
    const value = await t.call(session, out, method, ...params).catch((e: unknown) => e);
    return { value, session, out };
  };
  return { store, t, call };
}

describe('accounts: creating users (onCreateUser, validateNewUser, options)', function () {
  this.timeout(30_000);
  const cores: TestCore[] = [];
  after(async () => {
    for (const t of cores) await t.close();
  });
  async function core(options: AccountsOptions, setup?: (store: Accounts) => void) {
    const started = await startWith(options, setup);
    cores.push(started.t);
    return started;
  }

  it('onCreateUser (async) stores extra fields in app columns, published with an inclusive defaultFieldSelector', async () => {
    const seen: unknown[] = [];
    const { store, call } = await core(
      { defaultFieldSelector: { plan: 1 }, userColumns: { plan: 'text' } },
      (s) =>
        s.onCreateUser(async (options, user) => {
          seen.push(options);
          await new Promise((resolve) => setImmediate(resolve));
          return { ...user, plan: String(options.plan ?? 'free'), profile: { name: 'P' } };
        }),
    );
    assert.throws(() => store.onCreateUser((_o, u) => u), /Can only call onCreateUser once/);
    const username = name('paying');
    const { value, out } = await call('createUser', { username, password: 'pw', plan: 'gold' });
    const id = (value as LoginResult).id;
    assert.deepEqual(seen, [{ username, password: 'pw', plan: 'gold' }]);
    assert.deepEqual(out.collection('users')[id], { username, profile: { name: 'P' }, plan: 'gold' });
    // The inclusive defaultFieldSelector is also the default projection of the helpers (Meteor's).
    assert.deepEqual(await store.findUserById(id), { _id: id, plan: 'gold' });
    const doc = await store.findUserById(id, { fields: { createdAt: 1, username: 1 } });
    assert.equal(doc?.username, username);
    assert.ok(doc?.createdAt instanceof Date);
  });

  it('a field without a column fails the signup with a logged ConfigurationError (500), leaving no user', async () => {
    const username = name('nocolumn');
    const { store, call } = await core({}, (s) =>
      s.onCreateUser((_options, user) => ({ ...user, shoeSize: 44 })),
    );
    const { value } = await call('createUser', { username, password: 'pw' });
    assert.ok(!(value instanceof ClientError), String(value));
    assert.match(String(value), /shoeSize.*has no column/);
    assert.equal(await store.findUserByUsername(username), null);
  });

  it('validateNewUser: false is 403 "User validation failed"; async throws are the error; all run in order', async () => {
    const order: string[] = [];
    const { call } = await core({}, (s) => {
      s.validateNewUser((user) => {
        order.push('first');
        return user.username !== 'no';
      });
      s.validateNewUser(async (user) => {
        order.push('second');
        await new Promise((resolve) => setImmediate(resolve));
        if (user.username === 'bad') throw new ClientError(403, 'Bad name');
        return true;
      });
    });
    expectError(
      (await call('createUser', { username: 'no', password: 'pw' })).value,
      403,
      'User validation failed',
    );
    expectError((await call('createUser', { username: 'bad', password: 'pw' })).value, 403, 'Bad name');
    assert.deepEqual(order, ['first', 'first', 'second']);
  });

  it('forbidClientAccountCreation refuses the method (403 "Signups forbidden"), not the server API', async () => {
    const { store, call } = await core({ forbidClientAccountCreation: true });
    expectError(
      (await call('createUser', { username: name('x'), password: 'pw' })).value,
      403,
      'Signups forbidden',
    );
    assert.equal(typeof (await store.createUser({ username: name('server'), password: 'pw' })), 'string');
  });

  it('restrictCreationByEmailDomain: a domain or a predicate', async () => {
    const byDomain = await core({ restrictCreationByEmailDomain: 'school.edu' });
    expectError(
      (await byDomain.call('createUser', { email: `${name('a')}@gmail.com`, password: 'pw' })).value,
      403,
      '@school.edu email required',
    );
    expectError(
      (await byDomain.call('createUser', { username: name('noemail'), password: 'pw' })).value,
      403,
      '@school.edu email required',
    );
    const ok = (await byDomain.call('createUser', { email: `${name('b')}@SCHOOL.edu`, password: 'pw' }))
      .value;
    assert.equal(typeof (ok as LoginResult).id, 'string');
    const byFunction = await core({ restrictCreationByEmailDomain: (email) => email.endsWith('.org') });
    expectError(
      (await byFunction.call('createUser', { email: `${name('c')}@x.com`, password: 'pw' })).value,
      403,
      "Email doesn't match the criteria.",
    );
  });

  it("ambiguousErrorMessages: false gives Meteor's specific messages; the default is ambiguous", async () => {
    const specific = await core({ ambiguousErrorMessages: false });
    const username = name('specific');
    await specific.store.createUser({ username, email: `${username}@example.com`, password: 'pw' });
    expectError(
      (await specific.call('createUser', { username: username.toUpperCase(), password: 'pw' })).value,
      403,
      'Username already exists.',
    );
    expectError(
      (
        await specific.call('createUser', {
          username: name('o'),
          email: `${username}@EXAMPLE.com`,
          password: 'pw',
        })
      ).value,
      403,
      'Email already exists.',
    );
    expectError(
      (await specific.call('login', { user: { username }, password: 'nope' })).value,
      403,
      'Incorrect password',
    );
    expectError(
      (await specific.call('login', { user: { username: name('ghost') }, password: 'nope' })).value,
      403,
      'User not found',
    );
    // The same database: the user exists for this plug-in too.
    const ambiguous = await core({});
    expectError((await ambiguous.call('createUser', { username, password: 'pw' })).value, 403, CREDENTIALS);
  });

  it('addresses are unique case-insensitively, whoever writes them', async () => {
    const { store, t } = await core({});
    const email = `${name('Unique')}@Example.com`;
    const first = await store.createUser({ email, password: 'pw' });
    await assert.rejects(
      store.createUser({ email: email.toLowerCase(), password: 'pw' }),
      /check your credentials/,
    );
    const other = await store.createUser({ username: name('other'), password: 'pw' });
    await assert.rejects(store.addEmail(other, email.toUpperCase()), /check your credentials/);
    // Plain SQL too: the trigger-maintained index refuses it.
    await assert.rejects(
      t.db.query('UPDATE pgrt.users SET emails = $2 WHERE id = $1', [
        other,
        JSON.stringify([{ address: email.toUpperCase(), verified: false }]),
      ]),
      (e: { code?: string }) => e.code === '23505',
    );
    // The owner may change the case of their own address.
    await store.addEmail(first, email.toLowerCase(), true);
    assert.deepEqual((await store.findUserById(first))?.emails, [
      { address: email.toLowerCase(), verified: true },
    ]);
  });

  it('a password-less createUser logs in; with sendVerificationEmail it sends the enrollment email', async () => {
    const sent: EmailMessage[] = [];
    const { call } = await core({
      sendVerificationEmail: true,
      rootUrl: 'https://app.example.com',
      sendEmail: async (message) => {
        sent.push(message);
      },
    });
    const email = `${name('enrol')}@example.com`;
    const { value, session } = await call('createUser', { email });
    assert.equal(session.userId, (value as LoginResult).id);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.to, email);
    assert.match(sent[0]?.text ?? '', /#\/enroll-account\//);
    const withPassword = `${name('verify')}@example.com`;
    await call('createUser', { email: withPassword, password: 'pw' });
    assert.match(sent[1]?.text ?? '', /#\/verify-email\//);
  });
});
