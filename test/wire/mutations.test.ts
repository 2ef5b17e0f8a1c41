/**
 * Collection writes from clients (reference/ddp.md §1.11): Meteor's mutation methods `/<collection>/insert|update|
 * remove` and their `…Async` forms, opened by allow/deny rules, closed (404) without them; only id selectors;
 * results as Meteor returns them; writes reach other clients like any method's.
 */
import assert from 'node:assert/strict';
import { App } from '../../core/app.js';
import { RandomStream } from '../../core/random/random-stream.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../support/database.js';

const TABLE = 'mutation_todos';

function app(): App {
  return new App()
    .collection('todos', {
      table: TABLE,
      allow: {
        insert: (_ctx, doc) => doc.title !== 'forbidden',
        update: (_ctx, doc) => doc.locked !== true,
        remove: (_ctx, doc) => doc.locked !== true,
      },
      deny: { update: (_ctx, _doc, fieldNames) => fieldNames.includes('owner') },
    })
    .collection('plain', { table: `${TABLE}_plain` })
    .publish('todos', (ctx) => ctx.find('todos'));
}

describe('collection writes from clients (mutation methods)', function () {
  this.timeout(20_000);
  let server: PgrtServer;
  let writer: RawDdpClient;
  let watcher: RawDdpClient;

  before(async () => {
    server = await createServer({
      app: app(),
      protocols: [ddp({ heartbeatInterval: 0 })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: async (db) => {
        await db.query(
          `CREATE TABLE IF NOT EXISTS ${TABLE} (id text PRIMARY KEY, title text, votes integer, locked boolean, owner text)`,
        );
        await db.query(`CREATE TABLE IF NOT EXISTS ${TABLE}_plain (id text PRIMARY KEY)`);
        await db.query(`DELETE FROM ${TABLE}`);
      },
    });
    const url = `ws://127.0.0.1:${server.port}/websocket`;
    writer = await RawDdpClient.connect(url);
    watcher = await RawDdpClient.connect(url);
    await watcher.subscribe('todos');
  });

  after(async () => {
    await writer?.close();
    await watcher?.close();
    await server?.close();
  });

  it('a Meteor-style insert keeps the client id, returns it, and reaches another client', async () => {
    const outcome = await writer.call('/todos/insert', { _id: 't1', title: 'Buy milk', votes: 1 });
    assert.deepEqual(outcome, { result: 't1' });
    await watcher.waitFor((m) => m.msg === 'added' && m.id === 't1');
    assert.deepEqual(watcher.view('todos').get('t1'), { title: 'Buy milk', votes: 1 });
  });

  it('insertAsync without _id takes the id from the randomSeed stream, as the client stub did', async () => {
    const seed = '0123456789abcdef0123';
    const expected = new RandomStream(seed).get('/collection/todos').id();
    const id = writer.nextId();
    const from = writer.messages.length;
    writer.send({
      msg: 'method',
      id,
      method: '/todos/insertAsync',
      params: [{ title: 'seeded' }],
      randomSeed: seed,
    });
    const result = await writer.waitFor((m) => m.msg === 'result' && m.id === id, 5000, from);
    assert.equal(result.result, expected);
    await watcher.waitFor((m) => m.msg === 'added' && m.id === expected);
  });

  it('update by id applies $set/$inc/$unset and returns 1; a missing document gives 0', async () => {
    const outcome = await writer.call(
      '/todos/updateAsync',
      { _id: 't1' },
      { $set: { title: 'Buy oat milk' }, $inc: { votes: 2 } },
    );
    assert.deepEqual(outcome, { result: 1 });
    await writer.call('/todos/update', 't1', { $unset: { votes: '' } });
    await watcher.waitFor((m) => m.msg === 'changed' && m.id === 't1' && Array.isArray(m.cleared));
    assert.deepEqual(watcher.view('todos').get('t1'), { title: 'Buy oat milk' });
    assert.deepEqual(await writer.call('/todos/update', 'nope', { $set: { title: 'x' } }), { result: 0 });
  });

  it('refuses non-id selectors with Meteor’s 403, naming the method as called', async () => {
    const update = await writer.call('/todos/update', { title: 'Buy oat milk' }, { $set: { title: 'x' } });
    assert.equal(update.error?.error, 403);
    assert.equal(update.error?.reason, 'Not permitted. Untrusted code may only update documents by ID.');
    const remove = await writer.call('/todos/removeAsync', { _id: 't1', title: 'x' });
    assert.equal(remove.error?.reason, 'Not permitted. Untrusted code may only removeAsync documents by ID.');
  });

  it('denied writes get 403 Access denied and change nothing', async () => {
    const insert = await writer.call('/todos/insert', { _id: 't2', title: 'forbidden' });
    assert.deepEqual(insert.error, {
      isClientSafe: true,
      error: 403,
      reason: 'Access denied',
      message: 'Access denied [403]',
      errorType: 'Meteor.Error',
    });
    const owner = await writer.call('/todos/update', 't1', { $set: { owner: 'me' } });
    assert.equal(owner.error?.reason, 'Access denied', 'a deny rule on fieldNames');
    await writer.call('/todos/insert', { _id: 't3', title: 'locked', locked: true });
    const locked = await writer.call('/todos/remove', 't3');
    assert.equal(locked.error?.reason, 'Access denied', 'the rule saw the current document');
    const rows = await server.db.query<{ id: string }>(
      `SELECT id FROM ${TABLE} WHERE id IN ('t2', 't3') OR owner IS NOT NULL`,
    );
    assert.deepEqual(
      rows.rows.map((r) => r.id),
      ['t3'],
    );
  });

  it('refuses replacements and disallowed operators as Meteor does', async () => {
    const replace = await writer.call('/todos/update', 't1', { title: 'x' });
    assert.equal(replace.error?.error, 403);
    assert.match(
      String(replace.error?.reason),
      /^Access denied\. In a restricted collection you can only update/,
    );
    const rename = await writer.call('/todos/update', 't1', { $rename: { title: 'name' } });
    assert.equal(
      rename.error?.reason,
      'Access denied. Operator $rename not allowed in a restricted collection.',
    );
    const upsert = await writer.call('/todos/update', 't9', { $set: { title: 'x' } }, { upsert: true });
    assert.equal(upsert.error?.reason, 'Access denied. Upserts not allowed in a restricted collection.');
  });

  it('remove by id returns 1 and the document leaves every client', async () => {
    assert.deepEqual(await writer.call('/todos/remove', 't1'), { result: 1 });
    await watcher.waitFor((m) => m.msg === 'removed' && m.id === 't1');
    assert.deepEqual(await writer.call('/todos/remove', 't1'), { result: 0 });
  });

  it('a collection without rules has no mutation methods (404)', async () => {
    const outcome = await writer.call('/plain/insert', { _id: 'p1' });
    assert.equal(outcome.error?.error, 404);
    assert.equal(outcome.error?.reason, "Method '/plain/insert' not found");
  });
});
