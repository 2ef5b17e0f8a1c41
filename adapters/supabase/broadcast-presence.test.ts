/**
 * Broadcast and presence with the real, unmodified supabase-js (pinned in test/clients) between two pgrt servers
 * on one database, over both serializers: client → every subscriber on both servers (`self`, `ack`), SQL's
 * `pgrt.broadcast`, presence `sync`/`join`/`leave` across servers, and a killed server process whose presences
 * leave on the other.
 */
import assert from 'node:assert/strict';
import { createServer, type PgrtServer } from '../../index.js';
import { type StartedChild, startChildServer } from '../../test/fixtures/child-server.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { app, migrate } from './fixtures/app.js';
import {
  type RealtimeChannelLike,
  type SupabaseClientLike,
  subscribe,
  supabaseClient,
} from './fixtures/clients.js';
import { type SupabaseHandle, supabase } from './index.js';

let counter = 0;

/** A topic no other test uses (the servers share the database and its channel with other suites). */
function topic(name: string): string {
  return `${name}-${process.pid}-${++counter}`;
}

interface PresenceEvents {
  syncs: number;
  joins: { key: string; newPresences: Record<string, unknown>[] }[];
  leaves: { key: string; leftPresences: Record<string, unknown>[] }[];
}

function watchPresence(channel: RealtimeChannelLike): PresenceEvents {
  const events: PresenceEvents = { syncs: 0, joins: [], leaves: [] };
  channel.on('presence', { event: 'sync' }, () => {
    events.syncs++;
  });
  channel.on('presence', { event: 'join' }, (p) => {
    events.joins.push(p as unknown as PresenceEvents['joins'][number]);
  });
  channel.on('presence', { event: 'leave' }, (p) => {
    events.leaves.push(p as unknown as PresenceEvents['leaves'][number]);
  });
  return events;
}

describe('supabase: broadcast and presence with supabase-js on two servers', function () {
  this.timeout(30_000);
  let servers: PgrtServer[];
  const clients: SupabaseClientLike[] = [];

  before(async () => {
    servers = [];
    for (let i = 0; i < 2; i++) {
      servers.push(
        await createServer({
          app,
          migrate,
          protocols: [supabase({ maxBroadcastBytes: 1000, presenceHeartbeatMs: 100, presenceTtlMs: 1000 })],
          port: 0,
          host: '127.0.0.1',
          databaseUrl: testDatabaseUrl(),
        }),
      );
    }
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) {
      await client.removeAllChannels();
      client.realtime.disconnect();
    }
  });

  after(async () => {
    for (const server of servers) await server.close();
  });

  function client(server: number | string, realtime: Record<string, unknown> = {}): SupabaseClientLike {
    const url = typeof server === 'string' ? server : `http://127.0.0.1:${servers[server]!.port}`;
    const made = supabaseClient(url, 'anon', realtime);
    clients.push(made);
    return made;
  }

  for (const vsn of ['2.0.0', '1.0.0']) {
    it(`delivers a client's broadcast to every subscriber on both servers, not back to the sender (vsn ${vsn})`, async () => {
      const name = topic('cursors');
      const received: Record<string, unknown[]> = { sender: [], samePeer: [], otherPeer: [] };
      const channels: Record<string, RealtimeChannelLike> = {};
      for (const [who, server] of [
        ['sender', 0],
        ['samePeer', 0],
        ['otherPeer', 1],
      ] as const) {
        channels[who] = client(server, { vsn })
          .channel(name)
          .on('broadcast', { event: 'cursor' }, (p) => received[who]!.push(p));
        await subscribe(channels[who]!);
      }
      assert.equal(
        await channels.sender!.send({ type: 'broadcast', event: 'cursor', payload: { x: 1 } }),
        'ok',
      );
      await waitUntil(() => received.samePeer!.length === 1 && received.otherPeer!.length === 1, {
        what: () => JSON.stringify(received),
      });
      for (const who of ['samePeer', 'otherPeer']) {
        assert.deepEqual(received[who], [{ type: 'broadcast', event: 'cursor', payload: { x: 1 } }]);
      }
      assert.deepEqual(received.sender, []);
    });
  }

  it('acks a broadcast with ack, delivers it to the sender with self, and refuses one over maxBroadcastBytes', async () => {
    const name = topic('acked');
    const own: unknown[] = [];
    const channel = client(0)
      .channel(name, { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'e' }, (p) => own.push(p));
    await subscribe(channel);
    assert.equal(await channel.send({ type: 'broadcast', event: 'e', payload: { n: 1 } }), 'ok');
    await waitUntil(() => own.length === 1);
    assert.equal(
      await channel.send({ type: 'broadcast', event: 'e', payload: { big: 'x'.repeat(2000) } }),
      'error',
    );
    // The channel still works after the refusal.
    assert.equal(await channel.send({ type: 'broadcast', event: 'e', payload: { n: 2 } }), 'ok');
    await waitUntil(() => own.length === 2);
    assert.deepEqual(
      own.map((p) => (p as { payload: unknown }).payload),
      [{ n: 1 }, { n: 2 }],
    );
  });

  it("broadcasts from the server API on commit only, to both servers' subscribers", async () => {
    const name = topic('api');
    const received: unknown[][] = [[], []];
    for (const server of [0, 1]) {
      await subscribe(
        client(server)
          .channel(name)
          .on('broadcast', { event: '*' }, (p) => received[server]!.push(p)),
      );
    }
    const handle = servers[0]!.protocols.get('supabase') as SupabaseHandle;
    await assert.rejects(
      servers[0]!.db.transaction(async (tx) => {
        await handle.broadcast(name, 'rolled-back', {}, { client: tx });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await handle.broadcast(name, 'api', { n: 1 });
    await waitUntil(() => received.every((r) => r.length === 1), { what: () => JSON.stringify(received) });
    for (const r of received) assert.deepEqual(r, [{ type: 'broadcast', event: 'api', payload: { n: 1 } }]);
  });

  it('delivers pgrt.broadcast from SQL to the subscribers of both servers', async () => {
    const name = topic('sql');
    const received: unknown[][] = [[], []];
    for (const server of [0, 1]) {
      await subscribe(
        client(server)
          .channel(name)
          .on('broadcast', { event: 'from-sql' }, (p) => received[server]!.push(p)),
      );
    }
    await servers[0]!.db.query(`SELECT pgrt.broadcast($1, 'from-sql', '{"ok": true}'::jsonb)`, [name]);
    await waitUntil(() => received.every((r) => r.length === 1), { what: () => JSON.stringify(received) });
    for (const r of received)
      assert.deepEqual(r, [{ type: 'broadcast', event: 'from-sql', payload: { ok: true } }]);
  });

  for (const vsn of ['2.0.0', '1.0.0']) {
    it(`syncs presence across servers: state on join, joins and leaves as they happen (vsn ${vsn})`, async () => {
      const name = topic('room');
      const ann = client(0, { vsn }).channel(name, { config: { presence: { key: 'ann' } } });
      const annEvents = watchPresence(ann);
      await subscribe(ann);
      assert.equal(await ann.track({ user: 'ann' }), 'ok');
      await waitUntil(() => Object.keys(ann.presenceState()).includes('ann'));

      const bob = client(1, { vsn }).channel(name, { config: { presence: { key: 'bob' } } });
      const bobEvents = watchPresence(bob);
      await subscribe(bob);
      await waitUntil(() => bobEvents.syncs > 0 && 'ann' in bob.presenceState());
      assert.equal(await bob.track({ user: 'bob' }), 'ok');
      await waitUntil(() => 'bob' in ann.presenceState() && 'bob' in bob.presenceState());
      const annSeen = ann.presenceState() as Record<string, { user: string; presence_ref: string }[]>;
      assert.equal(annSeen.bob?.[0]?.user, 'bob');
      assert.equal(typeof annSeen.bob?.[0]?.presence_ref, 'string');
      assert.ok(annEvents.joins.some((j) => j.key === 'bob'));

      await bob.untrack();
      await waitUntil(() => !('bob' in ann.presenceState()), {
        what: () => JSON.stringify(ann.presenceState()),
      });
      assert.deepEqual(
        annEvents.leaves.map((l) => [l.key, l.leftPresences.map((p) => p.user)]),
        [['bob', ['bob']]],
      );
      // A channel that leaves takes its presence with it.
      await ann.unsubscribe();
      await waitUntil(() => !('ann' in bob.presenceState()));
    });
  }

  it('removes the presences of a killed server process from the other servers', async function () {
    this.timeout(40_000);
    const child: StartedChild = await startChildServer(
      new URL('./fixtures/presence-server.ts', import.meta.url).pathname,
      {},
      'presence-server',
      20_000,
    );
    try {
      const name = topic('doomed');
      const doomed = client(`http://127.0.0.1:${child.port}`).channel(name, {
        config: { presence: { key: 'doomed' } },
      });
      await subscribe(doomed);
      assert.equal(await doomed.track({ user: 'doomed' }), 'ok');
      const watcher = client(0).channel(name);
      const events = watchPresence(watcher);
      await subscribe(watcher);
      await waitUntil(() => 'doomed' in watcher.presenceState(), {
        what: () => JSON.stringify(watcher.presenceState()),
      });
      await child.signal('SIGKILL');
      await waitUntil(() => !('doomed' in watcher.presenceState()), { timeoutMs: 15_000 });
      assert.deepEqual(
        events.leaves.map((l) => l.key),
        ['doomed'],
      );
    } finally {
      await child.signal('SIGKILL');
    }
  });
});
