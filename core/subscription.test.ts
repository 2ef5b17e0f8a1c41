/**
 * What a subscription withdraws and filters: a cursor that is its collection's only source keeps no ids of its
 * own (its observer's documents say what it published), and one that shares its collection with the low-level
 * API filters exactly as the low-level API does, also when that API joins in after the cursor was attached.
 */
import assert from 'node:assert/strict';
import { startTestCore, type TestCore } from '../test/support/core.js';
import { RecordingOutput } from '../test/support/recording-output.js';
import { App } from './app.js';
import type { Fields, PublicationContext } from './contexts.js';

describe('subscription: published documents', function () {
  this.timeout(30_000);
  const items = `sub_items_${process.pid}`;
  const plain = `sub_plain_${process.pid}`;
  let t: TestCore;
  /** The context of the last `late` subscription, to drive its low-level API after it is ready. */
  let late: PublicationContext | undefined;

  before(async () => {
    const app = new App()
      .collection('items', { table: items })
      .collection('plain', { table: plain, strategy: 'NO_MERGE' })
      .publish('items', (ctx) => ctx.find('items'))
      .publish('plain', (ctx) => ctx.find('plain'))
      .publish('mixed', (ctx) => {
        ctx.added('items', 'low', { text: 'from the handler' });
        return ctx.find('items');
      })
      .publish('late', (ctx) => {
        late = ctx;
        return ctx.find('items');
      });
    t = await startTestCore(app, async (db) => {
      await db.query(`DROP TABLE IF EXISTS ${items}, ${plain}`);
      await db.query(`CREATE TABLE ${items} (id text PRIMARY KEY, text text NOT NULL)`);
      await db.query(`CREATE TABLE ${plain} (id text PRIMARY KEY, text text NOT NULL)`);
    });
  });

  beforeEach(async () => {
    await t.db.query(`DELETE FROM ${items}`);
    await t.db.query(`DELETE FROM ${plain}`);
    await t.db.query(`INSERT INTO ${items} (id, text) VALUES ('a', 'A'), ('b', 'B')`);
    await t.db.query(`INSERT INTO ${plain} (id, text) VALUES ('p', 'P')`);
  });

  after(async () => {
    await t?.close();
  });

  async function subscribe(
    out: RecordingOutput,
    session: ReturnType<TestCore['session']>['session'],
    id: string,
    name: string,
  ) {
    await session.subscribe(id, name, []);
    await out.waitFor((m) => m.msg === 'ready' && m.subs.includes(id));
  }

  const removedIds = (out: RecordingOutput, from: number): string[] =>
    out.messages
      .slice(from)
      .flatMap((m) => (m.msg === 'removed' ? [m.id] : []))
      .sort();

  it('withdraws what a lone cursor published, including documents that arrived and left meanwhile', async () => {
    const { session, out } = t.session();
    await subscribe(out, session, 's', 'items');
    await t.db.query(`INSERT INTO ${items} (id, text) VALUES ('c', 'C')`);
    await out.waitFor((m) => m.msg === 'added' && m.id === 'c');
    await t.db.query(`DELETE FROM ${items} WHERE id = 'a'`);
    await out.waitFor((m) => m.msg === 'removed' && m.id === 'a');
    const before = out.messages.length;
    session.unsubscribe('s');
    assert.deepEqual(removedIds(out, before), ['b', 'c']);
    assert.deepEqual(out.collection('items'), {});
    assert.deepEqual(out.violations, []);
    session.close();
  });

  it('keeps a document two subscriptions of one cursor hold until the last one goes', async () => {
    const { session, out } = t.session();
    await subscribe(out, session, 's1', 'items');
    await subscribe(out, session, 's2', 'items');
    let before = out.messages.length;
    session.unsubscribe('s1');
    assert.deepEqual(removedIds(out, before), []);
    await t.db.query(`UPDATE ${items} SET text = 'B2' WHERE id = 'b'`);
    await out.waitFor((m) => m.msg === 'changed' && m.id === 'b');
    before = out.messages.length;
    session.unsubscribe('s2');
    assert.deepEqual(removedIds(out, before), ['a', 'b']);
    assert.deepEqual(out.violations, []);
    session.close();
  });

  it('sends removed for every document of a NO_MERGE cursor when it stops', async () => {
    const { session, out } = t.session();
    await subscribe(out, session, 's', 'plain');
    await t.db.query(`INSERT INTO ${plain} (id, text) VALUES ('q', 'Q')`);
    await out.waitFor((m) => m.msg === 'added' && m.id === 'q');
    const before = out.messages.length;
    session.unsubscribe('s');
    assert.deepEqual(removedIds(out, before), ['p', 'q']);
    session.close();
  });

  it('withdraws exactly what a cursor published when attaching it failed halfway', async () => {
    // The output throws on the second initial document (as an encoder would on a value it cannot carry): the
    // subscription fails, and what reached the merge box up to then is withdrawn, nothing else.
    class FailingOutput extends RecordingOutput {
      override added(collection: string, id: string, fields: Fields): void {
        if (id === 'b') throw new Error('cannot encode');
        super.added(collection, id, fields);
      }
    }
    await t.db.query(`INSERT INTO ${items} (id, text) VALUES ('c', 'C')`);
    const out = new FailingOutput();
    const info = { id: 'failing', protocol: 'test', clientAddress: '127.0.0.1', httpHeaders: {} };
    const session = t.core.openSession(info, out);
    await session.subscribe('s', 'items', []);
    await out.waitFor((m) => m.msg === 'nosub');
    const ids = out.messages.flatMap((m) =>
      m.msg === 'added' || m.msg === 'removed' ? [`${m.msg} ${m.id}`] : [],
    );
    assert.deepEqual(ids, ['added a', 'removed a', 'removed b']);
    session.close();
  });

  it('shares the id set with the low-level API when the handler published to the same collection', async () => {
    const { session, out } = t.session();
    await subscribe(out, session, 's', 'mixed');
    assert.deepEqual(out.collection('items'), {
      low: { text: 'from the handler' },
      a: { text: 'A' },
      b: { text: 'B' },
    });
    const before = out.messages.length;
    session.unsubscribe('s');
    assert.deepEqual(removedIds(out, before), ['a', 'b', 'low']);
    assert.deepEqual(out.violations, []);
    session.close();
  });

  it('filters a cursor by the low-level API’s withdrawals once that API joins in after the cursor', async () => {
    const { session, out } = t.session();
    await subscribe(out, session, 's', 'late');
    const ctx = late as PublicationContext;
    // The low-level API withdraws a document the cursor published: its later changes are not this
    // subscription's any more (and must not reach a client that no longer holds it).
    ctx.removed('items', 'a');
    assert.deepEqual(removedIds(out, 0), ['a']);
    // Adding a document the cursor published makes a change of it, not a second `added`.
    ctx.added('items', 'b', { extra: 1 });
    const change = out.messages.at(-1);
    assert.ok(change?.msg === 'changed' && change.id === 'b');
    assert.deepEqual(change.fields, { extra: 1 });
    await t.db.query(`UPDATE ${items} SET text = 'A2' WHERE id = 'a'`);
    await t.db.query(`UPDATE ${items} SET text = 'B2' WHERE id = 'b'`);
    await out.waitFor((m) => m.msg === 'changed' && m.id === 'b' && m.fields.text === 'B2');
    assert.equal(
      out.messages.some((m) => m.msg !== 'removed' && 'id' in m && m.id === 'a' && m.msg !== 'added'),
      false,
      'no message about a after its withdrawal',
    );
    // A document the cursor adds after the switch is tracked too.
    await t.db.query(`INSERT INTO ${items} (id, text) VALUES ('c', 'C')`);
    await out.waitFor((m) => m.msg === 'added' && m.id === 'c');
    await t.db.query(`INSERT INTO ${items} (id, text) VALUES ('d', 'D')`);
    await out.waitFor((m) => m.msg === 'added' && m.id === 'd');
    let before = out.messages.length;
    ctx.removed('items', 'c');
    assert.deepEqual(removedIds(out, before), ['c']);
    before = out.messages.length;
    session.unsubscribe('s');
    assert.deepEqual(removedIds(out, before), ['b', 'd']);
    assert.deepEqual(out.collection('items'), {});
    assert.deepEqual(out.violations, []);
    session.close();
  });
});
