/**
 * Presence between "processes" (two buses and two Presences on one real database): state on sync, diffs with
 * phx_ref/phx_ref_prev as Phoenix sends them, untrack and leave, a dead process's presences expired by another,
 * shutdown, and the refusals (payload not a map, too large, rate-limited).
 */
import assert from 'node:assert/strict';
import { PgDatabase } from '../../core/database/database.js';
import { silentLogger } from '../../core/logger.js';
import { RateLimiter } from '../../core/rate-limit.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { type FakeCore, fakeCore, migrate } from './fixtures/bus-processes.js';
import {
  type PresenceClient,
  type PresenceDiff,
  type PresenceState,
  type PresenceSubscriber,
  Presences,
} from './presence.js';

let counter = 0;

class Watcher implements PresenceSubscriber {
  readonly states: PresenceState[] = [];
  readonly diffs: PresenceDiff[] = [];
  presenceState(state: PresenceState): void {
    this.states.push(JSON.parse(JSON.stringify(state)) as PresenceState);
  }
  presenceDiff(diff: PresenceDiff): void {
    this.diffs.push(JSON.parse(JSON.stringify(diff)) as PresenceDiff);
  }
}

function client(connectionId = 'c1'): PresenceClient {
  return { connectionId, userId: null, clientAddress: '127.0.0.1' };
}

describe('supabase presence', () => {
  let db: PgDatabase;
  let channel: string;
  let cores: FakeCore[];
  let all: Presences[];

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 4 });
    await migrate(db);
  });
  after(async () => {
    await db.close();
  });

  async function processes(
    count: number,
    options: { heartbeatMs?: number; ttlMs?: number; rateLimiter?: RateLimiter } = {},
  ): Promise<Presences[]> {
    channel = `presence_${process.pid}_${++counter}`;
    cores = [];
    all = [];
    for (let i = 0; i < count; i++) {
      const core = fakeCore(db, channel, options.rateLimiter);
      const presences = new Presences(core, {
        maxMessageBytes: 200,
        heartbeatMs: options.heartbeatMs ?? 60_000,
        ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
        logger: silentLogger,
      });
      await core.bus.start();
      await presences.start();
      cores.push(core);
      all.push(presences);
    }
    return all;
  }

  afterEach(async () => {
    for (const presences of all) await presences.close();
    for (const core of cores) await core.bus.close();
  });

  it('sends the state of every process on sync, then the diffs of both, its own included', async () => {
    const [a, b] = (await processes(2)) as [Presences, Presences];
    const ann = a.member('room1', new Watcher(), client(), 'ann');
    assert.deepEqual(await ann.track({ user: 'ann' }), { ok: true });
    const bobWatcher = new Watcher();
    const bob = b.member('room1', bobWatcher, client('c2'), 'bob');
    await bob.sync();
    assert.deepEqual(bobWatcher.states, [{ ann: { metas: [{ user: 'ann', phx_ref: ann.ref }] } }]);
    await bob.track({ user: 'bob' });
    await waitUntil(() => bobWatcher.diffs.length === 1, { what: () => JSON.stringify(bobWatcher.diffs) });
    assert.deepEqual(bobWatcher.diffs[0], {
      joins: { bob: { metas: [{ user: 'bob', phx_ref: bob.ref }] } },
      leaves: {},
    });
  });

  it('replaces a presence on a new payload (phx_ref_prev), ignores the same payload, and leaves on untrack', async () => {
    const [a, b] = (await processes(2)) as [Presences, Presences];
    const watcher = new Watcher();
    await b.member('room1', watcher, client('c2')).sync();
    const ann = a.member('room1', new Watcher(), client(), 'ann');
    await ann.track({ status: 'online' });
    const first = ann.ref;
    await ann.track({ status: 'online' });
    assert.equal(ann.ref, first);
    await ann.track({ status: 'away' });
    const second = ann.ref;
    assert.notEqual(second, first);
    await ann.untrack();
    await waitUntil(() => watcher.diffs.length === 3, { what: () => JSON.stringify(watcher.diffs) });
    assert.deepEqual(watcher.diffs, [
      { joins: { ann: { metas: [{ status: 'online', phx_ref: first }] } }, leaves: {} },
      {
        joins: { ann: { metas: [{ status: 'away', phx_ref: second, phx_ref_prev: first }] } },
        leaves: { ann: { metas: [{ status: 'online', phx_ref: first }] } },
      },
      { joins: {}, leaves: { ann: { metas: [{ status: 'away', phx_ref: second }] } } },
    ]);
    const rows = await db.query('SELECT 1 FROM pgrt.supabase_presences WHERE topic = $1', ['room1']);
    assert.equal(rows.rowCount, 0);
  });

  it('gives a join without a key a random key, and a left member leaves and receives nothing more', async () => {
    const [a, b] = (await processes(2)) as [Presences, Presences];
    const watcher = new Watcher();
    await b.member('room2', watcher, client('c2')).sync();
    const leaving = new Watcher();
    const member = a.member('room2', leaving, client(), '');
    await member.track({ n: 1 });
    assert.match(member.key, /^[0-9a-f-]{36}$/);
    const ref = member.ref;
    await member.leave();
    assert.equal(member.ref, undefined);
    await a.member('room2', new Watcher(), client('c3'), 'later').track({ n: 2 });
    await waitUntil(() => watcher.diffs.length === 3);
    assert.deepEqual(watcher.diffs[1], {
      joins: {},
      leaves: {
        [member.key]: {
          metas: [{ n: 1, phx_ref: ref }],
        },
      },
    });
    assert.equal(
      leaving.diffs.filter((d) => Object.keys(d.joins).includes('later')).length,
      0,
      'a left member receives no later diff',
    );
  });

  it("expires a dead process's presences from another process, announcing them as leaves", async () => {
    // a never beats during the test (its heartbeat is a minute): it stands for a killed process.
    const [a, b] = (await processes(2)) as [Presences, Presences];
    await a.member('room1', new Watcher(), client(), 'ann').track({ user: 'ann' });
    const watcher = new Watcher();
    await b.member('room1', watcher, client('c2')).sync();
    assert.deepEqual(Object.keys(watcher.states[0]!), ['ann']);
    await db.query("UPDATE pgrt.supabase_processes SET seen_at = now() - interval '1 hour' WHERE id = $1", [
      a.processId,
    ]);
    assert.equal(await b.store.expire(10_000), 1);
    await waitUntil(() => watcher.diffs.length === 1);
    assert.deepEqual(Object.keys(watcher.diffs[0]!.leaves), ['ann']);
    const processes2 = await db.query('SELECT id FROM pgrt.supabase_processes WHERE id = $1', [a.processId]);
    assert.equal(processes2.rowCount, 0);
  });

  it('expires on a heartbeat, and a process found expired while alive writes its presences again', async () => {
    const [a, b] = (await processes(2, { ttlMs: 1000 })) as [Presences, Presences];
    const ann = a.member('room1', new Watcher(), client(), 'ann');
    await ann.track({ user: 'ann' });
    const watcher = new Watcher();
    await b.member('room1', watcher, client('c2')).sync();
    // a's row is aged: b's heartbeat expires ann (a leave), then a's finds its row gone and comes back (a join).
    await db.query("UPDATE pgrt.supabase_processes SET seen_at = now() - interval '1 hour' WHERE id = $1", [
      a.processId,
    ]);
    await b.beat();
    await a.beat();
    await waitUntil(() => watcher.diffs.length >= 2, { what: () => JSON.stringify(watcher.diffs) });
    assert.deepEqual(watcher.diffs.slice(0, 2), [
      { joins: {}, leaves: { ann: { metas: [{ user: 'ann', phx_ref: ann.ref }] } } },
      { joins: { ann: { metas: [{ user: 'ann', phx_ref: ann.ref }] } }, leaves: {} },
    ]);
  });

  it("announces a closing server's presences as leaves", async () => {
    const [a, b] = (await processes(2)) as [Presences, Presences];
    await a.member('room1', new Watcher(), client(), 'ann').track({ user: 'ann' });
    await a.member('room3', new Watcher(), client(), 'ann').track({ user: 'ann' });
    const watcher = new Watcher();
    await b.member('room1', watcher, client('c2')).sync();
    await a.close();
    await waitUntil(() => watcher.diffs.length === 1);
    assert.deepEqual(Object.keys(watcher.diffs[0]!.leaves), ['ann']);
    const left = await db.query('SELECT 1 FROM pgrt.supabase_presences WHERE process = $1', [a.processId]);
    assert.equal(left.rowCount, 0);
  });

  it('refuses a payload that is not a map, one over maxMessageBytes, and tracks over the rate limit', async () => {
    const [a] = (await processes(1, {
      rateLimiter: new RateLimiter({
        accounts: false,
        perConnection: { numRequests: 2, intervalMs: 60_000 },
      }),
    })) as [Presences];
    const member = a.member('room1', new Watcher(), client());
    assert.deepEqual(await member.track([1, 2]), { ok: false, reason: 'invalid_payload' });
    assert.deepEqual(await member.track({ big: 'x'.repeat(300) }), {
      ok: false,
      reason: 'payload_size_exceeded',
    });
    assert.deepEqual(await member.track({ n: 1 }), { ok: true });
    assert.deepEqual(await member.track({ n: 2 }), { ok: true });
    assert.deepEqual(await member.track({ n: 3 }), { ok: false, reason: 'rate_limit_exceeded' });
    const rows = await db.query<{ meta: unknown }>(
      'SELECT meta FROM pgrt.supabase_presences WHERE topic = $1',
      ['room1'],
    );
    assert.deepEqual(rows.rows, [{ meta: { n: 2 } }]);
  });
});
