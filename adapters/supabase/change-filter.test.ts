/**
 * postgres_changes filters (no sockets): Supabase's parsing (commas, `not.`, quotes, `in` lists, its error texts)
 * and each operator on each kind of column, NULLs failing as in SQL.
 */
import assert from 'node:assert/strict';
import type { ColumnInfo, ColumnKind, TableInfo } from '../../core/database/table-info.js';
import { compileFilter, parseFilter, unknownFilterColumn } from './change-filter.js';

function table(columns: Record<string, ColumnKind>): TableInfo {
  const map = new Map<string, ColumnInfo>(
    Object.entries(columns).map(([name, kind]) => [name, { name, kind, pgType: kind }]),
  );
  return {
    schema: 'public',
    name: 't',
    qualifiedName: 'public.t',
    key: map.get('id') as ColumnInfo,
    columns: map,
  };
}

const t = table({
  id: 'int',
  title: 'text',
  big: 'bigint',
  price: 'numeric',
  done: 'bool',
  at: 'timestamptz',
  day: 'date',
});

function passes(filter: string, row: Record<string, unknown>): boolean {
  const conditions = parseFilter(filter);
  if (typeof conditions === 'string') throw new Error(conditions);
  return compileFilter(t, conditions)(row);
}

describe('supabase: postgres_changes filters', () => {
  it('parses as Supabase does, with its error texts', () => {
    assert.deepEqual(parseFilter('   '), []);
    assert.deepEqual(parseFilter('id=eq.1'), [{ column: 'id', operator: 'eq', value: '1', negate: false }]);
    assert.deepEqual(parseFilter('title=not.in.(a,"b,c")'), [
      { column: 'title', operator: 'in', value: ['a', 'b,c'], negate: true },
    ]);
    assert.deepEqual(parseFilter('title=eq."x,y",id=gt.0').length, 2);
    assert.equal(parseFilter('subject=foo.hey'), 'Error parsing `filter` params: ["foo","hey"]');
    assert.equal(parseFilter('undefined'), 'Error parsing `filter` params: ["undefined"]');
    assert.equal(
      parseFilter('id=in.1,2'),
      'Error parsing `filter` params: `in` filter value must be wrapped by parentheses',
    );
    assert.equal(
      parseFilter('id=eq.1,,id=eq.2'),
      'Error parsing `filter` params: filter must not contain empty segments (check for extra commas)',
    );
    assert.match(String(parseFilter('title=like.%a%')), /operator `like` is not supported/);
    assert.equal(unknownFilterColumn(t, parseFilter('nope=eq.1') as never), 'nope');
  });

  it('compares numbers numerically, bigint and numeric exactly', () => {
    assert.ok(passes('id=gt.9', { id: 10 }));
    assert.ok(!passes('id=lt.9', { id: 10 }));
    assert.ok(passes('big=eq.9007199254740993', { big: '9007199254740993' }));
    assert.ok(!passes('big=eq.9007199254740992', { big: '9007199254740993' }));
    assert.ok(passes('price=gte.12.5', { price: '12.50' }));
    assert.ok(passes('id=in.(1,2,3)', { id: 2 }) && !passes('id=in.(1,3)', { id: 2 }));
    assert.ok(!passes('id=eq.x', { id: 1 }), 'not comparable: nothing passes');
  });

  it('compares booleans, instants and text', () => {
    assert.ok(passes('done=eq.true', { done: true }) && !passes('done=eq.t', { done: false }));
    assert.ok(passes('at=gt.2024-01-01T00:00:00Z', { at: '2024-05-06T07:08:09.123+00:00' }));
    assert.ok(passes('at=eq.2024-05-06 09:08:09.123+02', { at: '2024-05-06T07:08:09.123+00:00' }));
    assert.ok(passes('day=lt.2024-02-01', { day: '2024-01-31' }));
    assert.ok(passes('title=lt.b', { title: 'a' }) && passes('title=neq.b', { title: 'a' }));
    assert.ok(
      passes('title=eq.a,id=eq.1', { title: 'a', id: 1 }) &&
        !passes('title=eq.a,id=eq.2', { title: 'a', id: 1 }),
    );
  });

  it('fails NULLs but for is.null, and negates', () => {
    assert.ok(!passes('title=neq.a', { title: null }));
    assert.ok(!passes('title=eq.a', {}));
    assert.ok(passes('title=is.null', {}) && !passes('title=not.is.null', {}));
    assert.ok(passes('title=not.eq.a', { title: 'b' }) && !passes('title=not.eq.a', { title: 'a' }));
  });
});
