/**
 * Remembered compiled queries: the same plain selector and options give the very same compiled query (compiled
 * once); values JSON would confuse (a Date and its ISO text, -0 and 0) are compiled each time and give
 * each its own answer; invalid queries throw every time.
 */
import assert from 'node:assert/strict';
import { compileQuery } from './compile.js';
import { compiledQuery, MAX_REMEMBERED_KEY_LENGTH, MAX_REMEMBERED_QUERIES } from './compile-cache.js';
import { items } from './fixtures/tables.js';

describe('compiledQuery', () => {
  it('compiles a plain selector and options once', () => {
    const first = compiledQuery(items, { title: 'a', n: { $gt: 1 } }, { sort: { n: -1 }, limit: 5 });
    const again = compiledQuery(items, { title: 'a', n: { $gt: 1 } }, { sort: { n: -1 }, limit: 5 });
    assert.equal(again, first, 'the remembered object');
    assert.equal(
      first.key,
      compileQuery(items, { title: 'a', n: { $gt: 1 } }, { sort: { n: -1 }, limit: 5 }).key,
    );
    assert.notEqual(
      compiledQuery(items, { title: 'b', n: { $gt: 1 } }, { sort: { n: -1 }, limit: 5 }),
      first,
    );
    assert.notEqual(
      compiledQuery(items, { title: 'a', n: { $gt: 1 } }, { sort: { n: -1 }, limit: 6 }),
      first,
    );
    assert.equal(compiledQuery(items, {}), compiledQuery(items, {}, {}));
  });

  it('compiles values JSON would confuse every time, each afresh', () => {
    const at = new Date(1000);
    const byDate = compiledQuery(items, { at });
    assert.notEqual(compiledQuery(items, { at: new Date(1000) }), byDate, 'a Date is not remembered');
    assert.equal(byDate.key, compileQuery(items, { at: new Date(1000) }).key);
    assert.notEqual(compiledQuery(items, { n: -0 }), compiledQuery(items, { n: -0 }), '-0 is not remembered');
  });

  it('throws for an invalid query every time', () => {
    assert.throws(() => compiledQuery(items, { nope: 1 }), /nope/);
    assert.throws(() => compiledQuery(items, { nope: 1 }), /nope/);
  });

  it(`forgets a table's queries past ${MAX_REMEMBERED_QUERIES} and remembers again`, () => {
    const first = compiledQuery(items, { n: -1 });
    for (let n = 0; n < MAX_REMEMBERED_QUERIES; n++) compiledQuery(items, { n });
    const later = compiledQuery(items, { n: -1 });
    assert.notEqual(later, first, 'forgotten');
    assert.equal(compiledQuery(items, { n: -1 }), later, 'remembered again');
  });

  it(`compiles a query whose JSON is longer than ${MAX_REMEMBERED_KEY_LENGTH} characters every time`, () => {
    const many = { n: { $in: Array.from({ length: MAX_REMEMBERED_KEY_LENGTH }, (_, i) => i) } };
    assert.notEqual(compiledQuery(items, many), compiledQuery(items, many), 'a long key is not remembered');
    const few = { n: { $in: [1, 2, 3] } };
    assert.equal(compiledQuery(items, few), compiledQuery(items, few));
  });
});
