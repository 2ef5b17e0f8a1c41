/**
 * How one selector field (a column, or a path into a json/jsonb column) is read from an in-memory document,
 * bound as a pg parameter, compared in memory and expressed in SQL. This is the one place where the value
 * mapping of core/database/table-info.ts meets PostgreSQL's comparison semantics; the matcher, the comparator and
 * the SQL compiler all go through a {@link FieldType}, which is what keeps them in agreement.
 */
import type { ColumnInfo, Row } from '../database/table-info.js';
import {
  canonicalJson,
  compareBytes,
  compareCodePoints,
  compareDecimal,
  compareFloat,
  isPlainObject,
  jsonEqual,
  normalizeDecimal,
} from './compare.js';

/** A selector operand after validation: its in-memory form and its pg parameter. */
export interface Operand {
  /** Normalized in-memory value, comparable with what {@link FieldType.read} returns. */
  readonly value: unknown;
  /** Parameter for `pg`, in the text form of {@link FieldType.cast} (bytea: a Buffer, sent binary). */
  readonly param: string | Buffer;
}

/**
 * One field's semantics. `read` and `bind` produce normalized values; `equals` and `compare` accept only such
 * values. `read` returns undefined exactly when SQL's `sql` expression is NULL on the same row.
 */
export interface FieldType {
  /** Value expression over alias `t`; NULL exactly when the field is absent from the in-memory document. */
  readonly sql: string;
  /** Expression for `<`, `>` and ORDER BY: `sql`, with `COLLATE "C"` for text. */
  readonly orderSql: string;
  /** Type parameters are cast to (`$1::text`), without typmod so that casts never round or truncate. */
  readonly cast: string;
  /** Whether `$gt`/`$gte`/`$lt`/`$lte` and sorting are supported (false for json and `other`). */
  readonly orderable: boolean;
  /** The field's normalized value in `doc`, or undefined when absent (SQL NULL, or JSON null for json). */
  read(doc: Row): unknown;
  /** Validates and normalizes a non-null operand; returns an error message (naming the expectation) instead. */
  bind(value: unknown): Operand | string;
  /** SQL `=` on two normalized values. */
  equals(a: unknown, b: unknown): boolean;
  /** SQL order on two normalized values (only meaningful when `orderable`). */
  compare(a: unknown, b: unknown): number;
}

/** Typed description of a kind; {@link makeFieldType} wraps it into a {@link FieldType}. */
interface KindSpec<T> {
  readonly cast: string;
  readonly orderable: boolean;
  /** Normalizes a present raw document value. */
  read(raw: unknown): T;
  bind(value: unknown): { readonly value: T; readonly param: string | Buffer } | string;
  equals(a: T, b: T): boolean;
  compare(a: T, b: T): number;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A SQL string literal for `text`, in the form `pg`'s `escapeLiteral` produces. */
export function quoteLiteral(text: string): string {
  const body = `'${text.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`;
  return text.includes('\\') ? `E${body}` : body;
}

const INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  smallint: [-32768, 32767],
  integer: [-2147483648, 2147483647],
};
const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function withoutTypmod(pgType: string): string {
  return pgType.replace(/\(\d+(?:,\s*\d+)?\)/, '');
}

function compareOrdered<T extends string | number>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const textSpec: KindSpec<string> = {
  cast: 'text',
  orderable: true,
  read: (raw) => String(raw),
  bind: (value) => {
    if (typeof value !== 'string') return 'expects a string';
    if (value.includes('\0')) return 'cannot contain NUL characters';
    return { value, param: value };
  },
  equals: (a, b) => a === b,
  compare: compareCodePoints,
};

/** `character(n)`: `::text` drops the padding, and so does `read`. */
const bpcharSpec: KindSpec<string> = { ...textSpec, read: (raw) => String(raw).replace(/ +$/, '') };

function intSpec(pgType: string): KindSpec<number> {
  const range = INT_RANGES[pgType];
  return {
    cast: pgType,
    orderable: true,
    read: (raw) => Number(raw),
    bind: (value) => {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return 'expects an integer';
      if (range && (n < range[0] || n > range[1])) return `expects an integer within ${pgType} range`;
      return { value: n, param: String(n) };
    },
    equals: (a, b) => a === b,
    compare: compareOrdered,
  };
}

function decimalText(value: unknown): string | undefined {
  if (typeof value === 'string') return normalizeDecimal(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return normalizeDecimal(String(value));
  }
  return undefined;
}

const bigintSpec: KindSpec<string> = {
  cast: 'bigint',
  orderable: true,
  read: (raw) => (typeof raw === 'string' ? raw : String(raw)),
  bind: (value) => {
    const text = decimalText(value);
    if (text === undefined || !/^-?\d+$/.test(text) || BigInt(text) < INT8_MIN || BigInt(text) > INT8_MAX) {
      return 'expects an integer within bigint range (decimal string, safe integer number or bigint)';
    }
    return { value: text, param: text };
  },
  equals: (a, b) => compareDecimal(a, b) === 0,
  compare: compareDecimal,
};

function numericSpec(cast: string): KindSpec<string> {
  return {
    ...bigintSpec,
    cast,
    bind: (value) => {
      const text = decimalText(value);
      if (text === undefined) return 'expects a decimal string, a number or a bigint';
      return { value: text, param: text };
    },
  };
}

function floatSpec(pgType: string): KindSpec<number> {
  const round = pgType === 'real' ? Math.fround : (n: number) => n;
  return {
    cast: pgType,
    orderable: true,
    read: (raw) => round(typeof raw === 'number' ? raw : Number(raw)),
    bind: (value) => {
      if (typeof value !== 'number') return 'expects a number';
      const n = round(value);
      return { value: n, param: String(n) };
    },
    equals: (a, b) => compareFloat(a, b) === 0,
    compare: compareFloat,
  };
}

const boolSpec: KindSpec<boolean> = {
  cast: 'boolean',
  orderable: true,
  read: (raw) => raw === true,
  bind: (value) => (typeof value === 'boolean' ? { value, param: String(value) } : 'expects a boolean'),
  equals: (a, b) => a === b,
  compare: (a, b) => Number(a) - Number(b),
};

function timestampSpec(cast: string): KindSpec<number> {
  return {
    cast,
    orderable: true,
    read: (raw) => (raw instanceof Date ? raw.getTime() : new Date(String(raw)).getTime()),
    bind: (value) => {
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) return 'expects a valid Date';
      const year = value.getUTCFullYear();
      if (year < 1 || year > 9999) return 'expects a Date in years 1 to 9999';
      return { value: value.getTime(), param: value.toISOString() };
    },
    equals: (a, b) => a === b,
    compare: compareOrdered,
  };
}

const dateSpec: KindSpec<string> = {
  cast: 'date',
  orderable: true,
  read: (raw) => String(raw),
  bind: (value) => {
    if (
      typeof value !== 'string' ||
      !/^\d{4}-\d{2}-\d{2}$/.test(value) ||
      value.startsWith('0000') ||
      new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value
    ) {
      return "expects a 'YYYY-MM-DD' string";
    }
    return { value, param: value };
  },
  equals: (a, b) => a === b,
  compare: compareOrdered,
};

/** True when `value` is a JSON value (null, boolean, finite number, string, array, plain object) all the way down. */
function isJsonValue(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJsonValue);
  if (isPlainObject(value)) return Object.values(value).every(isJsonValue);
  return false;
}

const jsonSpec: KindSpec<unknown> = {
  cast: 'jsonb',
  orderable: false,
  read: (raw) => raw,
  bind: (value) => {
    if (typeof value === 'string' && value.includes('\0')) return 'cannot contain NUL characters';
    return isJsonValue(value) ? { value, param: canonicalJson(value) } : 'expects a JSON value';
  },
  equals: jsonEqual,
  compare: () => 0,
};

const byteaSpec: KindSpec<Uint8Array> = {
  cast: 'bytea',
  orderable: true,
  read: (raw) => (raw instanceof Uint8Array ? raw : new Uint8Array()),
  bind: (value) => {
    if (!(value instanceof Uint8Array)) return 'expects a Uint8Array';
    return { value, param: Buffer.from(value.buffer, value.byteOffset, value.byteLength) };
  },
  equals: (a, b) => compareBytes(a, b) === 0,
  compare: compareBytes,
};

const uuidSpec: KindSpec<string> = {
  cast: 'uuid',
  orderable: true,
  read: (raw) => String(raw).toLowerCase(),
  bind: (value) => {
    if (typeof value !== 'string' || !UUID.test(value))
      return 'expects a UUID string (8-4-4-4-12 hex digits)';
    const lower = value.toLowerCase();
    return { value: lower, param: lower };
  },
  equals: (a, b) => a === b,
  compare: compareOrdered,
};

function makeFieldType<T>(
  spec: KindSpec<T>,
  sql: string,
  orderSql: string,
  get: (doc: Row) => unknown,
): FieldType {
  return {
    sql,
    orderSql,
    cast: spec.cast,
    orderable: spec.orderable,
    read(doc) {
      const raw = get(doc);
      return raw === undefined || raw === null ? undefined : spec.read(raw);
    },
    bind: (value) => spec.bind(value),
    equals: (a, b) => spec.equals(a as T, b as T),
    compare: (a, b) => spec.compare(a as T, b as T),
  };
}

/** Columns of kind `other`: only presence (`null`, `$exists`) can be tested. */
function opaqueFieldType(sql: string, name: string): FieldType {
  return {
    sql,
    orderSql: sql,
    cast: 'text',
    orderable: false,
    read(doc) {
      const raw = doc[name];
      return raw === undefined || raw === null ? undefined : raw;
    },
    bind: () => 'is not supported on this column (only null, $exists and $ne: null are)',
    equals: () => false,
    compare: () => 0,
  };
}

/** The {@link FieldType} of a whole column. */
export function columnFieldType(column: ColumnInfo): FieldType {
  const ref = `t.${quoteIdentifier(column.name)}`;
  const get = (doc: Row): unknown => doc[column.name];
  const pgType = withoutTypmod(column.pgType);
  switch (column.kind) {
    case 'text': {
      // text and varchar compare as they are (index-friendly equality); anything else (character(n), citext,
      // domains) through `::text`, whose semantics the in-memory string compare reproduces.
      const plain = pgType === 'text' || pgType === 'character varying';
      const sql = plain ? ref : `(${ref}::text)`;
      const spec = pgType === 'character' || pgType === 'bpchar' ? bpcharSpec : textSpec;
      return makeFieldType(spec, sql, `${sql} COLLATE "C"`, get);
    }
    case 'int':
      // Domains over int2/int4 bind as integer: cross-type comparison, and no domain constraint on operands.
      return makeFieldType(intSpec(pgType === 'smallint' ? 'smallint' : 'integer'), ref, ref, get);
    case 'bigint':
      return makeFieldType(bigintSpec, ref, ref, get);
    case 'numeric':
      return makeFieldType(numericSpec(pgType === 'money' ? 'money' : 'numeric'), ref, ref, get);
    case 'float':
      return makeFieldType(floatSpec(pgType === 'real' ? 'real' : 'double precision'), ref, ref, get);
    case 'bool':
      return makeFieldType(boolSpec, ref, ref, get);
    case 'timestamptz':
      return makeFieldType(timestampSpec('timestamp with time zone'), ref, ref, get);
    case 'timestamp':
      return makeFieldType(timestampSpec('timestamp without time zone'), ref, ref, get);
    case 'date':
      return makeFieldType(dateSpec, ref, ref, get);
    case 'json': {
      // JSON null is indistinguishable from SQL NULL in the in-memory document, so SQL treats it as NULL too.
      const sql = `NULLIF(${ref}${pgType === 'jsonb' ? '' : '::jsonb'}, 'null'::jsonb)`;
      return makeFieldType(jsonSpec, sql, sql, get);
    }
    case 'bytea':
      return makeFieldType(byteaSpec, ref, ref, get);
    case 'uuid':
      return makeFieldType(uuidSpec, ref, ref, get);
    case 'other':
      return opaqueFieldType(ref, column.name);
  }
}

/**
 * The {@link FieldType} of a path into a json/jsonb column (`meta.color` → path `['color']`): each step descends
 * into an object member (never an array element); a missing member, a non-object along the way, or a JSON null
 * at the end reads as absent. Equality operators only, with `jsonb =` semantics.
 */
export function jsonPathFieldType(column: ColumnInfo, path: readonly string[]): FieldType {
  const base = `t.${quoteIdentifier(column.name)}${withoutTypmod(column.pgType) === 'jsonb' ? '' : '::jsonb'}`;
  const steps = path.map((key) => ` -> ${quoteLiteral(key)}::text`).join('');
  const sql = `NULLIF(${base}${steps}, 'null'::jsonb)`;
  const get = (doc: Row): unknown => {
    let value: unknown = doc[column.name];
    for (const key of path) {
      if (!isPlainObject(value) || !Object.hasOwn(value, key)) return undefined;
      value = value[key];
    }
    return value;
  };
  return makeFieldType(jsonSpec, sql, sql, get);
}
