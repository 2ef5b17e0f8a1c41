/**
 * Attack class: subscriptions amplifying writes (issue 12, item 9). One anonymous connection held 1,000 live
 * subscriptions, and every write to their tables paid for each: other users' writes got 5–8× slower. Expected: at
 * most `limits.maxSubscriptionsPerConnection` (default 500) live subscriptions per connection and
 * `limits.maxSubscriptionsPerAddress` per client address (X-Forwarded-For trusted with `forwardedCount`), the next
 * refused with DDP `nosub` and Meteor.Error `too-many-subscriptions` (what Meteor clients pass to `onStop`), over
 * WAMP with ERROR `pgrt.error.too_many_subscriptions`; a slot freed by `unsub` or a closed connection is usable
 * again; the connection keeps working; nothing is logged at error level.
 */
import assert from 'node:assert/strict';
import type autobahn from 'autobahn';
import { subscribe } from '../../adapters/wamp/client.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { RawDdpClient, type ServerMessage } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { type AttackTarget, startTarget } from './fixtures/target.js';

const PER_CONNECTION = 500; // the default
const PER_ADDRESS = 600;

describe('attack: holding many live subscriptions', function () {
  this.timeout(120_000);
  let target: AttackTarget;
  const clients: RawDdpClient[] = [];
  const wamp: AutobahnHandle[] = [];

  before(async () => {
    target = await startTarget({
      limits: { maxSubscriptionsPerAddress: PER_ADDRESS },
      // Addresses come from X-Forwarded-For, one hop trusted, so one test process can be several clients.
      ddp: { forwardedCount: 1 },
    });
  });

  afterEach(async () => {
    assert.deepEqual(target.errorLogs(), [], 'an attacker cannot write error log lines');
    await Promise.all(clients.splice(0).map((client) => client.close()));
    for (const handle of wamp.splice(0)) await handle.close().catch(() => {});
  });

  after(async () => {
    await target?.close();
  });

  async function ddp(address: string): Promise<RawDdpClient> {
    const client = await RawDdpClient.connect(`${target.wsUrl}/websocket`, {
      headers: { 'x-forwarded-for': address },
    });
    clients.push(client);
    return client;
  }

  const isReady = (id: string) => (m: ServerMessage) =>
    m.msg === 'ready' && Array.isArray(m.subs) && m.subs.includes(id);
  const isNosub = (id: string) => (m: ServerMessage) => m.msg === 'nosub' && m.id === id;

  /** Sends `n` subscriptions to `lists` at once; resolves with how many got `ready` and the `nosub`s. */
  async function flood(
    client: RawDdpClient,
    n: number,
  ): Promise<{ ready: number; refused: ServerMessage[] }> {
    const ids = Array.from({ length: n }, () => client.nextId());
    const from = client.messages.length;
    for (const id of ids) client.send({ msg: 'sub', id, name: 'lists' });
    const answered = new Set(ids);
    const answers = () =>
      client.messages
        .slice(from)
        .filter(
          (m) =>
            (m.msg === 'nosub' && answered.has(m.id as string)) ||
            (m.msg === 'ready' && Array.isArray(m.subs) && m.subs.some((id) => answered.has(id as string))),
        );
    const count = () =>
      answers().reduce((sum, m) => sum + (m.msg === 'nosub' ? 1 : (m.subs as unknown[]).length), 0);
    await waitUntil(() => count() >= n, { timeoutMs: 60_000, what: () => `${count()} of ${n} answered` });
    const refused = answers().filter((m) => m.msg === 'nosub');
    return { ready: n - refused.length, refused };
  }

  const tooMany = (limit: number, per: 'connection' | 'address') => ({
    error: 'too-many-subscriptions',
    reason: `Too many subscriptions: at most ${limit} per ${per === 'connection' ? 'connection' : 'client address'}`,
    details: { limit, per },
  });
  const errorOf = (nosub: ServerMessage | undefined) => {
    const error = nosub?.error as Record<string, unknown> | undefined;
    return error && { error: error.error, reason: error.reason, details: error.details };
  };

  it(`refuses live subscriptions past ${PER_CONNECTION} on one connection with nosub too-many-subscriptions`, async () => {
    const client = await ddp('198.51.100.1');
    const { ready, refused } = await flood(client, PER_CONNECTION + 20);
    assert.equal(ready, PER_CONNECTION);
    assert.equal(refused.length, 20);
    assert.deepEqual(errorOf(refused[0]), tooMany(PER_CONNECTION, 'connection'));
    // Unsubscribing frees a slot; the connection keeps working.
    const live = client.messages.find((m) => m.msg === 'ready')?.subs as string[];
    client.send({ msg: 'unsub', id: live[0] });
    await client.waitFor(isNosub(live[0] as string));
    await client.subscribe('lists');
    const id = client.nextId();
    client.send({ msg: 'sub', id, name: 'lists' });
    assert.deepEqual(errorOf(await client.waitFor(isNosub(id))), tooMany(PER_CONNECTION, 'connection'));
    assert.equal((await client.call('lists.create', 'x')).error?.error, 403);
  });

  it(`refuses subscriptions past ${PER_ADDRESS} summed over the connections of one client address`, async () => {
    const first = await ddp('198.51.100.2');
    const second = await ddp('198.51.100.2');
    const elsewhere = await ddp('198.51.100.3');
    assert.equal((await flood(first, 400)).ready, 400);
    const { ready, refused } = await flood(second, 250);
    assert.equal(ready, PER_ADDRESS - 400);
    assert.deepEqual(errorOf(refused[0]), tooMany(PER_ADDRESS, 'address'));
    // Another address is not affected; an ended session gives its address's slots back (a dropped one keeps them
    // while it waits to be resumed).
    assert.equal((await flood(elsewhere, 10)).ready, 10);
    first.send({ msg: 'disconnect' });
    await first.closed;
    await waitUntil(async () => {
      const id = second.nextId();
      const from = second.messages.length;
      second.send({ msg: 'sub', id, name: 'lists' });
      const reply = await second.waitFor((m) => isReady(id)(m) || isNosub(id)(m), 10_000, from);
      return reply.msg === 'ready';
    });
  });

  it('refuses pgrt.subscribe past the cap over WAMP with ERROR pgrt.error.too_many_subscriptions', async () => {
    const handle = await openAutobahn(`${target.wsUrl}/ws`);
    wamp.push(handle);
    const session = handle.session;
    const live = await Promise.all(Array.from({ length: PER_CONNECTION }, () => subscribe(session, 'lists')));
    await Promise.all(live.map((sub) => sub.ready));
    await assert.rejects(
      async () => await subscribe(session, 'lists'),
      (error: autobahn.Error) => {
        assert.equal(error.error, 'pgrt.error.too_many_subscriptions');
        assert.deepEqual(error.kwargs, tooMany(PER_CONNECTION, 'connection'));
        return true;
      },
    );
    await live[0]?.stop();
    const again = await subscribe(session, 'lists');
    await again.ready;
  });
});
