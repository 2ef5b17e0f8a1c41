/**
 * The hand-off store (handoff-store.ts) on a real database: what is persisted is taken back whole, once; an
 * expired hand-off gives nothing; a hand-off whose sessions were all taken is deleted with its documents.
 */
import assert from 'node:assert/strict';
import { PgDatabase } from '../../core/database/database.js';
import { ensureSchema } from '../../core/database/schema.js';
import type { Snapshot } from '../../core/merge-box.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { encodeHandoff, HandoffStore, PENDING, type SessionToHandOff } from './handoff-store.js';

function session(id: string, view: Snapshot): SessionToHandOff {
  return {
    id,
    sentCount: 7,
    userId: 'u1',
    loginTokenHash: 'hash=',
    subscriptions: [{ id: 's1', name: 'tasks', params: [1, 'two'] }],
    view,
  };
}

describe('DDP hand-off store', function () {
  this.timeout(20_000);
  let db: PgDatabase;

  before(async () => {
    db = new PgDatabase(testDatabaseUrl());
    await ensureSchema(db);
  });

  beforeEach(async () => {
    await db.query('DELETE FROM pgrt.ddp_handoffs');
  });

  after(async () => {
    await db?.close();
  });

  it('writes documents once and gives each session back to one taker', async () => {
    const shared = { title: 'A' };
    const store = new HandoffStore(db, 60_000);
    const one: Snapshot = new Map([['tasks', new Map([['a', shared]])]]);
    const two: Snapshot = new Map([
      [
        'tasks',
        new Map([
          ['a', shared],
          ['b', { title: 'B' }],
        ]),
      ],
    ]);
    const written = await store.persist([session('one-id', one), session('two-id', two)], 5000);
    assert.equal(written, 2, 'two distinct documents');
    const stored = await db.query<{ session_hash: string }>(
      'SELECT session_hash FROM pgrt.ddp_handoff_sessions',
    );
    assert.ok(
      stored.rows.every((r) => r.session_hash !== 'one-id' && r.session_hash !== 'two-id'),
      'ids are stored hashed',
    );

    const taken = await store.take('two-id');
    assert.deepEqual(taken, {
      sentCount: 7,
      userId: 'u1',
      loginTokenHash: 'hash=',
      subscriptions: [{ id: 's1', name: 'tasks', params: [1, 'two'] }],
      view: two,
    });
    assert.equal(await store.take('two-id'), undefined, 'a second taker gets nothing');
    const first = await store.take('one-id');
    assert.ok(first !== undefined && first !== PENDING);
    assert.deepEqual(first.view, one);
    const left = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pgrt.ddp_handoff_documents');
    assert.equal(left.rows[0]?.n, 0, 'the documents go with the last session');
  });

  it('gives nothing for an expired hand-off or an unknown session', async () => {
    const store = new HandoffStore(db, 60_000);
    await store.persist([session('old-id', new Map())], 5000);
    await db.query(`UPDATE pgrt.ddp_handoffs SET expires_at = now() - interval '1 second'`);
    assert.equal(await store.take('old-id'), undefined);
    assert.equal(await store.take('never-id'), undefined);
    const left = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pgrt.ddp_handoffs');
    assert.equal(left.rows[0]?.n, 0, 'expired hand-offs are deleted');
  });

  it('says a session announced and not yet written is pending, until it is written or withdrawn', async () => {
    const store = new HandoffStore(db, 60_000);
    const view: Snapshot = new Map([['tasks', new Map([['a', { title: 'A' }]])]]);
    await store.announce('00000000-0000-4000-8000-000000000001', ['p-one', 'p-two'], 60_000);
    assert.equal(await store.take('p-one'), PENDING);
    assert.equal(await store.take('p-one'), PENDING, 'a pending session is not taken');
    await store.write('00000000-0000-4000-8000-000000000001', encodeHandoff([session('p-one', view)]), 5000);
    const taken = await store.take('p-one');
    assert.ok(taken !== undefined && taken !== PENDING);
    assert.deepEqual(taken.view, view);
    assert.equal(await store.take('p-two'), undefined, 'announced and not written: withdrawn by the write');

    await store.announce('00000000-0000-4000-8000-000000000002', ['p-three'], 60_000);
    await store.withdraw('00000000-0000-4000-8000-000000000002');
    assert.equal(await store.take('p-three'), undefined, 'withdrawn');
    await store.announce('00000000-0000-4000-8000-000000000003', ['p-four'], 1);
    await db.query(`UPDATE pgrt.ddp_handoffs SET expires_at = now() - interval '1 second'`);
    assert.equal(await store.take('p-four'), undefined, 'an expired announcement is not waited for');
  });

  it('stores a long view once for the sessions that hold it', async () => {
    const store = new HandoffStore(db, 60_000);
    const docs = new Map(Array.from({ length: 50 }, (_, i) => [`doc-${i}`, { title: `T${i}` }] as const));
    const view: Snapshot = new Map([['tasks', docs]]);
    const copy: Snapshot = new Map([['tasks', new Map([...docs].map(([id, f]) => [id, { ...f }]))]]);
    const written = await store.persist([session('v-one', view), session('v-two', copy)], 5000);
    assert.equal(written, 51, '50 documents and one view');
    for (const id of ['v-one', 'v-two']) {
      const taken = await store.take(id);
      assert.ok(taken !== undefined && taken !== PENDING);
      assert.deepEqual(taken.view, view);
    }
  });
});
