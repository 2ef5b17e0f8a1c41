/**
 * The catalog objects capture modes install on a table and what every mode needs to remove another's: the trigger
 * names, the logical mode's publication and registry row. Used by trigger-capture.ts, logical-capture.ts and
 * core/database/schema.ts `removeCapture`; every caller runs inside a transaction holding the start-up lock.
 */
import type { Queryable } from '../database/database.js';
import { quoteTable } from '../database/row-codec.js';
import type { TableInfo } from '../database/table-info.js';

/** The publication of the `logical` capture mode: the captured tables. */
export const LOGICAL_PUBLICATION = 'pgrt_capture';

/** Name of the row trigger installed on captured tables. */
export const CAPTURE_TRIGGER = 'pgrt_capture';
/** Name of the statement-level TRUNCATE trigger installed on captured tables. */
export const CAPTURE_TRUNCATE_TRIGGER = 'pgrt_capture_truncate';

/** Drops both capture triggers of `table` (idempotent). */
export async function dropTriggers(
  client: Queryable,
  table: Pick<TableInfo, 'schema' | 'name'>,
): Promise<void> {
  const target = quoteTable(table);
  await client.query(`DROP TRIGGER IF EXISTS ${CAPTURE_TRIGGER} ON ${target}`);
  await client.query(`DROP TRIGGER IF EXISTS ${CAPTURE_TRUNCATE_TRIGGER} ON ${target}`);
}

/** Takes `table` out of the logical mode's registry and publication (when it is in them). */
export async function unpublish(client: Queryable, table: Pick<TableInfo, 'schema' | 'name'>): Promise<void> {
  await client.query('DELETE FROM pgrt.logical_tables WHERE table_name = $1', [
    `${table.schema}.${table.name}`,
  ]);
  const member = await client.query(
    'SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
    [LOGICAL_PUBLICATION, table.schema, table.name],
  );
  if (member.rowCount) {
    await client.query(`ALTER PUBLICATION ${LOGICAL_PUBLICATION} DROP TABLE ${quoteTable(table)}`);
  }
}
