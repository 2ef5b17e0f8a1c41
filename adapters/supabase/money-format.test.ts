/**
 * money as Supabase sends it (`to_jsonb` of the value: the database's output text): the format read from samples,
 * checked against PostgreSQL's own output for many values, and used for money columns of postgres_changes records.
 */
import assert from 'node:assert/strict';
import { PgDatabase } from '../../core/database/database.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { renderChange } from './change-payload.js';
import { MONEY_SAMPLES_SQL, moneyFormat } from './money-format.js';
import { TableCatalog } from './table-catalog.js';

describe('supabase: money values', () => {
  it('reads formats of other lc_monetary settings from their samples, and refuses what it cannot read', () => {
    const german = moneyFormat('1.234.567,89 €', '-1.234.567,89 €');
    assert.equal(german?.('-1234.5'), '-1.234,50 €');
    const yen = moneyFormat('￥1,234,568', '￥-1,234,568');
    assert.equal(yen?.('1234'), '￥1,234');
    assert.equal(yen?.('-5'), '￥-5');
    const accounting = moneyFormat('$1234567.89', '($1234567.89)');
    assert.equal(accounting?.('-1234.50'), '($1234.50)');
    assert.equal(accounting?.('0.05'), '$0.05');
    assert.equal(moneyFormat('12,34,567.89', '-12,34,567.89'), undefined, 'Indian grouping');
    assert.equal(moneyFormat('$1,234,567.89', '-$1.234.567,89'), undefined, 'samples that disagree');
  });

  describe('against PostgreSQL', () => {
    let db: PgDatabase;
    const table = `sb_money_${process.pid}`;

    before(async () => {
      db = new PgDatabase(testDatabaseUrl(), { poolSize: 2 });
      await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, price money, n numeric)`);
    });
    after(async () => {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
      await db.close();
    });

    it("writes every value as the database's money output does", async () => {
      const samples = await db.query<{ positive: string; negative: string }>(MONEY_SAMPLES_SQL);
      const format = moneyFormat(samples.rows[0]!.positive, samples.rows[0]!.negative);
      assert.ok(format, `a readable format: ${JSON.stringify(samples.rows[0])}`);
      const values = await db.query<{ decimal: string; text: string }>(
        `SELECT v::money::numeric::text AS decimal, v::money::text AS text
           FROM unnest(ARRAY[0, 0.01, -0.01, 0.5, 1, -1, 12.3, 999.99, 1000, -1000, 123456.78, -9876543.21,
                             92233720368547758.07, -92233720368547758.08]::numeric[]) v`,
      );
      for (const { decimal, text } of values.rows) assert.equal(format(decimal), text, decimal);
    });

    it('renders money columns of a change as Supabase does, numbers as numbers', async () => {
      const catalog = new TableCatalog(
        db,
        new Map([[`public.${table}`, true]]),
        new Set([`public.${table}`]),
      );
      const rendered = await catalog.table(`public.${table}`);
      const data = JSON.parse(
        renderChange(
          rendered,
          'INSERT',
          { row: { id: 1, price: '-1234.50', n: '1234.50' }, key: 1 },
          { maxRecordBytes: 1024, commitTime: 0 },
        ),
      ) as { record: Record<string, unknown> };
      const expected = await db.query<{ text: string }>(`SELECT (-1234.50)::money::text AS text`);
      assert.deepEqual(data.record, { n: 1234.5, id: 1, price: expected.rows[0]?.text });
    });
  });
});
