/**
 * Attack class: strings PostgreSQL cannot store (issue 12, item 8, general part). A NUL character (or a lone UTF-16
 * surrogate) in any string parameter — a method's, a publication's, `login`'s, a WAMP CALL's — reached the database
 * and came back as a 500 with an error-level log line carrying the database's error: anyone could flood the error
 * log. Expected: refused before any SQL as Meteor's `check()` refuses bad input (DDP: `400 Match failed`; WAMP:
 * ERROR `pgrt.error.400` with the same kwargs; a publication: `nosub` with that error), the connection keeps
 * working, and the target writes no error-level line.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type autobahn from 'autobahn';
import { subscribe } from '../../adapters/wamp/client.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { type AttackTarget, startTarget } from './fixtures/target.js';

/** What DDP clients get: Meteor's sanitized `Match.Error`. */
const MATCH_FAILED = { error: 400, reason: 'Match failed' };
const NUL = 'a\u0000b';
const LONE_SURROGATE = 'a\uD800b';

describe('attack: strings PostgreSQL cannot store (NUL, lone surrogates)', function () {
  this.timeout(60_000);
  let target: AttackTarget;
  let user: RawDdpClient;
  const name = `nul_${randomUUID().slice(0, 8)}`;
  const clients: RawDdpClient[] = [];
  const wamp: AutobahnHandle[] = [];

  before(async () => {
    target = await startTarget();
    user = await ddp();
    await user.apply('createUser', { username: name, password: 'pw-for-nul' });
  });

  after(async () => {
    for (const client of clients) await client.close();
    for (const handle of wamp) await handle.close().catch(() => {});
    await target?.close();
  });

  afterEach(() => {
    assert.deepEqual(target.errorLogs(), [], 'an attacker cannot write error log lines');
  });

  async function ddp(): Promise<RawDdpClient> {
    const client = await RawDdpClient.connect(`${target.wsUrl}/websocket`);
    clients.push(client);
    return client;
  }

  async function wampSession(login?: {
    user: string;
    password: string;
    method?: 'ticket' | 'wampcra';
  }): Promise<autobahn.Session> {
    const handle = await openAutobahn(
      `${target.wsUrl}/ws`,
      login
        ? { authmethods: [login.method ?? 'ticket'], authid: login.user, onchallenge: () => login.password }
        : {},
    );
    wamp.push(handle);
    return handle.session;
  }

  /** The outcome of a method call as its `error` without Meteor's optional fields. */
  async function callError(client: RawDdpClient, method: string, ...params: unknown[]) {
    const { error } = await client.call(method, ...params);
    return error === undefined ? undefined : { error: error.error, reason: error.reason };
  }

  it("refuses a NUL or a lone surrogate in a method's parameters with 400 Match failed, at any depth", async () => {
    for (const bad of [NUL, LONE_SURROGATE]) {
      assert.deepEqual(await callError(user, 'lists.create', bad), MATCH_FAILED);
      assert.deepEqual(await callError(user, 'todos.add', 'some-list', bad), MATCH_FAILED);
      assert.deepEqual(await callError(user, 'lists.create', { nested: [1, { deep: bad }] }), MATCH_FAILED);
      assert.deepEqual(await callError(user, 'lists.create', { [bad]: 1 }), MATCH_FAILED);
    }
    const { error } = await user.call('lists.create', { x: [NUL] });
    assert.deepEqual(error?.details, [
      { name: '0.x.0', type: 'unstorable_string', message: 'contains a NUL character' },
    ]);
    // The connection keeps working, and a storable string (an emoji is a surrogate pair) is served.
    assert.equal(await callError(user, 'lists.create', 'groceries 🛒'), undefined);
  });

  it('refuses them in login and createUser fields, before any account lookup', async () => {
    // A fresh connection per call: Meteor's rule allows 5 logins per 10 s per connection.
    const anonymously = async (method: string, ...params: unknown[]) =>
      await callError(await ddp(), method, ...params);
    for (const bad of [NUL, LONE_SURROGATE]) {
      assert.deepEqual(await anonymously('login', { user: { username: bad }, password: 'x' }), MATCH_FAILED);
      assert.deepEqual(
        await anonymously('login', { user: { email: `${bad}@example.com` }, password: 'x' }),
        MATCH_FAILED,
      );
      assert.deepEqual(await anonymously('login', { resume: bad }), MATCH_FAILED);
      assert.deepEqual(await anonymously('createUser', { username: `u${bad}`, password: 'x' }), MATCH_FAILED);
    }
    assert.equal(await anonymously('login', { user: { username: name }, password: 'pw-for-nul' }), undefined);
  });

  it("refuses them in a publication's parameters with nosub 400 Match failed", async () => {
    for (const bad of [NUL, LONE_SURROGATE]) {
      const id = user.nextId();
      user.send({ msg: 'sub', id, name: 'todos', params: [bad] });
      const nosub = await user.waitFor((m) => m.msg === 'nosub' && m.id === id);
      const error = nosub.error as Record<string, unknown>;
      assert.deepEqual({ error: error.error, reason: error.reason }, MATCH_FAILED);
    }
    await user.subscribe('todos', ['no-such-list']);
  });

  it('refuses them in a WAMP CALL to a core method and in pgrt.subscribe, with ERROR pgrt.error.400', async () => {
    const session = await wampSession({ user: name, password: 'pw-for-nul' });
    for (const bad of [NUL, LONE_SURROGATE]) {
      await assert.rejects(
        async () => await session.call('lists.create', [bad]),
        (error: autobahn.Error) => {
          assert.equal(error.error, 'pgrt.error.400');
          assert.deepEqual({ error: error.kwargs.error, reason: error.kwargs.reason }, MATCH_FAILED);
          return true;
        },
      );
      const live = await subscribe(session, 'todos', bad);
      const stopped = await live.stopped;
      assert.deepEqual({ error: stopped?.error, reason: stopped?.reason }, MATCH_FAILED);
    }
    const anonymous = await wampSession();
    await assert.rejects(
      async () => await anonymous.call('login', [{ user: { username: NUL }, password: 'x' }]),
      (error: autobahn.Error) => error.error === 'pgrt.error.400',
    );
    assert.ok(await session.call('lists.create', ['still works']));
  });

  it('refuses them as a WAMP ticket or WAMP-CRA authid, or a ticket, without an error log line', async () => {
    for (const [authid, password, method] of [
      [NUL, 'x', 'ticket'],
      [LONE_SURROGATE, 'x', 'ticket'],
      [name, NUL, 'ticket'],
      [NUL, 'signature', 'wampcra'],
      [LONE_SURROGATE, 'signature', 'wampcra'],
    ] as const) {
      await assert.rejects(wampSession({ user: authid, password, method }), /authentication_failed/);
    }
  });
});
