/**
 * postgres_changes filters (no sockets): Supabase's parsing (commas, `not.`, quotes, `in` lists, its error texts),
 * the checks its subscription_check_filters makes (with its exception texts) and each operator on each kind of
 * column, NULLs failing as in SQL.
 */
import assert from 'node:assert/strict';
import type { ColumnInfo, ColumnKind, TableInfo } from '../../core/database/table-info.js';
import { compileFilter, filterProblem, parseFilter } from './change-filter.js';

function table(columns: Record<string, [ColumnKind, string]>): TableInfo {
  const map = new Map<string, ColumnInfo>(
    Object.entries(columns).map(([name, [kind, pgType]]) => [name, { name, kind, pgType }]),
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
  id: ['int', 'integer'],
  title: ['text', 'text'],
  code: ['text', 'character varying(8)'],
  big: ['bigint', 'bigint'],
  price: ['numeric', 'numeric(10,2)'],
  done: ['bool', 'boolean'],
  at: ['timestamptz', 'timestamp with time zone'],
  day: ['date', 'date'],
});

function problem(filter: string): string | undefined {
  const conditions = parseFilter(filter);
  if (typeof conditions === 'string') throw new Error(conditions);
  return filterProblem(t, conditions);
}

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
    assert.equal(parseFilter('subject=foo.hey'), 'Error parsing `filter` params: ["foo", "hey"]');
    assert.equal(parseFilter('subject=eq'), 'Error parsing `filter` params: ["eq"]');
    assert.equal(parseFilter('undefined'), 'Error parsing `filter` params: ["undefined"]');
    assert.equal(
      parseFilter('id=in.1,2'),
      'Error parsing `filter` params: `in` filter value must be wrapped by parentheses',
    );
    assert.equal(
      parseFilter('id=eq.1,,id=eq.2'),
      'Error parsing `filter` params: filter must not contain empty segments (check for extra commas)',
    );
    assert.deepEqual(parseFilter('title=not.like.%a%'), [
      { column: 'title', operator: 'like', value: '%a%', negate: true },
    ]);
  });

  it("refuses what Supabase's subscription check refuses, with its exception texts", () => {
    assert.equal(problem('nope=eq.1'), 'invalid column for filter nope');
    assert.equal(
      problem('id=is.maybe'),
      'invalid value for is filter: must be null, true, false, or unknown',
    );
    assert.equal(
      problem('done=is.TRUE'),
      'invalid value for is filter: must be null, true, false, or unknown',
    );
    assert.equal(problem('id=is.true'), 'is true filter requires a boolean column, got integer');
    assert.equal(problem('id=like.1%'), 'operator like requires a text-compatible column type, got integer');
    assert.equal(
      problem('code=ilike.a%'),
      'operator ilike requires a text-compatible column type, got character varying',
    );
    assert.equal(
      problem('at=match.^2'),
      'operator match requires a text-compatible column type, got timestamp with time zone',
    );
    assert.match(String(problem('title=imatch.(a')), /^invalid regular expression for imatch filter: /);
    assert.equal(problem('id=eq.abc'), 'invalid input syntax for type integer: "abc"');
    assert.equal(problem('id=in.(1,x)'), 'invalid input syntax for type integer: "x"');
    assert.equal(problem('id=gt.3000000000'), 'value "3000000000" is out of range for type integer');
    assert.equal(problem('big=lt.1.5'), 'invalid input syntax for type bigint: "1.5"');
    assert.equal(problem('price=isdistinct.cheap'), 'invalid input syntax for type numeric: "cheap"');
    assert.equal(problem('done=eq.maybe'), 'invalid input syntax for type boolean: "maybe"');
    assert.equal(
      problem('at=gte.yesterday-ish'),
      'invalid input syntax for type timestamp with time zone: "yesterday-ish"',
    );
    assert.equal(problem('title=eq.anything'), undefined);
    const many = Array.from({ length: 101 }, (_, i) => i).join(',');
    assert.equal(problem(`id=in.(${many})`), 'too many values for `in` filter. Maximum 100');
    for (const ok of [
      'done=is.true',
      'done=not.is.unknown',
      'id=is.null',
      'title=like.a%',
      'title=match.^a',
      'id=isdistinct.1',
    ])
      assert.equal(problem(ok), undefined, ok);
  });

  it('compares numbers numerically, bigint and numeric exactly', () => {
    assert.ok(passes('id=gt.9', { id: 10 }));
    assert.ok(!passes('id=lt.9', { id: 10 }));
    assert.ok(passes('big=eq.9007199254740993', { big: '9007199254740993' }));
    assert.ok(!passes('big=eq.9007199254740992', { big: '9007199254740993' }));
    assert.ok(passes('price=gte.12.5', { price: '12.50' }));
    assert.ok(passes('id=in.(1,2,3)', { id: 2 }) && !passes('id=in.(1,3)', { id: 2 }));
    assert.ok(!passes('id=eq.x', { id: 1 }), 'not comparable (refused at the join): nothing passes');
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

  it('like and ilike: SQL patterns over the whole value, escapes, case', () => {
    assert.ok(passes('title=like.a%', { title: 'abc' }) && !passes('title=like.a%', { title: 'Abc' }));
    assert.ok(passes('title=ilike.a%', { title: 'Abc' }));
    assert.ok(passes('title=like.a_c', { title: 'a\nc' }) && !passes('title=like.a_c', { title: 'abbc' }));
    assert.ok(passes('title=like.%.%', { title: 'x.y' }) && !passes('title=like.%.%', { title: 'xy' }));
    assert.ok(
      passes('title=like.100\\%', { title: '100%' }) && !passes('title=like.100\\%', { title: '1000' }),
    );
    assert.ok(!passes('title=like.a\\', { title: 'a\\' }), 'a trailing escape is an error: nothing passes');
    assert.ok(passes('title=like."a,b%"', { title: 'a,bc' }));
    assert.ok(passes('title=not.like.a%', { title: 'b' }) && !passes('title=not.like.a%', { title: null }));
  });

  it('match and imatch search with a regular expression', () => {
    assert.ok(passes('title=match.b+', { title: 'abbc' }) && !passes('title=match.^b', { title: 'abc' }));
    assert.ok(passes('title=imatch.^A', { title: 'abc' }) && !passes('title=match.^A', { title: 'abc' }));
    assert.ok(passes('title=not.match.^b', { title: 'abc' }) && !passes('title=not.match.^b', {}));
  });

  it('is (null, true, false, unknown) and isdistinct are NULL-safe', () => {
    assert.ok(passes('done=is.true', { done: true }) && !passes('done=is.true', { done: null }));
    assert.ok(passes('done=not.is.true', { done: null }) && passes('done=not.is.true', { done: false }));
    assert.ok(passes('done=is.unknown', {}) && !passes('done=is.unknown', { done: false }));
    assert.ok(passes('id=isdistinct.1', { id: 2 }) && !passes('id=isdistinct.1', { id: 1 }));
    assert.ok(passes('id=isdistinct.1', { id: null }) && !passes('id=not.isdistinct.1', { id: null }));
    assert.ok(passes('id=not.isdistinct.1', { id: 1 }));
  });

  it('fails NULLs but for is.null, and negates', () => {
    assert.ok(!passes('title=neq.a', { title: null }));
    assert.ok(!passes('title=eq.a', {}));
    assert.ok(passes('title=is.null', {}) && !passes('title=not.is.null', {}));
    assert.ok(passes('title=not.eq.a', { title: 'b' }) && !passes('title=not.eq.a', { title: 'a' }));
  });
});
