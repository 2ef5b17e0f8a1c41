/**
 * Broadcast between "processes" (two buses on one real database): local and remote delivery, `self`, the server
 * API and SQL's `pgrt.broadcast` (on commit only), binary payloads, the size and rate limits.
 */
import assert from 'node:assert/strict';
import { PgDatabase } from '../../core/database/database.js';
import { silentLogger } from '../../core/logger.js';
import { RateLimiter } from '../../core/rate-limit.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import {
  type BroadcastMessage,
  type BroadcastSender,
  type BroadcastSubscriber,
  Broadcasts,
} from './broadcast.js';
import { type FakeCore, fakeCore, migrate } from './fixtures/bus-processes.js';

let counter = 0;

class Inbox implements BroadcastSubscriber {
  readonly messages: BroadcastMessage[] = [];
  receiveBroadcast(message: BroadcastMessage): void {
    this.messages.push(message);
  }
}

function sender(subscriber: BroadcastSubscriber, self = false, connectionId = 'c1'): BroadcastSender {
  return { subscriber, self, connectionId, userId: null, clientAddress: '127.0.0.1' };
}

describe('supabase broadcast', () => {
  let db: PgDatabase;
  let channel: string;
  let cores: FakeCore[];
  let hubs: Broadcasts[];

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 4 });
    await migrate(db);
  });
  after(async () => {
    await db.close();
  });

  async function processes(count: number, rateLimiter?: RateLimiter): Promise<void> {
    channel = `broadcast_${process.pid}_${++counter}`;
    cores = [];
    hubs = [];
    for (let i = 0; i < count; i++) {
      const core = fakeCore(db, channel, rateLimiter);
      const hub = new Broadcasts(core, { maxMessageBytes: 1000, logger: silentLogger });
      hub.start();
      await core.bus.start();
      cores.push(core);
      hubs.push(hub);
    }
  }

  afterEach(async () => {
    for (const hub of hubs) hub.close();
    for (const core of cores) await core.bus.close();
  });

  it("reaches every subscriber of the topic on both processes, not the sender's own without self", async () => {
    await processes(2);
    const [a, b] = hubs as [Broadcasts, Broadcasts];
    const sending = new Inbox();
    const localPeer = new Inbox();
    const remote = new Inbox();
    const otherTopic = new Inbox();
    a.subscribe('room1', sending);
    a.subscribe('room1', localPeer);
    b.subscribe('room1', remote);
    b.subscribe('room2', otherTopic);
    const outcome = await a.send(
      'room1',
      { type: 'broadcast', event: 'cursor', payload: { x: 1 } },
      sender(sending),
    );
    assert.deepEqual(outcome, { ok: true });
    assert.deepEqual(localPeer.messages, [{ type: 'broadcast', event: 'cursor', payload: { x: 1 } }]);
    await waitUntil(() => remote.messages.length === 1);
    assert.deepEqual(remote.messages[0], { type: 'broadcast', event: 'cursor', payload: { x: 1 } });
    // The message came back to process a through the bus too: it must not be delivered twice there.
    await waitUntil(() => cores[0]!.events.some((e) => e.kind === 'message'));
    assert.equal(localPeer.messages.length, 1);
    assert.equal(sending.messages.length, 0);
    assert.equal(otherTopic.messages.length, 0);
  });

  it('delivers to the sender once with self', async () => {
    await processes(1);
    const hub = hubs[0]!;
    const sending = new Inbox();
    hub.subscribe('room1', sending);
    await hub.send('room1', { type: 'broadcast', event: 'e', payload: 1 }, sender(sending, true));
    await waitUntil(() => cores[0]!.events.some((e) => e.kind === 'message'));
    assert.deepEqual(sending.messages, [{ type: 'broadcast', event: 'e', payload: 1 }]);
  });

  it('carries binary payloads between processes as bytes', async () => {
    await processes(2);
    const remote = new Inbox();
    hubs[1]!.subscribe('bin', remote);
    const bytes = new Uint8Array([0, 1, 254, 255]);
    await hubs[0]!.send('bin', { type: 'broadcast', event: 'b', payload: bytes }, sender(new Inbox()));
    await waitUntil(() => remote.messages.length === 1);
    assert.deepEqual(remote.messages[0]!.payload, bytes);
  });

  it('broadcasts from the server API and from SQL (pgrt.broadcast) on commit only', async () => {
    await processes(2);
    const inboxes = [new Inbox(), new Inbox()];
    hubs[0]!.subscribe('public:room1', inboxes[0]!);
    hubs[1]!.subscribe('public:room1', inboxes[1]!);
    const privateInbox = new Inbox();
    hubs[1]!.subscribe('private:room1', privateInbox);
    await assert.rejects(
      db.transaction(async (client) => {
        await hubs[0]!.broadcast('public:room1', 'never', {}, client);
        await client.query("SELECT pgrt.broadcast('room1', 'never', '{}'::jsonb, $1)", [channel]);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await hubs[0]!.broadcast('public:room1', 'api', { n: 1 });
    await db.query(`SELECT pgrt.broadcast('room1', 'sql', '{"n": 2}'::jsonb, $1)`, [channel]);
    await db.query(`SELECT pgrt.broadcast('room1', 'private', '{}'::jsonb, $1, is_private => true)`, [
      channel,
    ]);
    for (const inbox of inboxes) {
      await waitUntil(() => inbox.messages.length === 2, { what: () => JSON.stringify(inbox.messages) });
      assert.deepEqual(inbox.messages, [
        { type: 'broadcast', event: 'api', payload: { n: 1 } },
        { type: 'broadcast', event: 'sql', payload: { n: 2 } },
      ]);
    }
    await waitUntil(() => privateInbox.messages.length === 1);
    assert.equal(privateInbox.messages[0]!.event, 'private');
    for (const inbox of inboxes)
      assert.equal(inbox.messages.length, 2, 'a private broadcast reaches no public channel');
  });

  it('refuses a message over maxMessageBytes and one over the rate limit, delivering neither', async () => {
    await processes(
      1,
      new RateLimiter({ accounts: false, perConnection: { numRequests: 2, intervalMs: 60_000 } }),
    );
    const hub = hubs[0]!;
    const peer = new Inbox();
    hub.subscribe('room1', peer);
    const big = await hub.send(
      'room1',
      { type: 'broadcast', event: 'e', payload: 'x'.repeat(1000) },
      sender(new Inbox()),
    );
    assert.deepEqual(big, { ok: false, reason: 'payload_size_exceeded' });
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(
        await hub.send('room1', { type: 'broadcast', event: 'e', payload: i }, sender(new Inbox())),
      );
    }
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: false, reason: 'rate_limit_exceeded' }]);
    // Another connection has its own budget.
    assert.deepEqual(
      await hub.send(
        'room1',
        { type: 'broadcast', event: 'e', payload: 3 },
        sender(new Inbox(), false, 'c2'),
      ),
      {
        ok: true,
      },
    );
    assert.deepEqual(
      peer.messages.map((m) => m.payload),
      [0, 1, 3],
    );
  });

  it('stops delivering to a subscriber once it unsubscribes', async () => {
    await processes(1);
    const hub = hubs[0]!;
    const inbox = new Inbox();
    const unsubscribe = hub.subscribe('room1', inbox);
    unsubscribe();
    assert.equal(hub.subscriberCount('room1'), 0);
    await hub.broadcast('room1', 'e', 1);
    await waitUntil(() => cores[0]!.events.some((e) => e.kind === 'message'));
    assert.equal(inbox.messages.length, 0);
  });
});
