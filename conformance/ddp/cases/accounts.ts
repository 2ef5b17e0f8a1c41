/**
 * Accounts (ddp.md checklist 92–103, §1.15, §1.7): Meteor's `login` with a digest or a plain password, the
 * ambiguous 403, "Match failed", resume tokens, logout, the rerun-and-diff of a user-dependent publication, the
 * accounts rate-limit rule, and the stock publications. Fixture: the seeded user and `userInfo` publication in the
 * README's fixture contract.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ConformanceCase } from '../case.js';
import type { DdpTestClient, JsonObject, JsonValue } from '../client.js';
import { assertWireError, call, subscribe, subscribeReady } from '../helpers.js';

/** The fixture contract's seeded user. */
export const FIXTURE_USERNAME = 'conformance-user';
/** Its password. */
export const FIXTURE_PASSWORD = 'conformance-pw';

const CREDENTIALS = 'Something went wrong. Please check your credentials.';

function digest(password: string): JsonObject {
  return { digest: createHash('sha256').update(password, 'utf8').digest('hex'), algorithm: 'sha-256' };
}

function asObject(value: JsonValue | undefined, what: string): JsonObject {
  assert.ok(
    typeof value === 'object' && value !== null && !Array.isArray(value),
    `${what}: ${JSON.stringify(value)}`,
  );
  return value;
}

/** Logs in with the fixture user's digest; returns the result object. */
async function login(client: DdpTestClient, options: JsonObject): Promise<JsonObject> {
  const { result } = await call(client, 'login', [options]);
  assert.equal(result.error, undefined, `login failed: ${JSON.stringify(result.error)}`);
  return asObject(result.result, 'login result');
}

function assertLoginResult(result: JsonObject): string {
  assert.equal(typeof result.id, 'string', 'result.id');
  assert.equal(typeof result.token, 'string', 'result.token');
  const expires = asObject(result.tokenExpires, 'tokenExpires');
  assert.deepEqual(Object.keys(expires), ['$date'], 'tokenExpires is an EJSON date');
  return result.id as string;
}

async function assertUserAdded(client: DdpTestClient, id: string): Promise<void> {
  const added = await client.next({ msg: 'added', collection: 'users', id });
  const fields = asObject(added.fields ?? {}, 'users fields');
  for (const key of Object.keys(fields))
    assert.ok(['username', 'emails', 'profile'].includes(key), `users field ${key} must not be published`);
  assert.equal(fields.username, FIXTURE_USERNAME);
}

async function loginError(client: DdpTestClient, options: JsonObject): Promise<JsonValue | undefined> {
  const { result } = await call(client, 'login', [options]);
  assert.equal(result.result, undefined, 'no result value');
  return result.error;
}

/** Accounts cases. */
export const accountsCases: ConformanceCase[] = [
  {
    id: 'accounts.92',
    group: 'accounts',
    title: 'login with a SHA-256 digest → {id, token, tokenExpires}, users added, updated',
    checklist: [92],
    async run(ctx) {
      const client = await ctx.connected();
      const id = assertLoginResult(
        await login(client, { user: { username: FIXTURE_USERNAME }, password: digest(FIXTURE_PASSWORD) }),
      );
      await assertUserAdded(client, id);
    },
  },
  {
    id: 'accounts.93',
    group: 'accounts',
    title: 'login with a wrong password → 403 ambiguous error',
    checklist: [93],
    async run(ctx) {
      const client = await ctx.connected();
      const error = await loginError(client, {
        user: { username: FIXTURE_USERNAME },
        password: digest('wrong'),
      });
      assertWireError(
        error,
        { error: 403, reason: CREDENTIALS },
        { message: `${CREDENTIALS} [403]`, errorType: 'Meteor.Error' },
      );
    },
  },
  {
    id: 'accounts.94',
    group: 'accounts',
    title: 'login with an unknown user → the same 403',
    checklist: [94],
    async run(ctx) {
      const client = await ctx.connected();
      const wrong = await loginError(client, {
        user: { username: FIXTURE_USERNAME },
        password: digest('wrong'),
      });
      const unknown = await loginError(client, {
        user: { username: 'no-such-user-anywhere' },
        password: digest(FIXTURE_PASSWORD),
      });
      assert.deepEqual(unknown, wrong, 'unknown user and wrong password are indistinguishable');
    },
  },
  {
    id: 'accounts.95',
    group: 'accounts',
    title: 'login with a bad digest or algorithm → 400 "Match failed"',
    checklist: [95],
    async run(ctx) {
      const client = await ctx.connected();
      const good = digest(FIXTURE_PASSWORD);
      for (const password of [
        { digest: String(good.digest).slice(1), algorithm: 'sha-256' },
        { digest: good.digest as string, algorithm: 'md5' },
      ]) {
        const error = await loginError(client, { user: { username: FIXTURE_USERNAME }, password });
        assertWireError(
          error,
          { error: 400, reason: 'Match failed' },
          { message: 'Match failed [400]', errorType: 'Meteor.Error' },
        );
      }
    },
  },
  {
    id: 'accounts.96',
    group: 'accounts',
    title: 'login with a plaintext password → success',
    checklist: [96],
    async run(ctx) {
      const client = await ctx.connected();
      assertLoginResult(
        await login(client, { user: { username: FIXTURE_USERNAME }, password: FIXTURE_PASSWORD }),
      );
    },
  },
  {
    id: 'accounts.97',
    group: 'accounts',
    title: 'login with a resume token on a new connection → same user',
    checklist: [97],
    async run(ctx) {
      const first = await ctx.connected();
      const result = await login(first, {
        user: { username: FIXTURE_USERNAME },
        password: digest(FIXTURE_PASSWORD),
      });
      const id = assertLoginResult(result);
      const second = await ctx.connected();
      const resumed = await login(second, { resume: result.token as string });
      assert.equal(resumed.id, id);
      await assertUserAdded(second, id);
    },
  },
  {
    id: 'accounts.98',
    group: 'accounts',
    title: 'login with a bogus resume token → 403 logged out',
    checklist: [98],
    async run(ctx) {
      const client = await ctx.connected();
      const reason = "You've been logged out by the server. Please log in again.";
      assertWireError(
        await loginError(client, { resume: 'bogus' }),
        { error: 403, reason },
        { message: `${reason} [403]`, errorType: 'Meteor.Error' },
      );
    },
  },
  {
    id: 'accounts.99',
    group: 'accounts',
    title: 'logout → result, users removed, publications re-diffed, updated',
    checklist: [99],
    async run(ctx) {
      const client = await ctx.connected();
      const id = assertLoginResult(
        await login(client, { user: { username: FIXTURE_USERNAME }, password: digest(FIXTURE_PASSWORD) }),
      );
      await assertUserAdded(client, id);
      await subscribeReady(client, 'ui', 'userInfo');
      const { result, updated } = await call(client, 'logout', [], { id: 'out' });
      assert.deepEqual(result, { msg: 'result', id: 'out' });
      const removed = client.received({ msg: 'removed', collection: 'users', id });
      assert.equal(removed.length, 1, 'users removed');
      const all = client.received();
      assert.ok(
        all.indexOf(removed[0] as (typeof all)[number]) < all.indexOf(updated),
        'removed before updated',
      );
      const changed = client.received({ msg: 'changed', collection: 'userInfo', id: 'me' });
      assert.equal(changed.length, 1, 'the user-dependent document changed once');
    },
  },
  {
    id: 'accounts.100',
    group: 'accounts',
    title: 'login while subscribed → only the difference is sent, ready re-sent once',
    checklist: [100],
    async run(ctx) {
      const client = await ctx.connected();
      await subscribeReady(client, 'ui', 'userInfo');
      const shared = await client.next({ msg: 'added', collection: 'userInfo', id: 'shared' });
      assert.ok(shared);
      const before = client.received().length;
      await login(client, { user: { username: FIXTURE_USERNAME }, password: digest(FIXTURE_PASSWORD) });
      await client.next((m) => m.msg === 'ready' && Array.isArray(m.subs) && m.subs.includes('ui'));
      await call(client, 'echo', ['barrier']);
      const after = client.received().slice(before);
      const aboutShared = after.filter((m) => m.collection === 'userInfo' && m.id === 'shared');
      assert.deepEqual(aboutShared, [], 'an unchanged document is not re-sent');
      const me = after.filter((m) => m.collection === 'userInfo' && m.id === 'me');
      assert.equal(me.length, 1, 'one message for the changed document');
      assert.equal(me[0]?.msg, 'changed');
      const readies = after.filter(
        (m) => m.msg === 'ready' && Array.isArray(m.subs) && m.subs.includes('ui'),
      );
      assert.equal(readies.length, 1, 'ready re-sent once');
    },
  },
  {
    id: 'accounts.101',
    group: 'accounts',
    title: 'six logins in 10 s → too-many-requests',
    checklist: [101],
    async run(ctx) {
      const client = await ctx.connected();
      let last: JsonValue | undefined;
      for (let i = 0; i < 6; i++) last = await loginError(client, { resume: `bogus-${i}` });
      const error = asObject(last, 'sixth login error');
      assert.equal(error.error, 'too-many-requests');
      const details = asObject(error.details, 'details');
      assert.equal(typeof details.timeToReset, 'number');
    },
  },
  {
    id: 'accounts.102',
    group: 'accounts',
    title: 'sub meteor.loginServiceConfiguration → ready',
    checklist: [102],
    async run(ctx) {
      const client = await ctx.connected();
      const reply = await subscribe(client, 'lsc', 'meteor.loginServiceConfiguration');
      assert.equal(reply.msg, 'ready', JSON.stringify(reply));
    },
  },
  {
    id: 'accounts.103',
    group: 'accounts',
    title: 'sub meteor_autoupdate_clientVersions → ready',
    checklist: [103],
    async run(ctx) {
      const client = await ctx.connected();
      const reply = await subscribe(client, 'cv', 'meteor_autoupdate_clientVersions');
      assert.equal(reply.msg, 'ready', JSON.stringify(reply));
    },
  },
];
