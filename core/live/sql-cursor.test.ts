import assert from 'node:assert/strict';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { App } from '../app.js';

describe('custom SQL publications (re-run and diff)', function () {
  this.timeout(30_000);
  const authors = `sq_authors_${process.pid}`;
  const books = `sq_books_${process.pid}`;
  let t: TestCore;

  before(async () => {
    const app = new App()
      .collection('authors', { table: authors })
      .collection('books', { table: books })
      // Authors with their book count: a join + aggregate no selector can express.
      .publish('authorStats', (ctx) =>
        ctx.sql(
          'authors',
          `SELECT a.id, a.name, count(b.id)::int AS books FROM ${authors} a LEFT JOIN ${books} b ON b.author = a.id GROUP BY a.id, a.name`,
          [],
          { tables: [authors, books], throttleMs: 5 },
        ),
      )
      .method('addBook', async (ctx, id, author) => {
        await ctx.query(`INSERT INTO ${books} VALUES ($1, $2)`, [id, author]);
      })
      .method('renameAuthor', async (ctx, id, name) => {
        await ctx.query(`UPDATE ${authors} SET name = $2 WHERE id = $1`, [id, name]);
      })
      .method('removeAuthor', async (ctx, id) => {
        await ctx.query(`DELETE FROM ${books} WHERE author = $1`, [id]);
        await ctx.query(`DELETE FROM ${authors} WHERE id = $1`, [id]);
      });
    t = await startTestCore(app, async (db) => {
      await db.query(`CREATE TABLE ${authors} (id text PRIMARY KEY, name text NOT NULL)`);
      await db.query(`CREATE TABLE ${books} (id text PRIMARY KEY, author text NOT NULL)`);
      await db.query(`INSERT INTO ${authors} VALUES ('a1', 'Ann'), ('a2', 'Bob')`);
    });
  });

  after(async () => {
    await t?.close();
  });

  it('publishes the query result and sends only differences when a watched table changes', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'authorStats', []);
    await out.waitFor((m) => m.msg === 'ready');
    assert.deepEqual(out.collection('authors'), {
      a1: { name: 'Ann', books: 0 },
      a2: { name: 'Bob', books: 0 },
    });

    const before = out.messages.length;
    await t.call(session, out, 'addBook', 'b1', 'a1'); // a change to the joined table
    assert.deepEqual(out.collection('authors').a1, { name: 'Ann', books: 1 });
    const changes = out.messages.slice(before).filter((m) => m.msg === 'changed');
    assert.deepEqual(
      changes.map((m) => (m.msg === 'changed' ? [m.id, m.fields] : [])),
      [['a1', { books: 1 }]],
      'only the changed field of the changed row',
    );

    await t.call(session, out, 'renameAuthor', 'a2', 'Bea');
    assert.deepEqual(out.collection('authors').a2, { name: 'Bea', books: 0 });
    await t.call(session, out, 'removeAuthor', 'a1');
    assert.deepEqual(Object.keys(out.collection('authors')), ['a2']);
    assert.deepEqual(out.violations, []);
    session.close();
  });

  it('ends the subscription with an internal error when the SQL fails, and lets the next one retry', async () => {
    t.core.app.publish('brokenSql', (ctx) => ctx.sql('authors', 'SELECT id FROM no_such_table_here'));
    for (const attempt of [1, 2]) {
      const { session, out } = t.session();
      await session.subscribe(`b${attempt}`, 'brokenSql', []);
      const nosub = await out.waitFor((m) => m.msg === 'nosub');
      assert.ok(nosub.msg === 'nosub' && nosub.error instanceof Error, `attempt ${attempt}`);
      assert.equal(out.messages.filter((m) => m.msg === 'ready').length, 0);
      session.close();
    }
  });

  it('refuses to watch a table that no registered collection captures', async () => {
    const app = t.core.app;
    app.publish('badSql', (ctx) => ctx.sql('authors', 'SELECT 1 AS id', [], { tables: ['pg_class'] }));
    const { session, out } = t.session();
    await session.subscribe('x', 'badSql', []);
    const nosub = await out.waitFor((m) => m.msg === 'nosub');
    assert.ok(nosub.msg === 'nosub' && nosub.error instanceof Error);
    assert.match((nosub.error as Error).message, /no registered collection captures/);
    session.close();
  });
});
