/**
 * Query keys (canonical identities used to share observers) and the snapshot statement.
 */
import assert from 'node:assert/strict';
import { compileQuery, selectStatement } from './compile.js';
import { items } from './fixtures/tables.js';

const key = (...args: Parameters<typeof compileQuery> extends [unknown, ...infer R] ? R : never): string =>
  compileQuery(items, ...args).key;

describe('query keys', () => {
  it('ignore key order in selectors, operator objects and json operands', () => {
    assert.equal(key({ title: 'a', n: 1 }), key({ n: 1, title: 'a' }));
    assert.equal(key({ n: { $lt: 5, $gt: 1 } }), key({ n: { $gt: 1, $lt: 5 } }));
    assert.equal(key({ meta: { a: 1, b: 2 } }), key({ meta: { b: 2, a: 1 } }));
    assert.equal(key({ $or: [{ n: 1, title: 'a' }] }), key({ $or: [{ title: 'a', n: 1 }] }));
  });

  it('canonicalize equivalent operand spellings, $in order and duplicates', () => {
    assert.equal(key({ big: 1 }), key({ big: '1' }));
    assert.equal(key({ big: 1n }), key({ big: '1' }));
    assert.equal(key({ amount: '1.50' }), key({ amount: 1.5 }));
    assert.equal(key({ title: { $in: ['b', 'a', 'b'] } }), key({ title: { $in: ['a', 'b'] } }));
    assert.equal(
      key({ ref: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' }),
      key({ ref: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }),
    );
    assert.equal(key({ at: new Date(1000) }), key({ at: new Date('1970-01-01T00:00:01Z') }));
    assert.equal(key({ data: new Uint8Array([1, 2]) }), key({ data: Buffer.from([1, 2]) }));
    assert.equal(key({ _id: 'k' }), key({ id: 'k' }));
    assert.equal(key({}, { limit: 0 }), key({}));
  });

  it('differ whenever the answer can differ', () => {
    const base = key({ title: 'a' }, { sort: { n: 1 }, limit: 10, skip: 2, fields: { title: 1 } });
    const variants = [
      key({ title: 'b' }, { sort: { n: 1 }, limit: 10, skip: 2, fields: { title: 1 } }),
      key({ title: 'a' }, { sort: { n: -1 }, limit: 10, skip: 2, fields: { title: 1 } }),
      key({ title: 'a' }, { sort: { n: 1 }, limit: 11, skip: 2, fields: { title: 1 } }),
      key({ title: 'a' }, { sort: { n: 1 }, limit: 10, skip: 3, fields: { title: 1 } }),
      key({ title: 'a' }, { sort: { n: 1 }, limit: 10, skip: 2, fields: { n: 1 } }),
      key({ title: 'a' }, { sort: { n: 1 }, limit: 10, skip: 2 }),
      key({ data: new Uint8Array([1]) }),
      key({ at: new Date(1) }),
    ];
    assert.equal(new Set([base, ...variants]).size, variants.length + 1);
    assert.notEqual(key({ data: new Uint8Array([1]) }), key({ data: new Uint8Array([2]) }));
    assert.notEqual(key({ at: new Date(1) }), key({ at: new Date(2) }));
    assert.notEqual(compileQuery(items, { n: 1 }).key, key({ small: 1 }));
  });
});

describe('selectStatement', () => {
  it('builds the snapshot query with LIMIT and OFFSET only when set', () => {
    const query = compileQuery(items, { n: 1 }, { sort: { n: -1 }, limit: 5, skip: 10 });
    assert.deepEqual(selectStatement(query, 'to_jsonb(t)'), {
      text: 'SELECT to_jsonb(t) FROM "public"."items" AS t WHERE t."n" = $1::integer ORDER BY t."n" DESC NULLS LAST, t."id" COLLATE "C" ASC LIMIT 5 OFFSET 10',
      values: ['1'],
    });
    assert.equal(
      selectStatement(compileQuery(items, {})).text,
      'SELECT t.* FROM "public"."items" AS t WHERE TRUE ORDER BY t."id" COLLATE "C" ASC',
    );
  });
});
