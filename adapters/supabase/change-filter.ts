/**
 * The `filter` of a postgres_changes binding, as Supabase Realtime parses and applies it
 * (Extensions.PostgresCdcRls.Subscriptions.parse_subscription_params, and the SQL functions
 * realtime.subscription_check_filters / realtime.is_visible_through_filters / realtime.check_equality_op):
 * `column=op.value` conditions, several joined by commas (all must hold), each optionally negated with `not.`;
 * values may be double-quoted PostgREST-style (`name=eq."a,b"`); `in` takes a parenthesised list
 * (`id=in.(1,2,3)`). Operators served here: eq, neq, lt, lte, gt, gte, in, is (null/true/false). A NULL column
 * value fails every condition but `is.null`, as in SQL.
 *
 * Values are compared by the column's kind (core/database/table-info.ts): numbers numerically (bigint and numeric
 * exactly), booleans as booleans, timestamps and dates as instants, everything else as text (code-point order for
 * lt/gt, where PostgreSQL would use the column's collation).
 */
import { parseTimestamp } from '../../core/database/row-codec.js';
import type { ColumnInfo, ColumnKind, TableInfo } from '../../core/database/table-info.js';

/** The operators served. */
export type FilterOperator = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'is';

const OPERATORS = new Set<string>(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'is']);
/** Operators Supabase knows and pgrt does not serve (a clear error instead of Supabase's parse error). */
const UNSERVED = new Set<string>(['like', 'ilike', 'match', 'imatch', 'isdistinct']);

/** One parsed condition. */
export interface FilterCondition {
  readonly column: string;
  readonly operator: FilterOperator;
  /** The value (unquoted); for `in`, the list's items. */
  readonly value: string | readonly string[];
  readonly negate: boolean;
}

/** Parses a filter string; a string result is the error (Supabase's "Error parsing `filter` params: …"). */
export function parseFilter(filter: string): FilterCondition[] | string {
  const trimmed = filter.trim();
  if (trimmed === '') return [];
  const conditions: FilterCondition[] = [];
  for (const segment of splitTopLevel(trimmed)) {
    const condition = parseSegment(segment.trim());
    if (typeof condition === 'string') return `Error parsing \`filter\` params: ${condition}`;
    conditions.push(condition);
  }
  return conditions;
}

function parseSegment(segment: string): FilterCondition | string {
  if (segment === '') return 'filter must not contain empty segments (check for extra commas)';
  const eq = segment.indexOf('=');
  if (eq < 0) return JSON.stringify([segment]);
  const column = segment.slice(0, eq);
  let rest = segment.slice(eq + 1);
  const negate = rest.startsWith('not.');
  if (negate) rest = rest.slice(4);
  const dot = rest.indexOf('.');
  if (dot < 0) return JSON.stringify([column, rest]);
  const operator = rest.slice(0, dot);
  const raw = rest.slice(dot + 1);
  if (UNSERVED.has(operator)) return `operator \`${operator}\` is not supported by this server`;
  if (!OPERATORS.has(operator)) return JSON.stringify([operator, raw]);
  if (operator === 'in') {
    if (raw.length < 2 || !raw.startsWith('(') || !raw.endsWith(')'))
      return '`in` filter value must be wrapped by parentheses';
    const inner = raw.slice(1, -1);
    const items = inner.trim() === '' ? [] : splitTopLevel(inner).map((item) => unquote(item.trim()));
    return { column, operator, value: items, negate };
  }
  const value = unquote(raw);
  if (operator === 'is' && !['null', 'true', 'false'].includes(value.toLowerCase()))
    return '`is` filter value must be null, true or false';
  return { column, operator: operator as FilterOperator, value, negate };
}

/** Splits on commas outside double quotes and parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quoted) {
      if (char === '\\' && i + 1 < text.length) {
        current += char + text[++i];
        continue;
      }
      if (char === '"') quoted = false;
    } else if (char === '"') {
      quoted = true;
    } else if (char === '(') {
      depth++;
    } else if (char === ')') {
      depth = Math.max(0, depth - 1);
    } else if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

/** A PostgREST double-quoted value without its quotes and escapes; anything else as it is. */
function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    const char = value[i] as string;
    if (char === '\\' && i + 1 < value.length - 1) out += value[++i];
    else if (char === '"') return value;
    else out += char;
  }
  return out;
}

/** The first filter column `table` lacks, or undefined (Supabase: "invalid column for filter <name>"). */
export function unknownFilterColumn(
  table: TableInfo,
  conditions: readonly FilterCondition[],
): string | undefined {
  return conditions.find((c) => !table.columns.has(c.column))?.column;
}

/** A compiled filter: true if a row's JSON (as the bus carries it) passes every condition. */
export type RowFilter = (row: Readonly<Record<string, unknown>>) => boolean;

/** Compiles conditions on `table`'s columns (checked with {@link unknownFilterColumn} first). */
export function compileFilter(table: TableInfo, conditions: readonly FilterCondition[]): RowFilter {
  if (conditions.length === 0) return () => true;
  const tests = conditions.map((condition) => {
    const column = table.columns.get(condition.column) as ColumnInfo;
    const test = conditionTest(column.kind, condition);
    return (row: Readonly<Record<string, unknown>>): boolean => test(row[condition.column]);
  });
  return (row) => tests.every((test) => test(row));
}

function conditionTest(kind: ColumnKind, condition: FilterCondition): (value: unknown) => boolean {
  const { operator, negate } = condition;
  if (operator === 'is') {
    const wanted = (condition.value as string).toLowerCase();
    return (value) => {
      const holds = wanted === 'null' ? value === null || value === undefined : value === (wanted === 'true');
      return negate ? !holds : holds;
    };
  }
  const compare = comparator(kind);
  if (operator === 'in') {
    const items = condition.value as readonly string[];
    return (value) => {
      if (value === null || value === undefined) return false;
      const holds = items.some((item) => compare(value, item) === 0);
      return negate ? !holds : holds;
    };
  }
  const target = condition.value as string;
  return (value) => {
    if (value === null || value === undefined) return false;
    const order = compare(value, target);
    if (order === undefined) return false; // not comparable: SQL would fail the cast; nothing passes
    const holds = holdsFor(operator, order);
    return negate ? !holds : holds;
  };
}

function holdsFor(operator: FilterOperator, order: number): boolean {
  switch (operator) {
    case 'eq':
      return order === 0;
    case 'neq':
      return order !== 0;
    case 'lt':
      return order < 0;
    case 'lte':
      return order <= 0;
    case 'gt':
      return order > 0;
    case 'gte':
      return order >= 0;
    case 'in':
    case 'is':
      return false;
  }
}

/** Compares a row value (as the bus carries it) to a filter's text: <0, 0, >0, or undefined if not comparable. */
type Comparator = (value: unknown, text: string) => number | undefined;

function comparator(kind: ColumnKind): Comparator {
  switch (kind) {
    case 'int':
    case 'float':
    case 'bigint':
    case 'numeric':
      return compareNumbers;
    case 'bool':
      return (value, text) => {
        const wanted = parseBool(text);
        if (wanted === undefined || typeof value !== 'boolean') return undefined;
        return value === wanted ? 0 : value ? 1 : -1;
      };
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      return (value, text) => {
        const a = instant(String(value));
        const b = instant(text);
        return a === undefined || b === undefined ? undefined : Math.sign(a - b);
      };
    case 'json':
      return (value, text) => (JSON.stringify(value) === normalizedJson(text) ? 0 : 1);
    case 'text':
    case 'uuid':
    case 'bytea':
    case 'other':
      return (value, text) => {
        const a = typeof value === 'string' ? value : JSON.stringify(value);
        return a === text ? 0 : a < text ? -1 : 1;
      };
  }
}

const INTEGER = /^[+-]?\d+$/;

function compareNumbers(value: unknown, text: string): number | undefined {
  const a = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : undefined;
  if (a === undefined) return undefined;
  const b = text.trim();
  if (INTEGER.test(a) && INTEGER.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) || Number.isNaN(y) || b === '') return undefined;
  return x === y ? 0 : x < y ? -1 : 1;
}

function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (['t', 'true', 'y', 'yes', 'on', '1'].includes(t)) return true;
  if (['f', 'false', 'n', 'no', 'off', '0'].includes(t)) return false;
  return undefined;
}

/** An instant in ms of a timestamp or date text (ISO-ish, `T` or space), or undefined. */
function instant(text: string): number | undefined {
  const t = text.trim().replace(' ', 'T').replace(/Z$/i, '+00');
  const date = /^\d{4,}-\d{2}-\d{2}$/.test(t) ? parseTimestamp(`${t}T00:00:00`) : parseTimestamp(t);
  return date?.getTime();
}

function normalizedJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}
