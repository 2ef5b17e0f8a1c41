/**
 * What a username, an email address and a password may be (hygiene.ts; issue 12 item 8): look-alike usernames
 * collide (all-Cyrillic ones too, and with names stored before normalization) or are refused, addresses are one
 * valid address, empty passwords are refused.
 */
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { App } from '../app.js';
import { ClientError } from '../errors.js';
import { type Accounts, accounts } from './accounts.js';
import { cleanEmail, cleanUsername, MAX_EMAIL_LENGTH, MAX_USERNAME_LENGTH } from './hygiene.js';
import { sha256Hex } from './password.js';

/** A Meteor-style bcrypt of `password` (of its SHA-256 digest, as Meteor stores it), for imported users. */
const bcryptOf = (password: string) => bcrypt.hash(sha256Hex(password), 4);

const CREDENTIALS = 'Something went wrong. Please check your credentials.';
/** "Username already exists.", as the default `ambiguousErrorMessages` words it. */
const isTaken = (error: unknown) => error instanceof ClientError && error.reason === CREDENTIALS;

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
    const digits = () => `${process.pid}${Math.floor(Math.random() * 1e6)}`;
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

    it('an all-Cyrillic or all-Greek look-alike of a Latin name collides with it, both ways; real Cyrillic names do not', async () => {
      const n = digits(); // a suffix of no script: the names stay all-Cyrillic
      // рорру / сорра: every letter Cyrillic (р о у с а), each the look-alike of a Latin one.
      await store.createUser({ username: `poppy${n}`, password: 'pw' });
      const cyrillicPoppy = await createUser({
        username: `\u0440\u043e\u0440\u0440\u0443${n}`,
        password: 'pw',
      });
      assert.equal((cyrillicPoppy as ClientError).reason, CREDENTIALS, String(cyrillicPoppy));
      await store.createUser({ username: `\u0441\u043e\u0440\u0440\u0430${n}`, password: 'pw' });
      await assert.rejects(store.createUser({ username: `COPPA${n}`, password: 'pw' }), isTaken);
      // Capitals: ВОВА reads as BOBA; Greek ΤΑΧΙ as TAXI.
      await store.createUser({ username: `\u0412\u041e\u0412\u0410${n}`, password: 'pw' });
      await assert.rejects(store.createUser({ username: `boba${n}`, password: 'pw' }), isTaken);
      await store.createUser({ username: `taxi${n}`, password: 'pw' });
      await assert.rejects(
        store.createUser({ username: `\u03a4\u0391\u03a7\u0399${n}`, password: 'pw' }),
        isTaken,
      );
      // Names that only share some letters with a Latin one are distinct: маша (ш), вова (a lower-case в).
      const m = digits();
      await store.createUser({ username: `mawa${m}`, password: 'pw' });
      await store.createUser({ username: `\u043c\u0430\u0448\u0430${m}`, password: 'pw' });
      await store.createUser({ username: `boba${m}`, password: 'pw' });
      await store.createUser({ username: `\u0432\u043e\u0432\u0430${m}`, password: 'pw' });
      // setUsername checks the same way; renaming to a look-alike of one's own name is fine.
      const id = await store.createUser({ username: `pear${n}`, password: 'pw' });
      await assert.rejects(store.setUsername(id, `\u0440\u043e\u0440\u0440\u0443${n}`), isTaken);
      await store.setUsername(id, `PEAR${n}`);
      assert.equal((await store.findUserById(id))?.username, `PEAR${n}`);
    });

    it('names stored before normalization (or imported from Meteor) keep working and are not copied', async () => {
      const fullwidth = [...`legacy${tag}`]
        .map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))
        .join('');
      const spaced = ` Old   Timer${tag} `;
      for (const [i, username] of [fullwidth, spaced].entries())
        await store.importMeteorUser({
          _id: `legacy${i}${tag}`,
          username,
          services: { password: { bcrypt: await bcryptOf('pw') } },
        });
      const loginAs = async (username: string) => {
        const { session, out } = t.session();
        await t.call(session, out, 'login', { user: { username }, password: 'pw' }).catch(() => {});
        return session.userId;
      };
      // What the user always typed, and its normalized form, both log in; the stored name is left as it was.
      assert.equal(await loginAs(fullwidth), `legacy0${tag}`);
      assert.equal(await loginAs(`legacy${tag}`), `legacy0${tag}`);
      assert.equal(await loginAs(spaced), `legacy1${tag}`);
      assert.equal(await loginAs(`old timer${tag}`), `legacy1${tag}`);
      assert.equal((await store.findUserById(`legacy0${tag}`))?.username, fullwidth);
      // New look-alikes of them are refused.
      for (const copy of [`legacy${tag}`, `Old Timer${tag}`, ` OLD TIMER${tag}`])
        assert.equal(
          ((await createUser({ username: copy, password: 'pw' })) as ClientError).reason,
          CREDENTIALS,
          copy,
        );
    });

    it('a look-alike login that matches two stored names finds neither (as Meteor when its case-insensitive match is not unique)', async () => {
      const fullwidth = [...`twin${tag}`]
        .map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0))
        .join('');
      for (const [i, username] of [fullwidth, ` twin${tag}`].entries())
        await store.importMeteorUser({
          _id: `twin${i}${tag}`,
          username,
          services: { password: { bcrypt: await bcryptOf('pw') } },
        });
      const { session, out } = t.session();
      const error = await t
        .call(session, out, 'login', { user: { username: `TWIN${tag}` }, password: 'pw' })
        .catch((e: unknown) => e);
      assert.ok(error instanceof ClientError, String(error));
      assert.equal(session.userId, null);
      // Each still logs in by its own name.
      const own = t.session();
      await t.call(own.session, own.out, 'login', { user: { username: fullwidth }, password: 'pw' });
      assert.equal(own.session.userId, `twin0${tag}`);
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
