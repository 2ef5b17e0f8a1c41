/**
 * What a username, an email address and a password may be (hygiene.ts; issue 12 item 8): look-alike usernames
 * collide or are refused, addresses are one valid address, empty passwords are refused.
 */
import assert from 'node:assert/strict';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { App } from '../app.js';
import { ClientError } from '../errors.js';
import { type Accounts, accounts } from './accounts.js';
import { cleanEmail, cleanUsername, MAX_EMAIL_LENGTH, MAX_USERNAME_LENGTH } from './hygiene.js';
import { sha256Hex } from './password.js';

const CREDENTIALS = 'Something went wrong. Please check your credentials.';

function refusedWith(reason: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof ClientError && error.error === 400 && reason.test(error.reason ?? '');
}

describe('accounts: username, email and password hygiene', () => {
  it('usernames: NFKC, trimmed, inner space runs collapsed; invisible, control, mixed-script and long ones refused', () => {
    assert.equal(cleanUsername('  ａｌｉｃｅ  '), 'alice');
    assert.equal(cleanUsername('Jane   Doe'), 'Jane Doe');
    assert.equal(cleanUsername('иван'), 'иван');
    // NFKC makes a no-break space a plain one.
    assert.equal(cleanUsername('a\u00a0b'), 'a b');
    for (const bad of [
      'ali\u200bce',
      'ali\u0000ce',
      'ali\nce',
      'ad\u202emin',
      'a\u3164b',
      '\u0430dmin',
      '   ',
    ])
      assert.throws(() => cleanUsername(bad), refusedWith(/Username/), JSON.stringify(bad));
    assert.equal(cleanUsername('x'.repeat(MAX_USERNAME_LENGTH)).length, MAX_USERNAME_LENGTH);
    assert.throws(() => cleanUsername('x'.repeat(MAX_USERNAME_LENGTH + 1)), refusedWith(/at most 64/));
  });

  it('emails: one address, no control characters, at most 254 characters', () => {
    assert.equal(cleanEmail(' a.b+tag@example.co.uk '), 'a.b+tag@example.co.uk');
    assert.equal(cleanEmail('jörg@bücher.de'), 'jörg@bücher.de');
    for (const bad of [
      'a@x.com\r\nBcc: victim@example.com',
      'a@x.com, b@y.com',
      'Alice <a@x.com>',
      'no-at-sign',
      '@x.com',
      'a@',
      'a..b@x.com',
      'a@-x.com',
      'a@x..com',
      'a\u0000@x.com',
    ])
      assert.throws(() => cleanEmail(bad), refusedWith(/Invalid email address/), JSON.stringify(bad));
    const long = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(MAX_EMAIL_LENGTH + 1 - 64 - 1 - 128)}`;
    assert.equal(long.length, MAX_EMAIL_LENGTH + 1);
    assert.throws(() => cleanEmail(long), refusedWith(/at most 254/));
  });

  describe('through createUser and the server API', () => {
    let t: TestCore;
    let store: Accounts;
    const tag = `${process.pid}${Math.random().toString(36).slice(2, 6)}`;
    before(async () => {
      store = accounts({ bcryptRounds: 4 });
      t = await startTestCore(new App().use(store), async () => {}, undefined, { rateLimits: false });
    });
    after(async () => t?.close());
    const createUser = async (options: Record<string, unknown>) => {
      const { session, out } = t.session();
      return await t.call(session, out, 'createUser', options).catch((e: unknown) => e);
    };

    it('a look-alike of an existing username collides with it; the stored name is the normalized one', async () => {
      await store.createUser({ username: `admin${tag}`, password: 'pw' });
      const fullwidth = [...`admin${tag}`]
        .map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))
        .join('');
      for (const lookAlike of [fullwidth, ` admin${tag} `, `ADMIN${tag}`]) {
        const error = await createUser({ username: lookAlike, password: 'pw' });
        assert.ok(error instanceof ClientError, String(error));
        assert.equal(error.reason, CREDENTIALS);
      }
      const cyrillic = await createUser({ username: `\u0430dmin${tag}`, password: 'pw' });
      assert.ok(refusedWith(/may not mix Latin and Cyrillic/)(cyrillic), String(cyrillic));
      const zeroWidth = await createUser({ username: `adm\u200bin${tag}`, password: 'pw' });
      assert.ok(refusedWith(/invisible or control/)(zeroWidth), String(zeroWidth));
      // The fullwidth name logs in as the stored one.
      const { session, out } = t.session();
      await t.call(session, out, 'login', { user: { username: fullwidth }, password: 'pw' });
      assert.equal((await store.findUserByUsername(`admin${tag}`))?._id, session.userId);
    });

    it('a CR/LF address, a 100 KB username and an empty password (plain or digest) are refused before any SQL', async () => {
      assert.ok(
        refusedWith(/Invalid email address/)(
          await createUser({ email: `x${tag}@x.com\r\nBcc: v@x.com`, password: 'pw' }),
        ),
      );
      assert.ok(
        refusedWith(/at most 64/)(await createUser({ username: 'u'.repeat(100_000), password: 'pw' })),
      );
      assert.ok(
        refusedWith(/Password may not be empty/)(await createUser({ username: `e1${tag}`, password: '' })),
      );
      assert.ok(
        refusedWith(/Password may not be empty/)(
          await createUser({
            username: `e2${tag}`,
            password: { digest: sha256Hex(''), algorithm: 'sha-256' },
          }),
        ),
      );
      await assert.rejects(
        store.createUser({ username: `e3${tag}`, password: '' }),
        /Password may not be empty/,
      );
      const id = await store.createUser({ username: `e4${tag}`, password: 'pw' });
      await assert.rejects(store.setPassword(id, ''), /Password may not be empty/);
      assert.equal(await store.findUserByUsername(`e1${tag}`), null);
    });
  });
});
