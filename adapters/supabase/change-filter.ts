/**
 * The `filter` of a postgres_changes binding, as Supabase Realtime parses and applies it
 * (Extensions.PostgresCdcRls.Subscriptions.parse_subscription_params, and the SQL functions
 * realtime.subscription_check_filters / realtime.is_visible_through_filters / realtime.check_equality_op):
 * `column=op.value` conditions, several joined by commas (all must hold), each optionally negated with `not.`;
 * values may be double-quoted PostgREST-style (`name=eq."a,b"`); `in` takes a parenthesised list
 * (`id=in.(1,2,3)`). Operators: every one Supabase serves (its `@filter_types` and `realtime.check_equality_op`):
 * eq, neq, lt, lte, gt, gte, in; like, ilike (SQL patterns: `%`, `_`, `\` escapes; text columns); is
 * (null, true, false, unknown; all but null on boolean columns only); match, imatch (regular expressions, searched
 * as `~`/`~*` do; text columns); isdistinct (NULL-safe inequality). A NULL column value fails every condition but
 * `is` and `isdistinct`, negated or not, as in SQL (a NULL comparison is neither true nor false).
 *
 * Values are compared by the column's kind (core/database/table-info.ts): numbers numerically (bigint and numeric
 * exactly), booleans as booleans, timestamps and dates as instants, everything else as text (code-point order for
 * lt/gt, where PostgreSQL would use the column's collation). Patterns of match/imatch are JavaScript regular
 * expressions, which read the common forms as PostgreSQL's do (PostgreSQL-only syntax such as `[[:alpha:]]` or
 * `\m` does not).
 */
import { parseTimestamp } from '../../core/database/row-codec.js';
import type { ColumnInfo, ColumnKind, TableInfo } from '../../core/database/table-info.js';

/** The operators served. */
export type FilterOperator =
  | 'eq'
  | 'neq'
  | 'lt'
  | 'lte'
  | 'gt'
  | 'gte'
  | 'in'
  | 'like'
  | 'ilike'
  | 'is'
  | 'match'
  | 'imatch'
  | 'isdistinct';

const OPERATORS = new Set<string>([
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'in',
  'like',
  'ilike',
  'is',
  'match',
  'imatch',
  'isdistinct',
]);

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
  if (eq < 0) return inspect([segment]);
  const column = segment.slice(0, eq);
  let rest = segment.slice(eq + 1);
  const negate = rest.startsWith('not.');
  if (negate) rest = rest.slice(4);
  const dot = rest.indexOf('.');
  if (dot < 0) return inspect([rest]);
  const operator = rest.slice(0, dot);
  const raw = rest.slice(dot + 1);
  if (!OPERATORS.has(operator)) return inspect([operator, raw]);
  if (operator === 'in') {
    if (raw.length < 2 || !raw.startsWith('(') || !raw.endsWith(')'))
      return '`in` filter value must be wrapped by parentheses';
    const inner = raw.slice(1, -1);
    const items = inner.trim() === '' ? [] : splitTopLevel(inner).map((item) => unquote(item.trim()));
    return { column, operator, value: items, negate };
  }
  return { column, operator: operator as FilterOperator, value: unquote(raw), negate };
}

/** A list of strings as Elixir's `inspect` writes it in Supabase's parse errors: `["foo", "hey"]`. */
function inspect(parts: readonly string[]): string {
  return `[${parts.map((part) => JSON.stringify(part)).join(', ')}]`;
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

/** Column types with a text pattern operator (`~~`: like, ilike) and a regex operator (`~`, `~*`). */
const LIKE_TYPES = new Set(['text', 'character', 'name']);
const MATCH_TYPES = new Set(['text', 'character']);

/**
 * Why `conditions` cannot filter `table`'s changes, as Supabase's realtime.subscription_check_filters raises it
 * (reported as the subscription's exception), or undefined: an unknown column; more than 100 `in` values; an `is`
 * value other than null/true/false/unknown, or other than null on a non-boolean column; like/ilike/match/imatch
 * on a column without the operator (Supabase looks for it by the column's exact type); a pattern that does not
 * compile.
 */
export function filterProblem(table: TableInfo, conditions: readonly FilterCondition[]): string | undefined {
  for (const condition of conditions) {
    const column = table.columns.get(condition.column);
    if (!column) return `invalid column for filter ${condition.column}`;
    const type = typeName(column);
    const { operator, value } = condition;
    if (CAST_OPERATORS.has(operator)) {
      for (const item of typeof value === 'string' ? [value] : value) {
        const problem = castProblem(column.kind, type, item);
        if (problem !== undefined) return problem;
      }
    }
    if (operator === 'in' && value.length > 100) return 'too many values for `in` filter. Maximum 100';
    if (operator === 'is') {
      if (!['null', 'true', 'false', 'unknown'].includes(value as string))
        return 'invalid value for is filter: must be null, true, false, or unknown';
      if (value !== 'null' && type !== 'boolean')
        return `is ${value as string} filter requires a boolean column, got ${type}`;
    }
    if (
      ((operator === 'like' || operator === 'ilike') && !LIKE_TYPES.has(type)) ||
      ((operator === 'match' || operator === 'imatch') && !MATCH_TYPES.has(type))
    )
      return `operator ${operator} requires a text-compatible column type, got ${type}`;
    if (operator === 'match' || operator === 'imatch') {
      try {
        new RegExp(value as string);
      } catch (error) {
        return `invalid regular expression for ${operator} filter: ${(error as Error).message}`;
      }
    }
  }
  return undefined;
}

/** Operators whose value Supabase casts to the column's type at the join (`realtime.cast`; `in`: to its array). */
const CAST_OPERATORS = new Set<FilterOperator>(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'isdistinct']);

/** Integer types' ranges, by regtype name. */
const INTEGER_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
};

const UUID = /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i;

/**
 * PostgreSQL's error for casting `text` to the column's type, for the kinds whose input this adapter can judge
 * (numbers, booleans, instants, uuids); undefined when it casts (or the kind is not judged: text, json, others).
 */
function castProblem(kind: ColumnKind, type: string, text: string): string | undefined {
  const syntax = `invalid input syntax for type ${type}: ${JSON.stringify(text)}`;
  const trimmed = text.trim();
  switch (kind) {
    case 'int':
    case 'bigint': {
      const range = INTEGER_RANGES[type];
      if (!range) return undefined;
      if (!INTEGER.test(trimmed)) return syntax;
      const n = BigInt(trimmed);
      return n < range[0] || n > range[1]
        ? `value ${JSON.stringify(text)} is out of range for type ${type}`
        : undefined;
    }
    case 'float':
    case 'numeric':
      return trimmed === '' || (Number.isNaN(Number(trimmed)) && !/^[+-]?(nan|infinity|inf)$/i.test(trimmed))
        ? syntax
        : undefined;
    case 'bool':
      return parseBool(text) === undefined ? syntax : undefined;
    case 'timestamptz':
    case 'timestamp':
    case 'date':
      // PostgreSQL's special inputs cast too (and then compare with nothing here).
      return instant(text) === undefined &&
        !/^([+-]?infinity|now|today|tomorrow|yesterday|epoch)$/i.test(trimmed)
        ? syntax
        : undefined;
    case 'uuid':
      return UUID.test(trimmed) ? undefined : syntax;
    default:
      return undefined;
  }
}

/** The column's type as PostgreSQL's regtype names it (format_type without the modifier): `integer`, `text`. */
function typeName(column: ColumnInfo): string {
  return column.pgType.replace(/\(\d+(?:,\d+)?\)/, '');
}

/** A compiled filter: true if a row's JSON (as the bus carries it) passes every condition. */
export type RowFilter = (row: Readonly<Record<string, unknown>>) => boolean;

/** Compiles conditions on `table`'s columns (checked with {@link filterProblem} first). */
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
    const wanted = condition.value as string;
    return (value) => {
      const isNull = value === null || value === undefined;
      const holds = wanted === 'null' || wanted === 'unknown' ? isNull : value === (wanted === 'true');
      return negate ? !holds : holds;
    };
  }
  const pattern = patternOf(condition);
  if (pattern) {
    return (value) => {
      if (typeof value !== 'string') return false; // NULL: neither true nor false
      const holds = pattern.test(value);
      return negate ? !holds : holds;
    };
  }
  const compare = comparator(kind);
  if (operator === 'isdistinct') {
    const target = condition.value as string;
    return (value) => {
      let holds: boolean;
      if (value === null || value === undefined) holds = true;
      else {
        const order = compare(value, target);
        if (order === undefined) return false;
        holds = order !== 0;
      }
      return negate ? !holds : holds;
    };
  }
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
    default:
      return false;
  }
}

/** The regular expression of a like/ilike/match/imatch condition; undefined for other operators. */
function patternOf(condition: FilterCondition): RegExp | undefined {
  const text = condition.value as string;
  switch (condition.operator) {
    case 'like':
    case 'ilike': {
      const source = likeSource(text);
      // A pattern ending in its escape character is an error in PostgreSQL: nothing passes.
      if (source === undefined) return /(?!)/;
      return new RegExp(source, condition.operator === 'ilike' ? 'isu' : 'su');
    }
    case 'match':
      return new RegExp(text);
    case 'imatch':
      return new RegExp(text, 'i');
    default:
      return undefined;
  }
}

/** A LIKE pattern (`%` any text, `_` any one character, `\\` escapes the next) as an anchored regex source. */
function likeSource(pattern: string): string | undefined {
  let source = '^';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char === '\\') {
      if (i + 1 >= chars.length) return undefined;
      source += escapeRegex(chars[++i] as string);
    } else if (char === '%') source += '.*';
    else if (char === '_') source += '.';
    else source += escapeRegex(char);
  }
  return `${source}$`;
}

function escapeRegex(char: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(char) ? `\\${char}` : char;
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
