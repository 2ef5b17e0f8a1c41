/**
 * Sort specifications: validation, the SQL ORDER BY list and the in-memory comparator, which agree exactly.
 * Mongo's null order: ascending puts absent (NULL) values first, descending puts them last. The primary key
 * always ends the order (ascending) so that the order is total and `skip`/`limit` windows are deterministic; a
 * spec that already sorts by the key stops there, since nothing after a unique column can matter.
 */
import type { Row, TableInfo } from '../database/table-info.js';
import { type Field, queryError, resolveField } from './selector.js';

/**
 * A sort specification: `{ title: 1, createdAt: -1 }` (insertion order) or `[['title', 'asc'], ['n', 'desc']]`.
 * Fields are column names or `_id`; json columns and columns of kind `other` cannot be sorted on.
 */
export type SortSpec =
  | Readonly<Record<string, 1 | -1>>
  | ReadonlyArray<readonly [field: string, direction: 'asc' | 'desc']>;

/** One validated sort key. */
export interface SortKey {
  readonly field: Field;
  readonly descending: boolean;
}

/** Validates `spec` (undefined: no sort) into keys ending with the primary key. */
export function parseSort(table: TableInfo, spec: SortSpec | undefined): readonly SortKey[] {
  let entries: Array<readonly [string, unknown]> = [];
  if (Array.isArray(spec)) entries = spec.map((entry: unknown) => parseArrayEntry(table, entry));
  else if (spec !== undefined) entries = Object.entries(spec);
  const keys: SortKey[] = [];
  const seen = new Set<string>();
  for (const [name, direction] of entries) {
    const field = resolveField(table, name);
    if (field.path.length > 0 || !field.type.orderable) {
      const what = field.path.length > 0 ? 'json paths' : `columns of kind ${field.column.kind}`;
      queryError(table, name, `cannot sort on ${what}`);
    }
    if (seen.has(field.column.name)) queryError(table, name, 'sorted on twice');
    seen.add(field.column.name);
    let descending: boolean;
    if (direction === 1 || direction === 'asc') descending = false;
    else if (direction === -1 || direction === 'desc') descending = true;
    else return queryError(table, name, "sort direction must be 1, -1, 'asc' or 'desc'");
    keys.push({ field, descending });
    if (field.column === table.key) return keys;
  }
  const key = resolveField(table, table.key.name);
  if (!key.type.orderable)
    queryError(table, key.name, `a primary key of kind ${key.column.kind} cannot be ordered`);
  keys.push({ field: key, descending: false });
  return keys;
}

function parseArrayEntry(table: TableInfo, entry: unknown): readonly [string, unknown] {
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') {
    return queryError(table, 'sort', "array entries must be [field, 'asc' | 'desc']");
  }
  return [entry[0], entry[1]];
}

/** The ORDER BY list (without the keywords) for `keys` over alias `t`. */
export function orderBySql(table: TableInfo, keys: readonly SortKey[]): string {
  return keys
    .map(({ field, descending }) => {
      const direction = descending ? 'DESC' : 'ASC';
      if (field.column === table.key) return `${field.type.orderSql} ${direction}`;
      return `${field.type.orderSql} ${direction} ${descending ? 'NULLS LAST' : 'NULLS FIRST'}`;
    })
    .join(', ');
}

/** An in-memory comparator on documents. */
export type Comparator = (a: Row, b: Row) => number;

/** The comparator giving exactly the order of `orderBySql(table, keys)`. */
export function compileComparator(keys: readonly SortKey[]): Comparator {
  return (a, b) => {
    for (const { field, descending } of keys) {
      const x = field.type.read(a);
      const y = field.type.read(b);
      let order: number;
      if (x === undefined) order = y === undefined ? 0 : -1;
      else if (y === undefined) order = 1;
      else order = field.type.compare(x, y);
      if (order !== 0) return descending ? -order : order;
    }
    return 0;
  };
}
