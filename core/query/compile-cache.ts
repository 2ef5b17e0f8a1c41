/**
 * Compiled queries, remembered: every subscription of a publication asks its observer pool for the observer of its
 * cursor, and finding it takes the cursor's compiled query (its key). A reconnect storm compiles the same query once
 * per client: parsing the selector and the sort, resolving fields and writing the SQL was about 8% of the server's
 * CPU per client of `bench/reconnect-storm.ts`. Compiled queries are immutable, so one serves every cursor with the
 * same table, selector and options.
 *
 * Only plain JSON is remembered (strings, finite numbers, booleans, null, arrays and plain objects), keyed by its
 * JSON text, which tells such values apart exactly. A selector with anything else (a Date, a RegExp, a Buffer, a
 * bigint, `undefined`, -0) is compiled every time: JSON would confuse it with another value. Invalid queries throw
 * every time and are not remembered.
 */
import type { TableInfo } from '../database/table-info.js';
import { type CompiledQuery, compileQuery, type QueryOptions, type Selector } from './compile.js';

/** Remembered queries per table at most; past it the table's are forgotten and remembering starts over. */
export const MAX_REMEMBERED_QUERIES = 1000;

/** Longest selector-and-options JSON text remembered, in characters. */
export const MAX_REMEMBERED_KEY_LENGTH = 4096;

/** Compiled queries per table (a table re-introspected is a new object: its queries go with the old one). */
const remembered = new WeakMap<TableInfo, Map<string, CompiledQuery>>();

/** {@link compileQuery}, remembered for plain-JSON selectors and options (see the module header). */
export function compiledQuery(
  table: TableInfo,
  selector: Selector,
  options: QueryOptions = {},
): CompiledQuery {
  if (!isPlainJson(selector) || !isPlainJson(options)) return compileQuery(table, selector, options);
  const text = JSON.stringify([selector, options]);
  // A long key (a large `$in` list, say) is rarely shared and would make the cache's size unbounded in bytes.
  if (text.length > MAX_REMEMBERED_KEY_LENGTH) return compileQuery(table, selector, options);
  let queries = remembered.get(table);
  const known = queries?.get(text);
  if (known !== undefined) return known;
  const query = compileQuery(table, selector, options);
  if (queries === undefined || queries.size >= MAX_REMEMBERED_QUERIES) {
    queries = new Map();
    remembered.set(table, queries);
  }
  queries.set(text, query);
  return query;
}

/** True if `value` is JSON whose text tells it apart from every other value (see the module header). */
function isPlainJson(value: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key of Object.keys(value)) {
        if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
