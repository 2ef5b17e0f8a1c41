/**
 * Selector, sort and option validation: every programming error in a publication's query throws a
 * ConfigurationError whose message names the table and the offending field.
 */
import assert from 'node:assert/strict';
import { ConfigurationError } from '../errors.js';
import { compileQuery, type QueryOptions, type Selector } from './compile.js';
import { items } from './fixtures/tables.js';

function rejects(selector: Selector, message: RegExp, options?: QueryOptions): void {
  assert.throws(
    () => compileQuery(items, selector, options),
    (error: unknown) => {
      assert.ok(error instanceof ConfigurationError, `expected ConfigurationError, got ${String(error)}`);
      assert.match(error.message, /^Invalid query on public\.items: /);
      assert.match(error.message, message);
      return true;
    },
  );
}

describe('query validation errors', () => {
  it('unknown columns and operators', () => {
    rejects({ nope: 1 }, /nope: unknown column/);
    rejects({ title: { $regex: 'a' } }, /title: unsupported operator \$regex/);
    rejects({ $where: 'x' }, /\$where: unsupported top-level operator/);
    rejects({ title: { $gt: 'a', b: 1 } }, /title: cannot mix operators and plain keys/);
    rejects({ 'title.x': 1 }, /title\.x: dotted paths are only supported into json\/jsonb columns, not text/);
    rejects({ 'meta..x': 1 }, /meta\.\.x: empty or invalid path segment/);
  });

  it('wrong operand types name the field, operator and expectation', () => {
    rejects({ title: new Date() }, /title: equality expects a string \(text column title\)/);
    rejects({ title: 3 }, /title: equality expects a string/);
    rejects({ n: { $in: 'a' } }, /n: \$in expects an array/);
    rejects({ n: { $in: [1, 'a'] } }, /n: \$in expects an integer/);
    rejects({ n: 1.5 }, /n: equality expects an integer/);
    rejects({ small: 40000 }, /small: equality expects an integer within smallint range/);
    rejects({ big: '9223372036854775808' }, /big: equality expects an integer within bigint range/);
    rejects({ big: 1.5 }, /big: equality expects an integer/);
    rejects({ amount: 'abc' }, /amount: equality expects a decimal string/);
    rejects({ score: '1' }, /score: equality expects a number/);
    rejects({ at: '2020-01-01' }, /at: equality expects a valid Date/);
    rejects({ at: new Date(Number.NaN) }, /at: equality expects a valid Date/);
    rejects({ day: new Date() }, /day: equality expects a 'YYYY-MM-DD' string/);
    rejects({ day: '2021-02-29' }, /day: equality expects a 'YYYY-MM-DD' string/);
    rejects({ ref: 'x' }, /ref: equality expects a UUID string/);
    rejects({ data: [1] }, /data: equality expects a Uint8Array/);
    rejects({ meta: new Date() }, /meta: equality expects a JSON value/);
    rejects({ title: 'a\0' }, /title: equality cannot contain NUL/);
    rejects({ n: { $gt: undefined } }, /n: \$gt operand is undefined/);
    rejects({ n: { $exists: 'yes' } }, /n: \$exists expects a boolean/);
    rejects({ n: { $not: 3 } }, /n: \$not expects an operator object/);
    rejects({ n: { $gt: null } }, /n: \$gt does not accept null/);
    rejects({ tags: { $gt: 1 } }, /tags: \$gt is not supported on columns of kind other/);
  });

  it('ordering operators are refused on json, json paths, bool-like opaque columns', () => {
    rejects({ meta: { $gt: 1 } }, /meta: \$gt is not supported on columns of kind json/);
    rejects({ 'meta.x': { $lt: 1 } }, /meta\.x: \$lt is not supported on json paths/);
    rejects(
      { tags: ['a'] },
      /tags: equality is not supported on this column \(only null, \$exists and \$ne: null are\)/,
    );
    rejects({ tags: { $in: [['a']] } }, /tags: \$in is not supported/);
  });

  it('logical operators need non-empty arrays of selectors', () => {
    rejects({ $or: [] }, /\$or: expects a non-empty array/);
    rejects({ $and: {} }, /\$and: expects a non-empty array/);
    rejects({ $nor: [1] }, /\$nor\.0: a selector must be a plain object/);
  });

  it('sort, limit, skip and fields', () => {
    rejects({}, /meta: cannot sort on columns of kind json/, { sort: { meta: 1 } });
    rejects({}, /tags: cannot sort on columns of kind other/, { sort: [['tags', 'asc']] });
    rejects({}, /nope: unknown column/, { sort: { nope: -1 } });
    rejects({}, /n: sort direction must be/, { sort: [['n', 'up' as 'asc']] });
    rejects({}, /n: sorted on twice/, {
      sort: [
        ['n', 'asc'],
        ['n', 'desc'],
      ],
    });
    rejects({}, /limit must be a non-negative integer, got -1/, { limit: -1 });
    rejects({}, /skip must be a non-negative integer, got 1.5/, { skip: 1.5 });
    rejects({}, /fields: cannot mix inclusion and exclusion/, { fields: { title: 1, n: 0 } });
    rejects({}, /nope: unknown column/, { fields: { nope: 1 } });
    rejects({}, /meta\.x: fields cannot project into json paths/, { fields: { 'meta.x': 1 } });
  });
});
