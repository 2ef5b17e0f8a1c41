/**
 * Reads a table's shape from the PostgreSQL catalogs into a {@link TableInfo}: columns in table order, each column's
 * {@link ColumnKind} (domains resolved to their base type) and the single-column primary key pgrt requires.
 * Called once per registered collection at start-up.
 */
import { ConfigurationError } from '../errors.js';
import type { Queryable } from './database.js';
import type { ColumnInfo, ColumnKind, TableInfo } from './table-info.js';

const KINDS: Readonly<Record<string, ColumnKind>> = {
  text: 'text',
  varchar: 'text',
  char: 'text',
  bpchar: 'text',
  citext: 'text',
  name: 'text',
  int2: 'int',
  int4: 'int',
  int8: 'bigint',
  numeric: 'numeric',
  money: 'numeric',
  float4: 'float',
  float8: 'float',
  bool: 'bool',
  timestamptz: 'timestamptz',
  timestamp: 'timestamp',
  date: 'date',
  json: 'json',
  jsonb: 'json',
  bytea: 'bytea',
  uuid: 'uuid',
};

/** The {@link ColumnKind} of a base type name (`pg_type.typname`); `other` for anything unlisted. */
export function columnKindOf(typname: string): ColumnKind {
  return Object.hasOwn(KINDS, typname) ? (KINDS[typname] as ColumnKind) : 'other';
}

const TABLE_SQL = `
SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $2
  AND CASE WHEN $1::text IS NULL THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $1 END
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY pg_catalog.pg_table_is_visible(c.oid) DESC
LIMIT 1`;

// Domains (possibly over domains) resolve to their base type's name.
const COLUMNS_SQL = `
WITH RECURSIVE base(attnum, typid, depth) AS (
  SELECT a.attnum, a.atttypid, 0
  FROM pg_catalog.pg_attribute a
  WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT b.attnum, t.typbasetype, b.depth + 1
  FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typid
  WHERE t.typtype = 'd'
)
SELECT a.attname AS name,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS pg_type,
       (SELECT t.typname FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typid
        WHERE b.attnum = a.attnum ORDER BY b.depth DESC LIMIT 1) AS base_type,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i
               WHERE i.indrelid = a.attrelid AND i.indisprimary
                 AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])) AS is_key,
       (SELECT i.indnkeyatts::int FROM pg_catalog.pg_index i
        WHERE i.indrelid = a.attrelid AND i.indisprimary) AS key_columns
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

interface ColumnRow {
  name: string;
  pg_type: string;
  base_type: string;
  is_key: boolean;
  key_columns: number | null;
}

/**
 * Introspects `name` (`table`, resolved through the search_path, or `schema.table`; names are taken literally,
 * not case-folded). Rejects with {@link ConfigurationError} when the table does not exist, is not a plain table
 * (views and partitioned tables are refused), or lacks a single-column primary key.
 */
export async function introspectTable(db: Queryable, name: string): Promise<TableInfo> {
  const dot = name.indexOf('.');
  const schemaName = dot < 0 ? null : name.slice(0, dot);
  const tableName = dot < 0 ? name : name.slice(dot + 1);
  const found = await db.query<{ oid: string; schema: string; name: string; relkind: string }>(TABLE_SQL, [
    schemaName,
    tableName,
  ]);
  const table = found.rows[0];
  if (!table) throw new ConfigurationError(`table "${name}" does not exist`);
  if (table.relkind === 'p') {
    // Row triggers would fire per partition and report the partition's name, not the table's.
    throw new ConfigurationError(`"${name}" is a partitioned table; pgrt does not capture those yet`);
  }
  if (table.relkind !== 'r') {
    throw new ConfigurationError(
      `"${name}" is not a table (relkind ${table.relkind}); pgrt captures tables only`,
    );
  }
  const result = await db.query<ColumnRow>(COLUMNS_SQL, [table.oid]);
  const columns = new Map<string, ColumnInfo>();
  let key: ColumnInfo | undefined;
  let keyColumns = 0;
  for (const row of result.rows) {
    const column: ColumnInfo = { name: row.name, kind: columnKindOf(row.base_type), pgType: row.pg_type };
    columns.set(row.name, column);
    if (row.is_key) key = column;
    keyColumns = row.key_columns ?? 0;
  }
  const qualifiedName = `${table.schema}.${table.name}`;
  if (keyColumns === 0 || !key) {
    throw new ConfigurationError(
      `table "${qualifiedName}" has no primary key; pgrt needs a single-column one`,
    );
  }
  if (keyColumns > 1) {
    throw new ConfigurationError(
      `table "${qualifiedName}" has a composite primary key (${keyColumns} columns); pgrt needs a single-column one`,
    );
  }
  return { schema: table.schema, name: table.name, qualifiedName, key, columns };
}
