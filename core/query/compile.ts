/**
 * The live-query compiler: one cursor description (table, selector, sort, limit, skip, fields) becomes SQL for
 * the snapshot and re-query, plus an in-memory predicate, comparator and projection that give exactly the same
 * answers on the in-memory document form (core/database/table-info.ts), so that a change notification carrying
 * the new row is matched without a query. DESIGN.md decision 6.
 *
 * Semantics shared by SQL and memory (absent field ⇔ SQL NULL; documents omit NULL columns):
 *
 * | selector                 | SQL                                          | memory                          |
 * |--------------------------|----------------------------------------------|---------------------------------|
 * | `{f: v}`, `{f: {$eq: v}}`| `f = $1::T`                                  | present and equal               |
 * | `{f: null}`              | `f IS NULL`                                  | absent                          |
 * | `{f: {$ne: v}}`          | `f IS DISTINCT FROM $1::T`                   | absent or not equal             |
 * | `{f: {$ne: null}}`       | `f IS NOT NULL`                              | present                         |
 * | `$gt/$gte/$lt/$lte: v`   | `f > $1::T` (text: `f COLLATE "C" > …`)      | present and ordered (never absent) |
 * | `$in: [null, a, b]`      | `(f IS NULL OR f = ANY($1::T[]))`            | absent, or equal to one         |
 * | `$nin: [a, b]`           | `(f IS NULL OR NOT (f = ANY($1::T[])))`      | not what `$in` matches          |
 * | `$exists: true/false`    | `IS NOT NULL` / `IS NULL`                    | present / absent                |
 * | `$and/$or`               | `AND` / `OR`                                 | every / some                    |
 * | `$nor`, `$not`           | `NOT COALESCE(…, FALSE)`                     | negation                        |
 *
 * Equality and order per column kind (T is the column type without typmod, so casts never round or truncate):
 * - text: code-point order = UTF-8 byte order = `COLLATE "C"`; equality is exact. character(n) and citext compare
 *   through `::text` (padding dropped, case kept).
 * - int: numbers; bigint and numeric: decimal strings compared numerically (`1.50` = `1.5`), `NaN` above
 *   `Infinity`; operands may be decimal strings, numbers or bigints.
 * - float: NaN = NaN and NaN above +Infinity, -0 = 0; `real` values are rounded to float4 on both sides.
 * - timestamptz/timestamp: `getTime()` (operands: Date, bound as ISO strings); date: 'YYYY-MM-DD' string order.
 * - bool: false < true; uuid: lowercase string order (= PostgreSQL's byte order); bytea: memcmp then length.
 * - json/jsonb: equality only, as `jsonb =` (key order irrelevant); a JSON null counts as absent; dotted paths
 *   (`meta.color`) descend through object members only.
 * - Sort: ASC puts absent first, DESC puts absent last; ties always broken by the primary key ascending.
 */
import type { Row, TableInfo } from '../database/table-info.js';
import { ConfigurationError } from '../errors.js';
import { compileMatcher } from './matcher.js';
import { type FieldsSpec, parseProjection } from './projection.js';
import { parseSelector, type Selector } from './selector.js';
import { compileComparator, orderBySql, parseSort, type SortSpec } from './sort.js';
import { compileSql, type SqlParam } from './sql.js';

export type { FieldsSpec } from './projection.js';
export type { Selector } from './selector.js';
export type { SortSpec } from './sort.js';
export type { SqlParam } from './sql.js';

/** Cursor options beside the selector. */
export interface QueryOptions {
  readonly sort?: SortSpec | undefined;
  /** Maximum number of documents; 0 or undefined means no limit (Mongo). */
  readonly limit?: number | undefined;
  /** Documents to skip after sorting; default 0. */
  readonly skip?: number | undefined;
  readonly fields?: FieldsSpec | undefined;
}

/** A compiled cursor: SQL and in-memory forms that agree (see the module header for the semantics). */
export interface CompiledQuery {
  readonly table: TableInfo;
  /**
   * Canonical identity: queries on the same table with the same selector semantics (up to key order, `$in`
   * operand order and equivalent operand spellings such as `1`, `1n` and `'1'` on a bigint column), sort,
   * limit, skip and fields have equal keys. Used to share one observer across sessions.
   */
  readonly key: string;
  /** SQL boolean expression over alias `t`; `TRUE` for the empty selector. */
  readonly where: string;
  /** ORDER BY list without the keywords, always ending with the primary key. */
  readonly orderBy: string;
  readonly limit: number | undefined;
  readonly skip: number;
  /** Values for `$1..$n` of `where`: text in the input syntax of each cast, Buffers for bytea. */
  readonly params: readonly SqlParam[];
  /** Whether `doc` satisfies the selector; agrees with `where`. */
  matches(doc: Row): boolean;
  /** Order of `orderBy`, tie-break included: negative when `a` comes first. */
  compare(a: Row, b: Row): number;
  /** Applies `fields`; never removes the key column. May return `doc` itself when nothing is projected away. */
  project(doc: Row): Row;
  /** Columns the projection keeps, the key included; undefined when all are kept. */
  readonly projectedColumns: ReadonlySet<string> | undefined;
}

function count(table: TableInfo, name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError(
      `Invalid query on ${table.qualifiedName}: ${name} must be a non-negative integer, got ${String(value)}`,
    );
  }
  return value;
}

function paramKey(param: SqlParam): string | null {
  return typeof param === 'string' || param === null ? param : `\\x${param.toString('hex')}`;
}

/**
 * Compiles a cursor on `table`. Throws {@link ConfigurationError} (message naming the table and field) for an
 * unknown column, unknown or unsupported operator, or an operand of the wrong type for its column.
 */
export function compileQuery(
  table: TableInfo,
  selector: Selector,
  options: QueryOptions = {},
): CompiledQuery {
  const predicate = parseSelector(table, selector);
  const { where, params } = compileSql(predicate);
  const sortKeys = parseSort(table, options.sort);
  const orderBy = orderBySql(table, sortKeys);
  const limit = count(table, 'limit', options.limit) || undefined;
  const skip = count(table, 'skip', options.skip);
  const projection = parseProjection(table, options.fields);
  const projectedColumns = projection.columns;
  const key = JSON.stringify([
    table.qualifiedName,
    where,
    params.map(paramKey),
    orderBy,
    limit ?? null,
    skip,
    projectedColumns ? [...projectedColumns].sort() : null,
  ]);
  return {
    table,
    key,
    where,
    orderBy,
    limit,
    skip,
    params,
    matches: compileMatcher(predicate),
    compare: compileComparator(sortKeys),
    project: projection.project,
    projectedColumns,
  };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A ready-to-run statement for `pg`'s `client.query(text, values)`. */
export interface SqlStatement {
  readonly text: string;
  readonly values: SqlParam[];
}

/**
 * The snapshot/re-query statement of `query`: `SELECT <select> FROM "schema"."table" AS t WHERE … ORDER BY …
 * [LIMIT n] [OFFSET m]`. `select` is an expression list over alias `t` (default `t.*`), e.g. `to_jsonb(t)`.
 */
export function selectStatement(query: CompiledQuery, select = 't.*'): SqlStatement {
  const from = `${quoteIdentifier(query.table.schema)}.${quoteIdentifier(query.table.name)}`;
  let text = `SELECT ${select} FROM ${from} AS t WHERE ${query.where} ORDER BY ${query.orderBy}`;
  if (query.limit !== undefined) text += ` LIMIT ${query.limit}`;
  if (query.skip > 0) text += ` OFFSET ${query.skip}`;
  return { text, values: [...query.params] };
}
