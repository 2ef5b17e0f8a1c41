/**
 * The one path by which table rows become in-memory documents. Both sources of rows produce the same JSON:
 * snapshot queries select {@link rowJsonSql} and the capture trigger (core/database/schema.ts) notifies the same
 * expression, so {@link decodeRow} decodes both identically.
 *
 * The row JSON is `to_jsonb(row)` with every bigint/numeric column replaced by its exact decimal text (and money
 * by its numeric text), so JavaScript never parses a number it cannot hold exactly.
 */
import type { ColumnInfo, Row, TableInfo } from './table-info.js';

/** Quotes an SQL identifier (`"a""b"`). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes an SQL string literal (standard_conforming_strings on, the default since PostgreSQL 9.1). */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `"schema"."table"` of a table. */
export function quoteTable(table: Pick<TableInfo, 'schema' | 'name'>): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/** Columns whose JSON value must be carried as exact text: bigint and numeric (money included), in table order. */
export function exactColumns(table: TableInfo): string[] {
  const names: string[] = [];
  for (const column of table.columns.values()) {
    if (column.kind === 'bigint' || column.kind === 'numeric') names.push(column.name);
  }
  return names;
}

// jsonb_build_object takes at most 100 arguments.
const PAIRS_PER_CALL = 50;

/**
 * An SQL expression (type jsonb) producing a row's JSON exactly as the capture trigger notifies it in `r`.
 * `alias` is the row's range variable in the FROM clause (quoted here, so give it as written, e.g. `t`):
 * `SELECT ${rowJsonSql(table, 't')} AS r FROM "public"."items" t WHERE ...`.
 */
export function rowJsonSql(table: TableInfo, alias = 't'): string {
  const a = quoteIdent(alias);
  // ::numeric::text is the exact decimal of bigint, numeric and money alike (and of domains over them).
  const pairs = exactColumns(table).map(
    (name) => `${quoteLiteral(name)}, ${a}.${quoteIdent(name)}::numeric::text`,
  );
  let sql = `to_jsonb(${a}.*)`;
  for (let i = 0; i < pairs.length; i += PAIRS_PER_CALL) {
    sql += ` || jsonb_build_object(${pairs.slice(i, i + PAIRS_PER_CALL).join(', ')})`;
  }
  return pairs.length === 0 ? sql : `(${sql})`;
}

/** Dates beyond JavaScript's range (and PostgreSQL's `infinity`) clamp to the extremes of `Date`. */
const MAX_DATE_MS = 8.64e15;

const TIMESTAMP =
  /^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?)?( BC)?$/;

/**
 * Parses a timestamp as `to_jsonb` writes it (`2024-01-02T03:04:05.123456+05:30`, optional ` BC`). Without an offset
 * (timestamp without time zone) it is read as UTC. Sub-millisecond digits are truncated. Undefined if unparsable.
 */
export function parseTimestamp(text: string): Date | undefined {
  if (text === 'infinity') return new Date(MAX_DATE_MS);
  if (text === '-infinity') return new Date(-MAX_DATE_MS);
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  let year = Number(m[1]);
  if (m[12]) year = 1 - year;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const date = new Date(0);
  date.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), ms);
  let time = date.getTime();
  if (m[8]) {
    const offset = (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * 1000;
    time -= m[8] === '-' ? -offset : offset;
  }
  return new Date(Math.max(-MAX_DATE_MS, Math.min(MAX_DATE_MS, time)));
}

/** Decodes bytea text in either `bytea_output` format: hex (`\x0a0b`) or escape (`a\\b\012`). */
export function parseBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) return new Uint8Array(Buffer.from(text.slice(2), 'hex'));
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x5c) {
      bytes.push(c);
    } else if (text[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return Uint8Array.from(bytes);
}

/**
 * Decodes one column value from row JSON to its in-memory form (table-info.ts). Never throws: a value of an
 * unexpected shape is returned as it came. `null` stays `null` (callers drop the field).
 */
export function decodeValue(column: ColumnInfo, value: unknown): unknown {
  if (value === null) return null;
  switch (column.kind) {
    case 'timestamptz':
    case 'timestamp':
      return typeof value === 'string' ? (parseTimestamp(value) ?? value) : value;
    case 'bytea':
      return typeof value === 'string' ? parseBytea(value) : value;
    case 'float':
      if (typeof value === 'string') {
        if (value === 'NaN') return Number.NaN;
        if (value === 'Infinity') return Number.POSITIVE_INFINITY;
        if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
      }
      return value;
    case 'bigint':
    case 'numeric':
      return typeof value === 'number' ? String(value) : value;
    case 'text':
    case 'int':
    case 'bool':
    case 'date':
    case 'json':
    case 'uuid':
    case 'other':
      return value;
  }
}

/**
 * Decodes a row's JSON (from {@link rowJsonSql} or a notification's `r`) into a document: every column mapped per
 * table-info.ts, NULLs omitted, the key column kept. Fields of columns unknown to `table` (added after
 * introspection) pass through undecoded.
 */
export function decodeRow(table: TableInfo, json: Record<string, unknown>): Row {
  const row: Row = {};
  for (const name in json) {
    const value = json[name];
    if (value === null || value === undefined) continue;
    const column = table.columns.get(name);
    row[name] = column ? decodeValue(column, value) : value;
  }
  return row;
}

/** Decodes a notification's `k` (the key as row JSON carries it) to the key's in-memory value. */
export function decodeKey(table: TableInfo, key: unknown): unknown {
  return decodeValue(table.key, key);
}
