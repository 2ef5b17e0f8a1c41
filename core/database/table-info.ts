/**
 * What pgrt knows about a registered table: its columns, their kinds and its single-column primary key.
 * Produced by `introspectTable` (core/database/introspect.ts) and read by the row codec, the query compiler and
 * the capture triggers.
 *
 * In-memory document values by column kind (the "type mapping", documented in README):
 * text/varchar/char/citext → string; int (int2/int4) and float (float4/float8) → number (NaN/±Infinity included);
 * bigint (int8) and numeric/money → decimal string (lossless); bool → boolean; timestamptz and timestamp → Date
 * (timestamp read as UTC); date → 'YYYY-MM-DD' string; json/jsonb → parsed JSON value; bytea → Uint8Array;
 * uuid → string; other → whatever `to_jsonb` produces. SQL NULL → the field is absent from the document.
 */

/** How a column's values are represented in memory and compared. */
export type ColumnKind =
  | 'text'
  | 'int'
  | 'bigint'
  | 'numeric'
  | 'float'
  | 'bool'
  | 'timestamptz'
  | 'timestamp'
  | 'date'
  | 'json'
  | 'bytea'
  | 'uuid'
  | 'other';

/** One column of a registered table. */
export interface ColumnInfo {
  readonly name: string;
  readonly kind: ColumnKind;
  /** PostgreSQL's `format_type()` of the column, used for casts such as `$1::timestamp with time zone`. */
  readonly pgType: string;
}

/** A registered table. */
export interface TableInfo {
  /** Schema name, e.g. `public`. */
  readonly schema: string;
  /** Table name, e.g. `presentations`. */
  readonly name: string;
  /** `schema.name`, as carried in change notifications. */
  readonly qualifiedName: string;
  /** The single primary-key column. */
  readonly key: ColumnInfo;
  /** Every column by name, in table order (Map iteration order). */
  readonly columns: ReadonlyMap<string, ColumnInfo>;
}

/** A document as held in memory: column name → decoded value (see the mapping above). */
export type Row = Record<string, unknown>;
