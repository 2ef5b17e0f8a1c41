/**
 * Sorting: the ORDER BY list (null placement, C collation, key tie-break) and the comparator agreeing with it.
 */
import assert from 'node:assert/strict';
import type { Row } from '../database/table-info.js';
import { compileQuery } from './compile.js';
import { items, tableInfo } from './fixtures/tables.js';

describe('query sort', () => {
  it('without a sort, orders by the key in C collation', () => {
    assert.equal(compileQuery(items, {}).orderBy, 't."id" COLLATE "C" ASC');
  });

  it('puts absent first ascending, last descending, and always ends with the key', () => {
    const query = compileQuery(items, {}, { sort: { title: 1, n: -1 } });
    assert.equal(
      query.orderBy,
      't."title" COLLATE "C" ASC NULLS FIRST, t."n" DESC NULLS LAST, t."id" COLLATE "C" ASC',
    );
    const docs: Row[] = [
      { id: 'c', title: 'b', n: 1 },
      { id: 'b', title: 'b' },
      { id: 'a', title: 'b' },
      { id: 'd', n: 5 },
      { id: 'e', title: 'b', n: 2 },
    ];
    assert.deepEqual(
      docs.sort(query.compare).map((doc) => doc.id),
      ['d', 'e', 'c', 'a', 'b'],
    );
  });

  it('accepts the array form and stops at the key', () => {
    const query = compileQuery(
      items,
      {},
      {
        sort: [
          ['_id', 'desc'],
          ['n', 'asc'],
        ],
      },
    );
    assert.equal(query.orderBy, 't."id" COLLATE "C" DESC');
  });

  it('uses code point order for text, also for astral characters', () => {
    const query = compileQuery(items, {}, { sort: { title: 1 } });
    const docs: Row[] = ['😀', '\uFFFD', 'z', '\uE000', 'Z', ''].map((title, i) => ({
      id: String(i),
      title,
    }));
    assert.deepEqual(
      docs.sort(query.compare).map((doc) => doc.title),
      ['', 'Z', 'z', '\uE000', '\uFFFD', '😀'],
    );
  });

  it('orders a numeric key numerically, without COLLATE', () => {
    const table = tableInfo('nums', [
      ['id', 'bigint', 'bigint'],
      ['score', 'float', 'double precision'],
    ]);
    const query = compileQuery(table, {}, { sort: { score: -1 } });
    assert.equal(query.orderBy, 't."score" DESC NULLS LAST, t."id" ASC');
    const docs: Row[] = [
      { id: '10', score: 1 },
      { id: '9', score: 1 },
      { id: '-1', score: Number.NaN },
      { id: '2' },
      { id: '3', score: Infinity },
    ];
    assert.deepEqual(
      docs.sort(query.compare).map((doc) => doc.id),
      ['-1', '3', '9', '10', '2'],
    );
  });
});
