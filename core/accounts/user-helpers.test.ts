/**
 * Meteor's server helpers (user-helpers.ts): `setUsername`, `addEmail`, `removeEmail`, `findUserByUsername`,
 * `findUserByEmail`, and `updateOrCreateUserFromExternalService` with its hooks, logging in through a login
 * handler whose `services.<name>` never reaches the client.
 */
import assert from 'node:assert/strict';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { App } from '../app.js';
import { ClientError } from '../errors.js';
import { type Accounts, accounts, type LoginResult } from './accounts.js';

const name = (base: string) => `${base}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

describe('accounts: server helpers and external services', () => {
  let t: TestCore;
  let store: Accounts;
  const external: { before: unknown[]; created: unknown[] } = { before: [], created: [] };

  before(async () => {
    store = accounts({ bcryptRounds: 4, ambiguousErrorMessages: false });
    store.registerLoginHandler('github', async (options, ctx) => {
      if (!options.github) return undefined;
      const data = options.github as { id: number; login: string };
      return await store.updateOrCreateUserFromExternalService(
        'github',
        { id: data.id, username: data.login, accessToken: 'secret-token' },
        { profile: { name: data.login } },
        ctx,
      );
    });
    store.beforeExternalLogin((service, data) => {
      external.before.push([service, (data as { id: unknown }).id]);
      return (data as { id: unknown }).id !== 666;
    });
    store.onCreateUser((options, user) => {
      external.created.push(options);
      return { ...user, ...(options.profile ? { profile: options.profile as Record<string, unknown> } : {}) };
    });
    t = await startTestCore(new App().use(store), async () => {}, undefined, { rateLimits: false });
  });
  after(async () => t?.close());

  it('setUsername normalizes, refuses a taken name (case-insensitively) and an unknown user', async () => {
    const id = await store.createUser({ username: name('before'), password: 'pw' });
    const taken = name('taken');
    await store.createUser({ username: taken, password: 'pw' });
    const wanted = name('after');
    await store.setUsername(id, `  ${wanted.toUpperCase()}  `);
    assert.equal((await store.findUserByUsername(wanted))?._id, id);
    await assert.rejects(store.setUsername(id, taken.toUpperCase()), /Username already exists\./);
    await assert.rejects(store.setUsername(name('ghost'), name('x')), /User not found/);
  });

  it('addEmail appends or replaces the own address in another case; removeEmail removes it; findUserByEmail', async () => {
    const id = await store.createUser({ username: name('mail'), password: 'pw' });
    const address = `${name('Box')}@example.com`;
    await store.addEmail(id, address);
    await store.addEmail(id, `second.${address}`, true);
    await store.addEmail(id, address.toUpperCase(), true);
    const doc = await store.findUserByEmail(address.toLowerCase());
    assert.equal(doc?._id, id);
    assert.deepEqual(doc?.emails, [
      { address: address.toUpperCase(), verified: true },
      { address: `second.${address}`, verified: true },
    ]);
    await store.removeEmail(id, address.toUpperCase());
    assert.equal(await store.findUserByEmail(address), null);
    assert.deepEqual((await store.findUserByEmail(`second.${address}`, { fields: { emails: 1 } }))?.emails, [
      { address: `second.${address}`, verified: true },
    ]);
    await assert.rejects(store.addEmail(id, 'a@b.com\r\nBcc: victim@example.com'), /Invalid email address/);
    await assert.rejects(store.removeEmail(name('ghost'), address), /User not found/);
  });

  it('a login handler creates the user from the external service, then updates the same user', async () => {
    const githubId = Math.floor(Math.random() * 1e9);
    const login = name('octo');
    const first = t.session();
    await first.session.startUniversal();
    const created = (await t.call(first.session, first.out, 'login', {
      github: { id: githubId, login },
    })) as LoginResult;
    assert.equal(created.type, 'github');
    assert.equal(first.session.userId, created.id);
    // services.github is stored but never published.
    assert.deepEqual(first.out.collection('users')[created.id], { profile: { name: login } });
    const doc = await store.findUserById(created.id);
    assert.deepEqual(doc?.services, {
      github: { id: githubId, username: login, accessToken: 'secret-token' },
    });
    assert.deepEqual(external.created.at(-1), { profile: { name: login } });
    // Again (another login name at the provider): the same user, services merged.
    const again = t.session();
    const updated = (await t.call(again.session, again.out, 'login', {
      github: { id: githubId, login: `${login}-renamed` },
    })) as LoginResult;
    assert.equal(updated.id, created.id);
    assert.equal((await store.findUserById(created.id))?.services?.github?.username, `${login}-renamed`);
    assert.deepEqual(external.before.slice(-2), [
      ['github', githubId],
      ['github', githubId],
    ]);
  });

  it('beforeExternalLogin returning false is 403 "Login forbidden"; internal services and missing ids are refused', async () => {
    const { session, out } = t.session();
    const error = await t
      .call(session, out, 'login', { github: { id: 666, login: 'x' } })
      .catch((e: unknown) => e);
    assert.ok(error instanceof ClientError);
    assert.deepEqual([error.error, error.reason], [403, 'Login forbidden']);
    await assert.rejects(
      store.updateOrCreateUserFromExternalService('password', { id: 1 }),
      /Can't use updateOrCreateUserFromExternalService with internal service password/,
    );
    await assert.rejects(
      store.updateOrCreateUserFromExternalService('github', {}),
      /Service data for service github must include id/,
    );
  });
});
