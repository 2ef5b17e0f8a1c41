/**
 * column-json.ts against the real thing: for every type of the fast path and values chosen to hit its edges, the
 * JSON Node makes of a value's output text (as the walsender writes it: DateStyle ISO, the session's TimeZone and
 * extra_float_digits) equals `to_jsonb(value)::text` (and `pgrt.exact`'s for exact columns) in the same session,
 * byte for byte; jsonb's key order likewise.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { testDatabaseUrl } from '../../../test/support/database.js';
import { PgDatabase } from '../../database/database.js';
import { ensureSchema } from '../../database/schema.js';
import { columnFormat, floatAsNumeric, jsonbKeyOrder } from './column-json.js';

/** Values per type, as SQL literals' text (cast in SQL). */
const CASES: ReadonlyArray<{ type: string; values: readonly string[] }> = [
  { type: 'bool', values: ['true', 'false'] },
  { type: 'int2', values: ['0', '-32768', '32767'] },
  { type: 'int4', values: ['0', '-2147483648', '2147483647', '42'] },
  { type: 'int8', values: ['0', '-9223372036854775808', '9223372036854775807'] },
  {
    type: 'numeric',
    values: [
      '0',
      '-0.00',
      '12345678901234567890.123',
      '1e-5',
      '1.50',
      'NaN',
      'Infinity',
      '-Infinity',
      '-1e20',
    ],
  },
  {
    type: 'float8',
    values: [
      '0',
      '-0',
      '1.5',
      '0.1',
      '1e15',
      '1e16',
      '1.5e300',
      '1.5e-7',
      '-1.2345e-5',
      '1e-320',
      '123456789012345680000',
      '3412345.6789012345',
      'NaN',
      'Infinity',
      '-Infinity',
    ],
  },
  {
    type: 'float4',
    values: ['0', '-0', '1.5', '123456.789', '1e15', '1.5e-7', '3.4e38', 'NaN', '-Infinity'],
  },
  {
    type: 'text',
    values: [
      '',
      'plain',
      'it\'s "q" \\ é ✓',
      'tab\tnew\nline\rcr\bbs\fff',
      '\u0001\u001f\u007f\u2028 emoji 😀',
    ],
  },
  { type: 'varchar(20)', values: ['v', ' spaced '] },
  { type: 'char(5)', values: ['ab', ''] },
  { type: 'name', values: ['a_name'] },
  { type: '"char"', values: ['x'] },
  { type: 'uuid', values: ['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'] },
  {
    type: 'jsonb',
    values: ['{"b":1,"a":[1,2.50,{"c":null}],"é":"\\u0001"}', '"s"', '12.0', 'null', '[]', '{"aa":1,"b":2}'],
  },
  { type: 'date', values: ['2024-02-29', '0044-03-15 BC', '12345-01-01', 'infinity', '-infinity'] },
  {
    type: 'timestamp',
    values: ['2024-01-02 03:04:05', '2024-01-02 03:04:05.678901', '0044-03-15 10:00:00.5 BC', 'infinity'],
  },
  {
    type: 'timestamptz',
    values: [
      '2024-01-02 03:04:05+00',
      '2024-01-02 03:04:05.678+05:30',
      '1850-03-15 10:00:00+00',
      '0044-03-15 10:00:00.5+02 BC',
      '12345-06-07 08:09:10-03',
      '-infinity',
    ],
  },
];

describe('column JSON of the logical fast path', () => {
  let db: PgDatabase;
  let client: pg.Client;

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 2 });
    await ensureSchema(db);
    client = await db.connectDedicated();
    await client.query("SET DateStyle TO 'ISO'");
  });
  after(async () => {
    await client?.end();
    await db?.close();
  });

  async function compare(timeZone: string): Promise<number> {
    await client.query(`SET TimeZone TO '${timeZone}'`);
    let compared = 0;
    for (const { type, values } of CASES) {
      for (const value of values) {
        const result = await client.query<{ oid: number; text: string; json: string }>(
          `SELECT pg_typeof(v)::oid::int AS oid, format('%s', v) AS text, to_jsonb(v)::text AS json
             FROM (SELECT $1::${type} AS v) s`,
          [value],
        );
        const row = result.rows[0]!;
        const plain = columnFormat(row.oid, false);
        assert.ok(plain, `${type} has a fast format`);
        assert.equal(plain(row.text), row.json, `${type} ${JSON.stringify(value)} (${timeZone})`);
        if (type === 'int8' || type === 'numeric') {
          const exact = await client.query<{ json: string }>(
            `SELECT (pgrt.exact(jsonb_build_object('v', $1::${type}), '{v}') -> 'v')::text AS json`,
            [value],
          );
          assert.equal(columnFormat(row.oid, true)!(row.text), exact.rows[0]!.json, `exact ${type} ${value}`);
        }
        compared++;
      }
    }
    return compared;
  }

  it('equals to_jsonb for every fast type, in several time zones', async () => {
    const total = CASES.reduce((sum, { values }) => sum + values.length, 0);
    for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) assert.equal(await compare(zone), total);
  });

  it('leaves other types to SQL', async () => {
    for (const type of ['json', 'bytea', 'int4[]', 'interval', 'time', 'money', 'xml']) {
      const oid = (await client.query<{ oid: number }>(`SELECT '${type}'::regtype::oid::int AS oid`)).rows[0]!
        .oid;
      assert.equal(columnFormat(oid, false), undefined, type);
    }
  });

  it('orders keys as jsonb does', async () => {
    const names = ['seq', 'é', 'id', 'bb', 't', 'a', 'B', 'w', 'Ω'];
    const result = await client.query<{ keys: string[] }>(
      'SELECT array_agg(k) AS keys FROM jsonb_object_keys(jsonb_object($1::text[], $1::text[])) k',
      [names],
    );
    assert.deepEqual(
      jsonbKeyOrder(names).map((i) => names[i]),
      result.rows[0]!.keys,
    );
  });

  it('writes a float exponent out as numeric does', () => {
    assert.equal(floatAsNumeric('1e+15'), '1000000000000000');
    assert.equal(floatAsNumeric('1.5e-07'), '0.00000015');
    assert.equal(floatAsNumeric('-1.2345e-05'), '-0.000012345');
    assert.equal(floatAsNumeric('-0'), '0');
    assert.equal(floatAsNumeric('123.5'), '123.5');
  });
});
