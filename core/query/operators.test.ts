/**
 * Each selector operator: the SQL it compiles to (with parameters and casts) and the documents it matches in
 * memory, including the absent-field (SQL NULL) cases where Mongo semantics are easy to get wrong.
 */
import assert from 'node:assert/strict';
import type { Row } from '../database/table-info.js';
import { compileQuery, type Selector } from './compile.js';
import { items } from './fixtures/tables.js';

const absent: Row = { id: 'x' };

function check(
  selector: Selector,
  where: string,
  params: readonly unknown[],
  matching: readonly Row[],
  failing: readonly Row[],
): void {
  const query = compileQuery(items, selector);
  assert.equal(query.where, where);
  assert.deepEqual(query.params, params);
  for (const doc of matching) assert.equal(query.matches(doc), true, `should match ${JSON.stringify(doc)}`);
  for (const doc of failing)
    assert.equal(query.matches(doc), false, `should not match ${JSON.stringify(doc)}`);
}

describe('query operators', () => {
  it('compiles the empty selector to TRUE', () => {
    check({}, 'TRUE', [], [absent], []);
  });

  it('implicit equality and $eq', () => {
    const where = 't."title" = $1::text';
    check({ title: 'a' }, where, ['a'], [{ id: 'x', title: 'a' }], [absent, { id: 'x', title: 'A' }]);
    check({ title: { $eq: 'a' } }, where, ['a'], [{ id: 'x', title: 'a' }], [absent]);
  });

  it('null equality matches absent fields only', () => {
    check({ title: null }, 't."title" IS NULL', [], [absent], [{ id: 'x', title: '' }]);
    check({ title: { $eq: null } }, 't."title" IS NULL', [], [absent], [{ id: 'x', title: 'a' }]);
  });

  it('$ne matches absent fields too (IS DISTINCT FROM)', () => {
    check(
      { n: { $ne: 3 } },
      't."n" IS DISTINCT FROM $1::integer',
      ['3'],
      [absent, { id: 'x', n: 4 }],
      [{ id: 'x', n: 3 }],
    );
    check({ n: { $ne: null } }, 't."n" IS NOT NULL', [], [{ id: 'x', n: 0 }], [absent]);
  });

  it('$gt/$gte/$lt/$lte never match absent fields; text compares in C collation', () => {
    check({ n: { $gt: 3 } }, 't."n" > $1::integer', ['3'], [{ id: 'x', n: 4 }], [absent, { id: 'x', n: 3 }]);
    check(
      { n: { $gte: 3 } },
      't."n" >= $1::integer',
      ['3'],
      [{ id: 'x', n: 3 }],
      [absent, { id: 'x', n: 2 }],
    );
    check({ n: { $lt: 3 } }, 't."n" < $1::integer', ['3'], [{ id: 'x', n: -1 }], [absent, { id: 'x', n: 3 }]);
    check({ n: { $lte: 3 } }, 't."n" <= $1::integer', ['3'], [{ id: 'x', n: 3 }], [absent]);
    check(
      { title: { $gt: '\uFFFD' } },
      't."title" COLLATE "C" > $1::text',
      ['\uFFFD'],
      [{ id: 'x', title: '😀' }],
      [{ id: 'x', title: '\uE000' }, absent],
    );
  });

  it('combines several operators on one field with AND', () => {
    check(
      { n: { $lt: 10, $gt: 1 } },
      '(t."n" > $1::integer AND t."n" < $2::integer)',
      ['1', '10'],
      [{ id: 'x', n: 5 }],
      [{ id: 'x', n: 10 }, absent],
    );
  });

  it('$in is one array parameter; null in the list matches absent', () => {
    check(
      { title: { $in: ['b', 'a'] } },
      't."title" = ANY($1::text[])',
      ['{"a","b"}'],
      [{ id: 'x', title: 'b' }],
      [absent, { id: 'x', title: 'c' }],
    );
    check(
      { title: { $in: [null, 'a"\\'] } },
      '(t."title" IS NULL OR t."title" = ANY($1::text[]))',
      ['{"a\\"\\\\"}'],
      [absent, { id: 'x', title: 'a"\\' }],
      [{ id: 'x', title: 'a' }],
    );
    check({ title: { $in: [] } }, 'FALSE', [], [], [absent, { id: 'x', title: 'a' }]);
    check({ title: { $in: [null] } }, 't."title" IS NULL', [], [absent], [{ id: 'x', title: 'a' }]);
  });

  it('$nin matches absent fields unless null is listed', () => {
    check(
      { n: { $nin: [1, 2] } },
      '(t."n" IS NULL OR NOT (t."n" = ANY($1::integer[])))',
      ['{"1","2"}'],
      [absent, { id: 'x', n: 3 }],
      [{ id: 'x', n: 2 }],
    );
    check(
      { n: { $nin: [null, 1] } },
      '(t."n" IS NOT NULL AND NOT (t."n" = ANY($1::integer[])))',
      ['{"1"}'],
      [{ id: 'x', n: 3 }],
      [absent, { id: 'x', n: 1 }],
    );
    check({ n: { $nin: [] } }, 'TRUE', [], [absent, { id: 'x', n: 1 }], []);
  });

  it('$exists', () => {
    check({ n: { $exists: true } }, 't."n" IS NOT NULL', [], [{ id: 'x', n: 0 }], [absent]);
    check({ n: { $exists: false } }, 't."n" IS NULL', [], [absent], [{ id: 'x', n: 0 }]);
  });

  it('$and, $or, $nor and $not; negations treat SQL NULL as false', () => {
    check(
      { $or: [{ n: 1 }, { title: 'a' }] },
      '(t."n" = $1::integer OR t."title" = $2::text)',
      ['1', 'a'],
      [
        { id: 'x', n: 1 },
        { id: 'x', title: 'a' },
      ],
      [absent],
    );
    check(
      { $and: [{ n: { $gt: 1 } }, { n: { $lt: 5 } }] },
      '(t."n" > $1::integer AND t."n" < $2::integer)',
      ['1', '5'],
      [{ id: 'x', n: 2 }],
      [absent],
    );
    check(
      { $nor: [{ n: 1 }, { title: 'a' }] },
      'NOT COALESCE((t."n" = $1::integer OR t."title" = $2::text), FALSE)',
      ['1', 'a'],
      [absent, { id: 'x', n: 2 }],
      [{ id: 'x', n: 1 }],
    );
    check(
      { n: { $not: { $gt: 3 } } },
      'NOT COALESCE(t."n" > $1::integer, FALSE)',
      ['3'],
      [absent, { id: 'x', n: 3 }],
      [{ id: 'x', n: 4 }],
    );
  });

  it('_id means the primary key', () => {
    check({ _id: 'k' }, 't."id" = $1::text', ['k'], [{ id: 'k' }], [{ id: 'j' }]);
  });

  it('binds each kind with a cast to its type without typmod', () => {
    const at = new Date('2024-05-06T07:08:09.123Z');
    const cases: Array<[Selector, string, unknown]> = [
      [{ big: 12 }, 't."big" = $1::bigint', '12'],
      [{ big: 12n }, 't."big" = $1::bigint', '12'],
      [{ big: '-9223372036854775808' }, 't."big" = $1::bigint', '-9223372036854775808'],
      [{ amount: '1.005' }, 't."amount" = $1::numeric', '1.005'],
      [{ amount: 1e-7 }, 't."amount" = $1::numeric', '0.0000001'],
      [{ score: Number.NaN }, 't."score" = $1::double precision', 'NaN'],
      [{ score: -Infinity }, 't."score" = $1::double precision', '-Infinity'],
      [{ ratio: 0.1 }, 't."ratio" = $1::real', String(Math.fround(0.1))],
      [{ ok: false }, 't."ok" = $1::boolean', 'false'],
      [{ at }, 't."at" = $1::timestamp with time zone', '2024-05-06T07:08:09.123Z'],
      [{ local: at }, 't."local" = $1::timestamp without time zone', '2024-05-06T07:08:09.123Z'],
      [{ day: '2024-02-29' }, 't."day" = $1::date', '2024-02-29'],
      [
        { ref: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' },
        't."ref" = $1::uuid',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      ],
      [{ code: 'ab' }, '(t."code"::text) = $1::text', 'ab'],
      [{ meta: { b: 1, a: [true] } }, `NULLIF(t."meta", 'null'::jsonb) = $1::jsonb`, '{"a":[true],"b":1}'],
      [{ raw: [1] }, `NULLIF(t."raw"::jsonb, 'null'::jsonb) = $1::jsonb`, '[1]'],
      [{ data: new Uint8Array([1, 255]) }, 't."data" = $1::bytea', Buffer.from([1, 255])],
    ];
    for (const [selector, where, param] of cases) {
      const query = compileQuery(items, selector);
      assert.equal(query.where, where);
      assert.deepEqual(query.params, [param]);
    }
  });

  it('compares each kind in memory like PostgreSQL', () => {
    const yes = (selector: Selector, doc: Row): void =>
      assert.equal(
        compileQuery(items, selector).matches({ id: 'x', ...doc }),
        true,
        JSON.stringify(selector),
      );
    const no = (selector: Selector, doc: Row): void =>
      assert.equal(
        compileQuery(items, selector).matches({ id: 'x', ...doc }),
        false,
        JSON.stringify(selector),
      );
    yes({ big: { $gt: '9007199254740992' } }, { big: '9007199254740993' });
    no({ big: { $gt: 9007199254740991 } }, { big: '-9007199254740993' });
    yes({ amount: '1.5' }, { amount: '1.50' });
    yes({ amount: { $gt: 'Infinity' } }, { amount: 'NaN' });
    yes({ amount: { $lt: '-0.001' } }, { amount: '-0.01' });
    yes({ score: Number.NaN }, { score: Number.NaN });
    yes({ score: { $gt: Infinity } }, { score: Number.NaN });
    yes({ score: 0 }, { score: -0 });
    yes({ ratio: 0.1 }, { ratio: 0.1 });
    no({ ratio: { $lt: 0.10000000001 } }, { ratio: 0.1 });
    yes({ ok: { $lt: true } }, { ok: false });
    yes({ at: new Date(5) }, { at: new Date(5) });
    yes({ day: { $lt: '2020-01-02' } }, { day: '2020-01-01' });
    yes({ code: 'ab' }, { code: 'ab  ' });
    yes({ meta: { a: 1, b: [1, { c: 2 }] } }, { meta: { b: [1, { c: 2 }], a: 1 } });
    no({ meta: [1, 2] }, { meta: [2, 1] });
    yes({ data: { $gt: new Uint8Array([1]) } }, { data: new Uint8Array([1, 0]) });
    yes(
      { ref: { $gt: '7fffffff-ffff-ffff-ffff-ffffffffffff' } },
      { ref: '80000000-0000-0000-0000-000000000000' },
    );
  });

  it('descends into json members with dotted paths; JSON null counts as absent', () => {
    check(
      { 'meta.color': 'red' },
      `NULLIF(t."meta" -> 'color'::text, 'null'::jsonb) = $1::jsonb`,
      ['"red"'],
      [{ id: 'x', meta: { color: 'red' } }],
      [absent, { id: 'x', meta: { color: 'blue' } }, { id: 'x', meta: ['red'] }],
    );
    check(
      { "meta.it's.x": null },
      `NULLIF(t."meta" -> 'it''s'::text -> 'x'::text, 'null'::jsonb) IS NULL`,
      [],
      [absent, { id: 'x', meta: { "it's": { x: null } } }, { id: 'x', meta: { "it's": 1 } }],
      [{ id: 'x', meta: { "it's": { x: 0 } } }],
    );
    check(
      { 'raw.a\\b': 1 },
      `NULLIF(t."raw"::jsonb -> E'a\\\\b'::text, 'null'::jsonb) = $1::jsonb`,
      ['1'],
      [],
      [],
    );
  });

  it('columns of kind other support presence only', () => {
    check({ tags: null }, 't."tags" IS NULL', [], [absent], [{ id: 'x', tags: ['a'] }]);
    check({ tags: { $in: [null] } }, 't."tags" IS NULL', [], [absent], [{ id: 'x', tags: [] }]);
    check({ tags: { $exists: true } }, 't."tags" IS NOT NULL', [], [{ id: 'x', tags: [] }], [absent]);
  });
});
