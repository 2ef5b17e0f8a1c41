/**
 * Mongo-style selectors: their public types and their validation into a small predicate tree ({@link Predicate})
 * that the SQL compiler (sql.ts) and the in-memory matcher (matcher.ts) both translate, node for node.
 *
 * Parsing is canonical: object keys (fields, operators) are visited in code-point order and `$in` operands are
 * sorted and deduplicated, so selectors that differ only in key order produce identical trees, identical SQL and
 * identical query keys. Every problem throws a {@link ConfigurationError} naming the table and the field: a bad
 * selector is a programming error in a publication.
 */
import type { ColumnInfo, TableInfo } from '../database/table-info.js';
import { ConfigurationError } from '../errors.js';
import { compareCodePoints, isPlainObject } from './compare.js';
import { columnFieldType, type FieldType, jsonPathFieldType, type Operand } from './field-type.js';

/**
 * A selector: `{ title: 'x', n: { $gt: 3 }, $or: [...] }`. Field names are column names, `_id` (the primary-key
 * column) or `jsonColumn.member.member`; values are in-memory values as documented in table-info.ts.
 */
export type Selector = Readonly<Record<string, unknown>>;

/** A resolved selector or sort field. */
export interface Field {
  /** The name as written by the caller, for error messages. */
  readonly name: string;
  readonly column: ColumnInfo;
  /** Member path inside a json column; empty for the column itself. */
  readonly path: readonly string[];
  readonly type: FieldType;
}

/** Ordering operators and their SQL spelling. */
export type RangeOperator = '<' | '<=' | '>' | '>=';

/**
 * The validated predicate tree. Each node has one meaning in both worlds, with "absent" ⇔ SQL NULL:
 * - `true`: always.
 * - `and`/`or`: conjunction/disjunction of `items` (at least two).
 * - `not`: negation, where a SQL NULL inside counts as false (compiled `NOT COALESCE(…, FALSE)`).
 * - `absent`: field absent (`present: false`, `IS NULL`) or present (`IS NOT NULL`).
 * - `eq`: present and equal; `ne`: absent or not equal (`IS DISTINCT FROM`).
 * - `range`: present and ordered as `op` against the operand.
 * - `in`: absent and `withNull`, or present and equal to one of `operands`; `nin`: the negation of `in`.
 */
export type Predicate =
  | { readonly type: 'true' }
  | { readonly type: 'and' | 'or'; readonly items: readonly Predicate[] }
  | { readonly type: 'not'; readonly item: Predicate }
  | { readonly type: 'absent'; readonly field: Field; readonly present: boolean }
  | { readonly type: 'eq' | 'ne'; readonly field: Field; readonly operand: Operand }
  | { readonly type: 'range'; readonly field: Field; readonly op: RangeOperator; readonly operand: Operand }
  | {
      readonly type: 'in' | 'nin';
      readonly field: Field;
      readonly operands: readonly Operand[];
      readonly withNull: boolean;
    };

const RANGE_OPERATORS: Readonly<Record<string, RangeOperator>> = {
  $gt: '>',
  $gte: '>=',
  $lt: '<',
  $lte: '<=',
};
const TRUE: Predicate = { type: 'true' };

/** Throws the error every query validation failure uses: `Invalid query on <table>: <field>: <message>`. */
export function queryError(table: TableInfo, field: string, message: string): never {
  throw new ConfigurationError(`Invalid query on ${table.qualifiedName}: ${field}: ${message}`);
}

/**
 * Resolves a field name: a column, `_id` (the primary key, unless a column is literally named `_id`), or a dotted
 * path whose first segment is a json/jsonb column.
 */
export function resolveField(table: TableInfo, name: string): Field {
  const column = table.columns.get(name) ?? (name === '_id' ? table.key : undefined);
  if (column) return { name, column, path: [], type: columnFieldType(column) };
  const [head, ...path] = name.split('.');
  const json = head === undefined ? undefined : table.columns.get(head);
  if (path.length > 0 && json?.kind === 'json') {
    if (path.some((segment) => segment === '' || segment.includes('\0'))) {
      queryError(table, name, 'empty or invalid path segment');
    }
    return { name, column: json, path, type: jsonPathFieldType(json, path) };
  }
  if (path.length > 0 && json) {
    return queryError(
      table,
      name,
      `dotted paths are only supported into json/jsonb columns, not ${json.kind}`,
    );
  }
  return queryError(table, name, 'unknown column');
}

function sortedKeys(object: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(object).sort(compareCodePoints);
}

function and(items: Predicate[]): Predicate {
  const flat = items.flatMap((item) =>
    item.type === 'and' ? item.items : item.type === 'true' ? [] : [item],
  );
  if (flat.length === 0) return TRUE;
  return flat.length === 1 ? (flat[0] ?? TRUE) : { type: 'and', items: flat };
}

function or(items: Predicate[]): Predicate {
  if (items.some((item) => item.type === 'true')) return TRUE;
  const flat = items.flatMap((item) => (item.type === 'or' ? item.items : [item]));
  return flat.length === 1 ? (flat[0] ?? TRUE) : { type: 'or', items: flat };
}

function paramKey(operand: Operand): string {
  return typeof operand.param === 'string' ? operand.param : operand.param.toString('hex');
}

/** Validates one selector document (the top level or an element of `$and`/`$or`/`$nor`). */
function parseDocument(table: TableInfo, selector: unknown, where: string): Predicate {
  if (!isPlainObject(selector)) return queryError(table, where, 'a selector must be a plain object');
  const items: Predicate[] = [];
  for (const key of sortedKeys(selector)) {
    const value = selector[key];
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (!Array.isArray(value) || value.length === 0) {
        return queryError(table, key, 'expects a non-empty array of selectors');
      }
      const parts = value.map((part, i) => parseDocument(table, part, `${key}.${i}`));
      items.push(key === '$and' ? and(parts) : key === '$or' ? or(parts) : not(or(parts)));
    } else if (key.startsWith('$')) {
      return queryError(table, key, 'unsupported top-level operator');
    } else {
      items.push(parseField(table, resolveField(table, key), value));
    }
  }
  return and(items);
}

function not(item: Predicate): Predicate {
  if (item.type === 'not') return item.item;
  return { type: 'not', item };
}

function isOperatorObject(table: TableInfo, field: Field, value: unknown): value is Record<string, unknown> {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  const operators = keys.filter((key) => key.startsWith('$')).length;
  if (operators > 0 && operators < keys.length) {
    queryError(table, field.name, 'cannot mix operators and plain keys in one object');
  }
  return operators > 0;
}

function parseField(table: TableInfo, field: Field, value: unknown): Predicate {
  if (!isOperatorObject(table, field, value)) return equality(table, field, value, 'eq');
  const items: Predicate[] = [];
  for (const op of sortedKeys(value)) items.push(parseOperator(table, field, op, value[op]));
  return and(items);
}

function bind(table: TableInfo, field: Field, op: string, value: unknown): Operand {
  if (value === undefined) return queryError(table, field.name, `${op} operand is undefined`);
  const bound = field.type.bind(value);
  if (typeof bound === 'string') {
    return queryError(table, field.name, `${op} ${bound} (${field.column.kind} column ${field.column.name})`);
  }
  return bound;
}

function equality(table: TableInfo, field: Field, value: unknown, type: 'eq' | 'ne'): Predicate {
  if (value === null) return { type: 'absent', field, present: type === 'ne' };
  return { type, field, operand: bind(table, field, type === 'eq' ? 'equality' : '$ne', value) };
}

function membership(table: TableInfo, field: Field, op: '$in' | '$nin', value: unknown): Predicate {
  if (!Array.isArray(value)) return queryError(table, field.name, `${op} expects an array`);
  const byKey = new Map<string, Operand>();
  let withNull = false;
  for (const element of value) {
    if (element === null) withNull = true;
    else {
      const operand = bind(table, field, op, element);
      byKey.set(paramKey(operand), operand);
    }
  }
  const operands = [...byKey.keys()].sort().map((key) => byKey.get(key) as Operand);
  return { type: op === '$in' ? 'in' : 'nin', field, operands, withNull };
}

function parseOperator(table: TableInfo, field: Field, op: string, value: unknown): Predicate {
  switch (op) {
    case '$eq':
      return equality(table, field, value, 'eq');
    case '$ne':
      return equality(table, field, value, 'ne');
    case '$in':
    case '$nin':
      return membership(table, field, op, value);
    case '$exists':
      if (typeof value !== 'boolean' && value !== 0 && value !== 1) {
        return queryError(table, field.name, '$exists expects a boolean');
      }
      return { type: 'absent', field, present: Boolean(value) };
    case '$not':
      if (!isOperatorObject(table, field, value)) {
        return queryError(table, field.name, '$not expects an operator object such as { $gt: 1 }');
      }
      return not(parseField(table, field, value));
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte': {
      const range = RANGE_OPERATORS[op] as RangeOperator;
      if (!field.type.orderable) {
        const what = field.path.length > 0 ? 'json paths' : `columns of kind ${field.column.kind}`;
        return queryError(table, field.name, `${op} is not supported on ${what}`);
      }
      if (value === null) return queryError(table, field.name, `${op} does not accept null`);
      return { type: 'range', field, op: range, operand: bind(table, field, op, value) };
    }
    default:
      return queryError(table, field.name, `unsupported operator ${op}`);
  }
}

/** Validates `selector` against `table` into its canonical {@link Predicate}. */
export function parseSelector(table: TableInfo, selector: Selector): Predicate {
  return parseDocument(table, selector, 'selector');
}
