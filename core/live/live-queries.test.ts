import assert from 'node:assert/strict';
import pg from 'pg';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { App } from '../app.js';
import type { Fields } from '../contexts.js';

/**
 * Live queries converge to the table's committed state: random external writes (inserts, updates that move
 * documents in and out of selectors and limit windows, deletes, truncates), then a method whose `updated`
 * must only arrive once every earlier change reached the session; at that point the client's view must equal
 * what an independent SQL query returns.
 */
describe('live queries (random writes vs SQL truth)', function () {
  this.timeout(120_000);
  const table = `lq_items_${process.pid}`;
  let t: TestCore;
  let writer: pg.Pool;

  interface Scenario {
    name: string;
    selector: Record<string, unknown>;
    options: Record<string, unknown>;
    /** Independent SQL for the expected ids, in any order. */
    truth: string;
    /** Expected published fields of a row. */
    fields: (row: { n: number; g: string; t: string | null }) => Fields;
  }
  const all = (row: { n: number; g: string; t: string | null }): Fields => {
    const f: Fields = { n: row.n, g: row.g };
    if (row.t !== null) f.t = row.t;
    return f;
  };
  const scenarios: Scenario[] = [
    {
      name: 'selector, unlimited',
      selector: { g: 'a' },
      options: {},
      truth: `SELECT * FROM ${table} WHERE g = 'a'`,
      fields: all,
    },
    {
      name: 'limit 5 sorted by n',
      selector: {},
      options: { sort: { n: 1 }, limit: 5 },
      truth: `SELECT * FROM ${table} ORDER BY n, id COLLATE "C" LIMIT 5`,
      fields: all,
    },
    {
      name: '$in, two-key descending sort, limit 3',
      selector: { g: { $in: ['a', 'b'] } },
      options: { sort: { n: -1, t: 1 }, limit: 3 },
      truth: `SELECT * FROM ${table} WHERE g IN ('a','b') ORDER BY n DESC, t COLLATE "C" ASC NULLS FIRST, id COLLATE "C" LIMIT 3`,
      fields: all,
    },
    {
      name: 'range with skip 2 limit 4',
      selector: { n: { $gte: 10 } },
      options: { sort: { n: 1 }, skip: 2, limit: 4 },
      truth: `SELECT * FROM ${table} WHERE n >= 10 ORDER BY n, id COLLATE "C" OFFSET 2 LIMIT 4`,
      fields: all,
    },
    {
      name: 'projection, $exists and $ne',
      selector: { t: { $exists: true }, g: { $ne: 'c' } },
      options: { fields: { n: 1 } },
      truth: `SELECT * FROM ${table} WHERE t IS NOT NULL AND g IS DISTINCT FROM 'c'`,
      fields: (row) => ({ n: row.n }),
    },
  ];

  before(async () => {
    const app = new App()
      .collection('items', { table })
      .publish('q', (ctx, selector, options) =>
        ctx.find('items', selector as Record<string, unknown>, options as Record<string, unknown>),
      )
      .method('touch', async (ctx) => {
        await ctx.query(`UPDATE ${table}_fence SET n = n + 1`);
      });
    t = await startTestCore(app, async (db) => {
      await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, n int NOT NULL, g text NOT NULL, t text)`);
      await db.query(`CREATE TABLE ${table}_fence (n int)`);
      await db.query(`INSERT INTO ${table}_fence VALUES (0)`);
    });
    writer = new pg.Pool({ connectionString: testDatabaseUrl(), max: 4 });
  });

  after(async () => {
    await writer?.end();
    await t?.close();
  });

  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

  async function randomWrites(count: number): Promise<void> {
    const statements: Array<Promise<unknown>> = [];
    for (let i = 0; i < count; i++) {
      const id = `d${Math.floor(random() * 40)}`;
      const n = Math.floor(random() * 30);
      const g = pick(['a', 'b', 'c']);
      const text = random() < 0.25 ? null : pick(['x', 'y', 'zz', '']);
      const r = random();
      if (r < 0.5) {
        statements.push(
          writer.query(
            `INSERT INTO ${table} VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET n = $2, g = $3, t = $4`,
            [id, n, g, text],
          ),
        );
      } else if (r < 0.8) {
        statements.push(writer.query(`UPDATE ${table} SET n = $2 WHERE id = $1`, [id, n]));
      } else if (r < 0.995) {
        statements.push(writer.query(`DELETE FROM ${table} WHERE id = $1`, [id]));
      } else {
        statements.push(writer.query(`TRUNCATE ${table}`));
      }
    }
    await Promise.all(statements);
  }

  for (const scenario of scenarios) {
    it(`${scenario.name}: converges after every burst`, async () => {
      const { session, out } = t.session();
      await session.subscribe('s1', 'q', [scenario.selector, scenario.options]);
      await out.waitFor((m) => m.msg === 'ready');
      for (let round = 0; round < 12; round++) {
        await randomWrites(1 + Math.floor(random() * 25));
        await t.call(session, out, 'touch');
        const expected: Record<string, Fields> = {};
        for (const row of (await writer.query(scenario.truth)).rows) expected[row.id] = scenario.fields(row);
        assert.deepEqual(out.collection('items'), expected, `round ${round}`);
      }
      assert.deepEqual(out.violations, []);
      session.close();
    });
  }

  it('shares one observer between sessions subscribed to the same query', async () => {
    const a = t.session();
    const b = t.session();
    const before = t.core.pool.size;
    await a.session.subscribe('x', 'q', [{ g: 'b' }, { sort: { n: 1 } }]);
    await b.session.subscribe('y', 'q', [{ g: 'b' }, { sort: { n: 1 } }]);
    assert.equal(t.core.pool.size, before + 1);
    await randomWrites(10);
    await t.call(a.session, a.out, 'touch');
    await t.call(b.session, b.out, 'touch');
    assert.deepEqual(a.out.collection('items'), b.out.collection('items'));
    a.session.close();
    assert.equal(t.core.pool.size, before + 1, 'still used by b');
    b.session.close();
    assert.equal(t.core.pool.size, before, 'released with the last subscriber');
  });
});
