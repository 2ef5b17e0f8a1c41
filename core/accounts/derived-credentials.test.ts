/**
 * Password-derived credentials (derived-credentials.ts): derived when a password is set, replaced when it changes,
 * derived at a password login when missing (imported users), dropped by an import; looked up by id, username or
 * email; never in a captured table.
 */
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { App } from '../app.js';
import { type Accounts, accounts } from './accounts.js';
import { sha256Hex } from './password.js';

describe('accounts: password-derived credentials', () => {
  let t: TestCore;
  let store: Accounts;
  const derived: string[] = [];
  const name = (base: string) => `${base}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

  before(async () => {
    store = accounts({ bcryptRounds: 4 });
    store.registerDerivedCredential('test-kdf', (digest) => {
      derived.push(digest);
      return { derivedFrom: digest, n: derived.length };
    });
    t = await startTestCore(new App().use(store), async () => {}, undefined, { rateLimits: false });
  });
  after(async () => t?.close());

  it('is derived from the password digest when the user is created, and found by id, username and email', async () => {
    const username = name('cred');
    const email = `${username}@example.com`;
    const id = await store.createUser({ username, email, password: 'pw' });
    for (const identifier of [id, username, email.toUpperCase()]) {
      const credential = await store.derivedCredential(identifier, 'test-kdf');
      assert.equal(credential?.userId, id);
      assert.equal(credential?.data.derivedFrom, sha256Hex('pw'));
    }
    assert.equal(await store.derivedCredential(id, 'other-name'), null);
    assert.equal(await store.derivedCredential(name('nobody'), 'test-kdf'), null);
  });

  it('is replaced when the password changes', async () => {
    const username = name('change');
    const id = await store.createUser({ username, password: 'first' });
    await store.setPassword(id, 'second');
    const credential = await store.derivedCredential(id, 'test-kdf');
    assert.equal(credential?.data.derivedFrom, sha256Hex('second'));
  });

  it('an imported user has none until a password login derives it; a wrong password derives nothing', async () => {
    const username = name('imported');
    const id = `M${Math.random().toString(36).slice(2, 12)}`;
    await store.importMeteorUser({
      _id: id,
      username,
      services: { password: { bcrypt: bcrypt.hashSync(sha256Hex('original'), 4) } },
    });
    assert.equal(await store.derivedCredential(id, 'test-kdf'), null);
    const call = {
      connection: { id: 'c1', protocol: 'test', clientAddress: '127.0.0.1', httpHeaders: {} },
      methodName: 'test',
      methodArguments: [],
    };
    await assert.rejects(store.loginWithSecret(call, username, 'wrong'), /check your credentials/);
    assert.equal(await store.derivedCredential(id, 'test-kdf'), null);
    const identity = await store.loginWithSecret(call, username, 'original');
    assert.equal(identity?.userId, id);
    assert.equal((await store.derivedCredential(id, 'test-kdf'))?.data.derivedFrom, sha256Hex('original'));
    // Re-importing (a new hash from elsewhere) drops it again.
    await store.importMeteorUser({
      _id: id,
      username,
      services: { password: { bcrypt: bcrypt.hashSync(sha256Hex('other'), 4) } },
    });
    assert.equal(await store.derivedCredential(id, 'test-kdf'), null);
  });

  it('lives in a table without capture triggers', async () => {
    const triggers = await t.db.query(
      `SELECT 1 FROM pg_trigger WHERE tgrelid = 'pgrt.user_credentials'::regclass AND NOT tgisinternal`,
    );
    assert.equal(triggers.rowCount, 0);
  });

  it('a second deriver under a taken name is refused; the same one again is not', () => {
    const derive = () => ({});
    store.registerDerivedCredential('twice', derive);
    store.registerDerivedCredential('twice', derive);
    assert.throws(() => store.registerDerivedCredential('twice', () => ({})), /already registered/);
  });
});
