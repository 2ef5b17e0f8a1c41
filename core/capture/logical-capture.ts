/**
 * Capture mode `logical` (core/database/migrations/0003_logical.sql; logical/ holds the pump's source): no triggers;
 * each captured table joins publication `pgrt_capture` and the registry `pgrt.logical_tables` (what its payloads
 * need), and the elected pump decodes the WAL through the slot `pgrt_<database oid>` into the outbox. Fences and
 * other payloads are transactional logical decoding messages (`pgrt.fence_logical`, `pgrt.logical_emit`), decoded
 * after the transaction's changes. Needs `wal_level=logical` and a role that may replicate.
 */
import type { Database, Queryable } from '../database/database.js';
import { quoteTable } from '../database/row-codec.js';
import type { TableInfo } from '../database/table-info.js';
import type { Logger } from '../logger.js';
import { dropTriggers, LOGICAL_PUBLICATION } from './capture-ddl.js';
import type { CaptureArguments, CaptureMode } from './capture-mode.js';
import { LogicalSource } from './logical/logical-source.js';
import { checkWalLevel, ensureLogicalSlot } from './logical/slot.js';
import type { PumpSource, PumpSourceOptions } from './pump-source.js';

/** Capture mode `logical`. */
export const logicalCapture: CaptureMode = {
  name: 'logical',
  outbox: true,
  async check(db: Queryable): Promise<void> {
    await checkWalLevel(db);
  },
  async install(client: Queryable, table: TableInfo, args: CaptureArguments): Promise<void> {
    await dropTriggers(client, table);
    await publishForLogical(client, table, args);
  },
  async prepare(db: Database, logger: Logger): Promise<void> {
    // The slot must exist before anything is read, or changes committed meanwhile would be missed.
    await ensureLogicalSlot(db, logger);
  },
  async fenceInTransaction(client: Queryable, channel: string, id: string): Promise<boolean> {
    const result = await client.query<{ f: boolean }>('SELECT pgrt.fence_logical($1, $2) AS f', [
      channel,
      id,
    ]);
    return result.rows[0]?.f === true;
  },
  async emit(db: Queryable, channel: string, payload: string): Promise<void> {
    await db.query('SELECT pgrt.logical_emit($1, $2)', [channel, payload]);
  },
  pumpSource(db: Database, options: PumpSourceOptions): PumpSource {
    return new LogicalSource(db, options);
  },
};

async function publishForLogical(client: Queryable, table: TableInfo, args: CaptureArguments): Promise<void> {
  const { channel, keyColumn: key, exactColumns: exact } = args;
  const target = quoteTable(table);
  const identity = await client.query<{ setting: string; columns: string[] | null }>(
    `SELECT c.relreplident AS setting,
            (SELECT array_agg(a.attname::text) FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid
                AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))) AS columns
       FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass`,
    [target],
  );
  const found = identity.rows[0];
  if (found && found.setting !== 'f' && !(found.columns ?? []).includes(key)) {
    await client.query(`ALTER TABLE ${target} REPLICA IDENTITY FULL`);
  }
  await client.query(
    `INSERT INTO pgrt.logical_tables (table_name, channel, key_column, exact_columns) VALUES ($1, $2, $3, $4)
     ON CONFLICT (table_name) DO UPDATE SET channel = EXCLUDED.channel, key_column = EXCLUDED.key_column,
       exact_columns = EXCLUDED.exact_columns`,
    [`${table.schema}.${table.name}`, channel, key, exact],
  );
  const publication = await client.query<{ member: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables
                     WHERE pubname = $1 AND schemaname = $2 AND tablename = $3) AS member
       FROM pg_catalog.pg_publication WHERE pubname = $1`,
    [LOGICAL_PUBLICATION, table.schema, table.name],
  );
  const row = publication.rows[0];
  if (!row) await client.query(`CREATE PUBLICATION ${LOGICAL_PUBLICATION} FOR TABLE ${target}`);
  else if (!row.member) await client.query(`ALTER PUBLICATION ${LOGICAL_PUBLICATION} ADD TABLE ${target}`);
}
