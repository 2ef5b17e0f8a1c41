/**
 * The `logical` capture mode's replication slot (`pgrt_<database oid>`, plugin pgoutput) and registry of captured
 * tables (`pgrt.logical_tables`): creating the slot (and recreating an invalidated one, telling listeners to
 * resync when changes may have been lost), and reading what the pump needs to know of each table.
 */
import type { Database } from '../../database/database.js';
import { type Logger, silentLogger } from '../../logger.js';
import type { CapturedTable } from './append-query.js';

/** Rejects, saying how to fix it, unless the server decodes the WAL (`wal_level=logical`). Changes nothing. */
export async function checkWalLevel(db: Pick<Database, 'query'>): Promise<void> {
  const level = await db.query<{ wal_level: string }>('SHOW wal_level');
  if (level.rows[0]?.wal_level !== 'logical') {
    throw new Error(
      `capture 'logical' needs wal_level=logical (it is ${level.rows[0]?.wal_level}): ` +
        "ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL; or use capture 'outbox'",
    );
  }
}

/** The capture slot's name: one per database (slots are cluster-wide), `pgrt_<database oid>`. */
export async function logicalSlotName(db: Pick<Database, 'query'>): Promise<string> {
  const result = await db.query<{ slot: string }>(
    "SELECT 'pgrt_' || oid AS slot FROM pg_catalog.pg_database WHERE datname = current_database()",
  );
  const slot = result.rows[0]?.slot;
  if (!slot) throw new Error('cannot name the capture slot: current database not found');
  return slot;
}

/**
 * Checks that logical decoding is possible and creates the capture slot if it is missing. Creating it waits for
 * the transactions running at that moment to end. When a slot existed before (the outbox records a decoded
 * position) and is gone, changes may have been lost in between: listeners are told to resync.
 */
export async function ensureLogicalSlot(db: Database, logger: Logger = silentLogger): Promise<string> {
  await checkWalLevel(db);
  const slot = await logicalSlotName(db);
  const existing = await db.query<{ plugin: string; status: string | null }>(
    'SELECT plugin, wal_status AS status FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const found = existing.rows[0];
  if (found?.status === 'lost') {
    // Invalidated (it retained more than max_slot_wal_keep_size): it can never stream again, and what it had not
    // delivered is gone. Replace it; listeners resync below, since the outbox records a decoded position.
    logger.error(
      { slot },
      'the logical capture slot was invalidated (max_slot_wal_keep_size); recreating it',
    );
    await db.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [slot]);
  } else if (found) {
    if (found.plugin !== 'pgoutput') {
      throw new Error(`replication slot ${slot} exists with plugin ${found.plugin}, not pgoutput`);
    }
    return slot;
  }
  try {
    await db.query("SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
  } catch (error) {
    if ((error as { code?: string }).code === '42710') return slot; // created by another process meanwhile
    throw error;
  }
  logger.info({ slot }, 'created the logical capture slot');
  const state = await db.query<{ decoded: string | null }>(
    'SELECT decoded_through::text AS decoded FROM pgrt.outbox_state',
  );
  if (state.rows[0]?.decoded != null) {
    logger.warn(
      { slot },
      'the logical capture slot was missing: changes may have been lost; listeners resync',
    );
    await db.query(
      `SELECT pgrt.logical_emit(channel, '{"resync":true}') FROM (SELECT DISTINCT channel FROM pgrt.logical_tables) c`,
    );
  }
  return slot;
}

/** Reads `pgrt.logical_tables`. */
export async function readCapturedTables(db: Pick<Database, 'query'>): Promise<Map<string, CapturedTable>> {
  const result = await db.query<{
    table_name: string;
    channel: string;
    key_column: string;
    exact_columns: string[];
  }>('SELECT table_name, channel, key_column, exact_columns FROM pgrt.logical_tables');
  return new Map(
    result.rows.map((row) => [
      row.table_name,
      { channel: row.channel, key: row.key_column, exact: row.exact_columns },
    ]),
  );
}
