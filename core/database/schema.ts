/**
 * The `pgrt` schema and the capture triggers: how every committed change to a registered table, whoever wrote it,
 * becomes a NOTIFY on the change channel (DESIGN.md decisions 1–3).
 *
 * Notification payloads (JSON text, one per changed row, in commit order on the channel):
 * - insert/update: `{"t":"schema.table","o":"i"|"u","k":<key>,"x":"<txid>","c":<ms>,"n":<seq>,"r":{row}}`
 * - delete:        `{"t":"schema.table","o":"d","k":<key>,"x":"<txid>","c":<ms>,"n":<seq>}`
 * - update/delete of a table with REPLICA IDENTITY FULL: plus `"b":{old row}` (same encoding as `r`).
 * - `c`: the transaction's time in ms since 1970: `transaction_timestamp()` in the trigger modes, the commit time
 *   in `logical` (payloads of earlier releases have none).
 * - truncate:      `{"t":"schema.table","o":"t","x":"<txid>","n":<seq>}`
 * - spilled:       the above without `r` and `b`, plus `"s":<pgrt.spill id>`; the full payload is that row's `payload`.
 * - write fence:   `{"f":"<id>"}` (from `pgrt.fence`).
 * - message:       `{"m":"<topic>","n":<seq>,"d":<data>}` (an application message, core/bus/messages.ts; spilled
 *                  like a change).
 * `r` is row-codec.ts `rowJsonSql`'s JSON (bigint/numeric as exact text); `k` is `r`'s key value. `n` numbers the
 * notifications of one transaction: PostgreSQL folds identical payloads within a transaction, which would drop
 * e.g. the second insert of insert/delete/insert of the same row. An update that changes the key notifies a
 * delete of the old key then an insert of the new one; an update that changes nothing (binary-identical row)
 * notifies nothing. A payload over the spill threshold (in bytes) goes to `pgrt.spill`.
 *
 * Capture modes (core/capture/capture-mode.ts, DESIGN.md decision 4; docs/reference.md "Capture modes"):
 * - `notify` (above): the trigger calls pg_notify itself. Zero setup, but every notifying commit takes PostgreSQL's
 *   cluster-wide notify lock through its WAL flush (reference/perf.md §2: 8 writers 6.8k → ~2k inserts/s).
 * - `outbox`: the trigger (`pgrt.capture_row_outbox()`) builds the same payload (without `n`: the outbox position
 *   makes every payload unique) and appends it to `pgrt.outbox` (no NOTIFY in the writer's transaction);
 *   `pgrt.fence_outbox` appends fences the same way. The pump (core/capture/outbox-pump.ts, `pgrt.outbox_pump`)
 *   notifies the rows later, in id order, each payload prefixed with its outbox id `"p":<id>`; a row too big to
 *   notify inline is notified as `{"p":<id>}` and read from the outbox. Consecutive rows of a channel go out
 *   together, as a JSON array of those objects.
 * - `logical`: no trigger; the pump decodes the WAL and appends the same payloads (core/capture/logical/,
 *   `pgrt.logical_append`; on the NATS bus `pgrt.logical_step`, which hands the rows to the relay instead of
 *   notifying them), one outbox row per notification.
 *   Every appender takes its transaction id (`pg_current_xact_id()`) BEFORE it draws the row's id from
 *   `pgrt.outbox_id_seq` (CACHE 1, so ids are handed out in real-time order): the pump's ordering rule relies on it.
 *
 * The SQL lives in core/database/migrations/*.sql, applied in order by migrations.ts under the start-up advisory
 * lock, so processes starting together serialise; every capture DDL step takes the same lock in its transaction.
 */

import { dropTriggers, unpublish } from '../capture/capture-ddl.js';
import type { CaptureArguments, CaptureMode, CaptureModeName } from '../capture/capture-mode.js';
import { captureMode } from '../capture/capture-modes.js';
import type { Logger } from '../logger.js';
import type { Database, Queryable } from './database.js';
import {
  type AppliedMigration,
  applyMigrations,
  ensureMigrationTable,
  MIGRATION_LOCK_KEY,
  MigrationError,
  type MigrationSession,
  type MigrationSet,
  migrationChecksum,
  migrationSet,
  withMigrationLock,
} from './migrations.js';
import { exactColumns } from './row-codec.js';
import type { TableInfo } from './table-info.js';

/** Default spill threshold: payloads above this many bytes are spilled (NOTIFY's limit is < 8000 bytes). */
export const DEFAULT_SPILL_THRESHOLD_BYTES = 7900;

export {
  CAPTURE_TRIGGER,
  CAPTURE_TRUNCATE_TRIGGER,
  LOGICAL_PUBLICATION,
} from '../capture/capture-ddl.js';
export type { CaptureModeName } from '../capture/capture-mode.js';

/** pgrt's own migrations: the `.sql` files in core/database/migrations/ (copied next to the built module). */
export const PGRT_MIGRATIONS: MigrationSet = migrationSet('pgrt', new URL('./migrations/', import.meta.url));

/** The version of pgrt's migration set this code installs (the last `.sql` file's number). */
export const SCHEMA_VERSION = PGRT_MIGRATIONS.migrations.at(-1)?.version ?? 0;

/**
 * What the pre-release numbering (one version in a `pgrt.schema_version` table) called the state parts 1–3 install:
 * such a database is adopted (its parts 1–3 recorded as applied); an older one is refused.
 */
export const LEGACY_SCHEMA_VERSION = 5;
const LEGACY_PARTS = 3;

/** Options of {@link ensureSchema} and {@link migrateSchema}. */
export interface EnsureSchemaOptions {
  /** Plug-ins' and the app's migration sets, applied after pgrt's, in this order ({@link App.migrationSets}). */
  readonly sets?: readonly MigrationSet[];
  /**
   * An unversioned migration function run after the sets at every start, in one transaction under the same lock
   * (the app module's `migrate(db)`): it must be idempotent (`CREATE TABLE IF NOT EXISTS …`).
   */
  readonly migrate?: (db: Queryable) => Promise<void>;
  readonly logger?: Logger;
  /** Called after each versioned migration committed (progress output). */
  readonly onApplied?: (applied: AppliedMigration) => void;
}

/**
 * Creates or upgrades the `pgrt` schema, then applies `options.sets` and runs `options.migrate`, all under the
 * start-up advisory lock ({@link withMigrationLock}): safe when several processes start at once. Rejects with a
 * {@link MigrationError} when the database holds migrations this code does not know (a newer release migrated it).
 */
export async function ensureSchema(
  db: Database,
  options: EnsureSchemaOptions = {},
): Promise<AppliedMigration[]> {
  return await withMigrationLock(db, (session) => migrateSchema(session, options), {
    ...(options.logger ? { logger: options.logger } : {}),
  });
}

/** {@link ensureSchema}'s work, on a session that already holds the start-up lock. */
export async function migrateSchema(
  session: MigrationSession,
  options: EnsureSchemaOptions = {},
): Promise<AppliedMigration[]> {
  await ensureMigrationTable(session);
  await adoptLegacySchema(session);
  const applied = await applyMigrations(session, [PGRT_MIGRATIONS, ...(options.sets ?? [])], {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onApplied ? { onApplied: options.onApplied } : {}),
  });
  const migrate = options.migrate;
  if (migrate) await session.transaction((client) => migrate(client));
  return applied;
}

/**
 * A database migrated by pgrt before versioned migrations has a `pgrt.schema_version` table: at version 5 it holds
 * exactly what parts 1–3 install, which are then recorded as applied (the table makes way for part 4's view, and
 * the pre-release 4-argument `pgrt.logical_append` is dropped); an older one is refused.
 */
async function adoptLegacySchema(session: MigrationSession): Promise<void> {
  const legacy = await session.query<{ table: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'pgrt' AND c.relname = 'schema_version' AND c.relkind = 'r') AS table`,
  );
  if (legacy.rows[0]?.table !== true) return;
  const found = await session.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM pgrt.schema_version',
  );
  const version = found.rows[0]?.version ?? 0;
  if (version !== LEGACY_SCHEMA_VERSION) {
    throw new MigrationError(
      'legacy-schema',
      `the pgrt schema was installed by a pre-release pgrt at version ${version}; this pgrt adopts version ` +
        `${LEGACY_SCHEMA_VERSION} only: start that database once with a pgrt of schema ${LEGACY_SCHEMA_VERSION} ` +
        '(commit 47748ba), or drop schema pgrt and its capture triggers',
    );
  }
  await session.transaction(async (client) => {
    for (const migration of PGRT_MIGRATIONS.migrations.slice(0, LEGACY_PARTS)) {
      await client.query(
        `INSERT INTO pgrt.migrations (set_name, version, name, checksum) VALUES ($1, $2, $3, $4)
         ON CONFLICT (set_name, version) DO NOTHING`,
        [PGRT_MIGRATIONS.name, migration.version, migration.name, migrationChecksum(migration)],
      );
    }
    await client.query('DROP TABLE pgrt.schema_version');
    await client.query('DROP FUNCTION IF EXISTS pgrt.logical_append(pg_lsn, int, text[], text[])');
  });
}

/** Runs `fn` in one transaction of `db` holding the start-up lock (reentrant on a {@link MigrationSession}). */
async function withDdlLock<T>(db: Transactional, fn: (client: Queryable) => Promise<T>): Promise<T> {
  return await db.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    return await fn(client);
  });
}

/** What capture installation needs of a database: transactions (the pool, or a locked migration session). */
export type Transactional = Pick<Database, 'transaction'>;

/** Options of {@link installCapture}. */
export interface CaptureOptions {
  /** NOTIFY channel (default `pgrt_changes`). */
  readonly channel?: string;
  /** Payloads longer than this many bytes are spilled (default 7900; at most 7999, NOTIFY's limit). */
  readonly spillThresholdBytes?: number;
  /**
   * `notify` (default): NOTIFY in the trigger; `outbox`: append to `pgrt.outbox` for the pump; `logical`: no trigger,
   * the table joins the `pgrt_capture` publication and the pump decodes the WAL (core/capture/).
   */
  readonly mode?: CaptureModeName | CaptureMode;
}

/** A table's {@link CaptureArguments}: channel, key column, threshold, the bigint/numeric/money columns. */
export function captureArguments(table: TableInfo, options: CaptureOptions = {}): CaptureArguments {
  const threshold = options.spillThresholdBytes ?? DEFAULT_SPILL_THRESHOLD_BYTES;
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 7999) {
    throw new RangeError(`spillThresholdBytes must be an integer in 0..7999, got ${threshold}`);
  }
  return {
    channel: options.channel ?? 'pgrt_changes',
    keyColumn: table.key.name,
    thresholdBytes: threshold,
    exactColumns: exactColumns(table),
  };
}

/**
 * Installs (or replaces) the capture of `options.mode` on `table` ({@link CaptureMode.install}) in one transaction
 * holding the start-up lock. Idempotent: an unchanged capture is left alone (no table lock beyond a catalog read).
 * Requires {@link ensureSchema} first.
 */
export async function installCapture(
  db: Transactional,
  table: TableInfo,
  options: CaptureOptions = {},
): Promise<void> {
  const args = captureArguments(table, options);
  const mode = captureMode(options.mode ?? 'notify');
  await withDdlLock(db, (client) => mode.install(client, table, args));
}

/** Removes the capture of every mode from `table` (idempotent). */
export async function removeCapture(
  db: Transactional,
  table: Pick<TableInfo, 'schema' | 'name'>,
): Promise<void> {
  await withDdlLock(db, async (client) => {
    await dropTriggers(client, table);
    await unpublish(client, table);
  });
}
