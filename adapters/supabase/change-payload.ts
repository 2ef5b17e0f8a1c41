/**
 * A captured row change rendered as Supabase Realtime renders it (realtime.apply_rls, then the replication poller's
 * NewRecord/UpdatedRecord/DeletedRecord): the `data` of a `postgres_changes` push,
 * `{columns, commit_timestamp, errors, schema, table, type, record?, old_record?}`:
 * - `columns`: `[{name, type}]` in column order, `type` the column's pg_type name (`int4`, `text`, `_int4`,
 *   `timestamptz`); realtime-js needs it to convert values;
 * - `record` (INSERT, UPDATE): the row as `to_jsonb` renders it: numbers (bigint and numeric too, exact), booleans,
 *   timestamps as ISO text, json as JSON. The bus carries bigint/numeric as decimal text; they are written back as
 *   JSON numbers here; money is written as the database writes it (`"$1,234.50"`, money-format.ts);
 * - `old_record` (UPDATE, DELETE): the old row for tables with replica identity full (the bus carries it for those
 *   only), else the primary key, as Supabase sends them;
 * - `commit_timestamp`: `YYYY-MM-DDTHH:MM:SS.mmmZ` (apply_rls's `to_char`), the bus's `committedAt`: the commit time
 *   in capture mode `logical`, the transaction's start in the trigger modes; the time this process received the
 *   change when the payload has none (written by an earlier release);
 * - `errors`: null, or `["Error 413: Payload Too Large"]` when the JSON of record and old_record together exceeds
 *   `maxRecordBytes`: then only values of 64 bytes or less are sent in either, as Supabase does.
 */
import type { ColumnInfo, TableInfo } from '../../core/database/table-info.js';
import type { MoneyFormat } from './money-format.js';

/** A table as postgres_changes renders it. */
export interface RenderedTable {
  readonly info: TableInfo;
  /** `columns` of the payload, serialized once. */
  readonly columnsJson: string;
  /** Columns in jsonb key order (length, then bytes), how Supabase's jsonb record lists them. */
  readonly recordOrder: readonly ColumnInfo[];
  /** How money columns are written; undefined: as the bus carries them (decimal text). */
  readonly money: MoneyFormat | undefined;
}

/** The payload's `type`. */
export type ChangeType = 'INSERT' | 'UPDATE' | 'DELETE';

/** Makes a {@link RenderedTable} from the table, its columns' type names (attnum order) and the money format. */
export function renderedTable(
  info: TableInfo,
  typeNames: ReadonlyMap<string, string>,
  money?: MoneyFormat,
): RenderedTable {
  const columns = [...info.columns.values()];
  const columnsJson = JSON.stringify(
    columns.map((column) => ({ name: column.name, type: typeNames.get(column.name) ?? 'text' })),
  );
  const recordOrder = [...columns].sort((a, b) => jsonbKeyOrder(a.name, b.name));
  return { info, columnsJson, recordOrder, money };
}

/** jsonb's key order: shorter keys first, then bytewise. */
function jsonbKeyOrder(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length - y.length || Buffer.compare(x, y);
}

/** Options of {@link renderChange}. */
export interface RenderOptions {
  readonly maxRecordBytes: number;
  /** The commit timestamp to write, in ms since 1970. */
  readonly commitTime: number;
}

/** What the bus carries of a change: its rows as raw row JSON, its key as row JSON carries it. */
export interface ChangeRows {
  /** The new row (INSERT, UPDATE). */
  readonly row: Readonly<Record<string, unknown>> | undefined;
  readonly key: unknown;
  /** The old row (UPDATE, DELETE of a table with replica identity full), else absent. */
  readonly old?: Readonly<Record<string, unknown>>;
}

const WHOLE = Number.POSITIVE_INFINITY;

/** The `data` JSON of a change. */
export function renderChange(
  table: RenderedTable,
  type: ChangeType,
  change: ChangeRows,
  options: RenderOptions,
): string {
  const info = table.info;
  const { row } = change;
  const old = type === 'INSERT' ? undefined : (change.old ?? { [info.key.name]: change.key });
  let errors = 'null';
  let record = row === undefined ? undefined : recordJson(table, row, WHOLE);
  let oldRecord = old === undefined ? undefined : recordJson(table, old, WHOLE);
  if (byteLength(record) + byteLength(oldRecord) > options.maxRecordBytes) {
    if (row !== undefined) record = recordJson(table, row, 64);
    if (old !== undefined) oldRecord = recordJson(table, old, 64);
    errors = '["Error 413: Payload Too Large"]';
  }
  return (
    `{"columns":${table.columnsJson},"commit_timestamp":${JSON.stringify(new Date(options.commitTime).toISOString())}` +
    `,"errors":${errors},"schema":${JSON.stringify(info.schema)},"table":${JSON.stringify(info.name)}` +
    `,"type":"${type}"${record === undefined ? '' : `,"record":${record}`}` +
    `${oldRecord === undefined ? '' : `,"old_record":${oldRecord}`}}`
  );
}

function byteLength(json: string | undefined): number {
  return json === undefined ? 0 : Buffer.byteLength(json);
}

/** The record's JSON: its columns in jsonb order; values whose JSON is longer than `maxValueBytes` left out. */
function recordJson(
  table: RenderedTable,
  row: Readonly<Record<string, unknown>>,
  maxValueBytes: number,
): string {
  const parts: string[] = [];
  for (const column of table.recordOrder) {
    if (!(column.name in row)) continue;
    const value = valueJson(column, row[column.name], table.money);
    if (maxValueBytes !== WHOLE && Buffer.byteLength(value) > maxValueBytes) continue;
    parts.push(`${JSON.stringify(column.name)}:${value}`);
  }
  for (const name in row) {
    // Columns added after introspection: passed as the bus carries them.
    if (!table.info.columns.has(name))
      parts.push(`${JSON.stringify(name)}:${JSON.stringify(row[name] ?? null)}`);
  }
  return `{${parts.join(',')}}`;
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * One value's JSON: bigint and numeric decimal text back to a JSON number (exact), money in the database's format;
 * the rest as carried.
 */
function valueJson(column: ColumnInfo, value: unknown, money: MoneyFormat | undefined): string {
  if (value === undefined || value === null) return 'null';
  if ((column.kind === 'bigint' || column.kind === 'numeric') && typeof value === 'string') {
    if (column.pgType === 'money') return JSON.stringify(money ? money(value) : value);
    if (JSON_NUMBER.test(value)) return value;
  }
  return JSON.stringify(value);
}
