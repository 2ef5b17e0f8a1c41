/**
 * Versioned schema migrations, applied in order under pgrt's start-up advisory lock, for pgrt itself, its plug-ins
 * (accounts) and applications (docs/reference.md "Migrations").
 *
 * A {@link MigrationSet} is a named, ordered list of {@link Migration}s: `.sql` files in a folder
 * (`0001_create_todos.sql`, `0002_add_done.sql`, …; {@link sqlMigrations}) or code. What was applied is recorded in
 * `pgrt.migrations (set_name, version, name, checksum, applied_at)`; each pending migration runs once, in version
 * order, in its own transaction together with its record (unless it opts out: `transaction: false`).
 *
 * Concurrency: {@link withMigrationLock} takes the session-level advisory lock `0x70677274` ('pgrt', the same key
 * `installCapture` takes per transaction) on a dedicated connection (`listenDatabaseUrl` when set) and holds it until
 * its callback settles; through a connection pooler (which would keep a session lock on whichever backend took it)
 * it holds a transaction-level lock instead, with everything in that one transaction. Every
 * process starting on a database runs its migrations inside it, so processes started at once on an empty database
 * run them one after another: the first applies them, the others find them applied. Work done through the locked
 * session is serialised with every other process's; work done through other connections while the lock is held is
 * serialised too as long as it is awaited inside the callback.
 *
 * Refusals ({@link MigrationError}): a database holding a migration this code does not know (a newer release
 * migrated it) and a pending migration numbered below one already applied (history rewritten, or two branches
 * merged out of order) stop the start before anything changes. A `.sql` migration whose text changed after it was
 * applied is only logged (comments and formatting may change; the database keeps what it ran).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { type Logger, silentLogger } from '../logger.js';
import type { Database, Queryable, QueryResult } from './database.js';

/** Key of the start-up advisory lock ('pgrt' in ASCII): migrations and capture installation serialise on it. */
export const MIGRATION_LOCK_KEY = 0x70677274;

/** One migration of a {@link MigrationSet}: SQL text or code, never both. */
export interface Migration {
  /** Positive integer, unique within its set; migrations run in increasing version order. */
  readonly version: number;
  /** What it does, e.g. `create_todos` (a `.sql` file's name without its number and extension). */
  readonly name: string;
  /** SQL run as one simple-protocol query: several statements are fine, parameters are not. */
  readonly sql?: string;
  /** Code run on the locked session (inside the migration's transaction unless `transaction` is false). */
  readonly up?: (session: Queryable) => Promise<void>;
  /**
   * Run inside a transaction together with its record (default true). `false` is for statements PostgreSQL
   * refuses in a transaction block (`CREATE INDEX CONCURRENTLY`; then one statement per migration): such a
   * migration must be idempotent, since a process that dies after it ran but before it was recorded runs it again.
   * A `.sql` file opts out with a first line `-- pgrt:no-transaction`.
   */
  readonly transaction?: boolean;
}

/** A named, ordered list of migrations: `pgrt` (pgrt's own), a plug-in's (`pgrt.accounts`), an app's (`app`). */
export interface MigrationSet {
  /** Unique per database: versions are recorded per set. */
  readonly name: string;
  readonly migrations: readonly Migration[];
}

/** A migration applied by {@link applyMigrations}. */
export interface AppliedMigration {
  readonly set: string;
  readonly version: number;
  readonly name: string;
  /** How long it ran, in ms. */
  readonly ms: number;
}

/** Where a set stands in a database ({@link migrationStatus}). */
export interface MigrationStatus {
  readonly set: string;
  /** Highest version applied (0: none). */
  readonly applied: number;
  /** Highest version this code knows (0: none). */
  readonly latest: number;
  /** Known migrations not applied yet, in order. */
  readonly pending: readonly Migration[];
  /** Applied versions this code does not know (a newer release migrated the database). */
  readonly unknown: readonly number[];
}

/** Why migrations were refused or failed. */
export type MigrationErrorCode =
  | 'invalid-set'
  | 'unknown-applied'
  | 'out-of-order'
  | 'legacy-schema'
  | 'failed';

/** A refused or failed migration; nothing of the failed migration was kept (unless it ran without a transaction). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The session {@link withMigrationLock} holds the lock on: statements, and transactions on the same connection. */
export interface MigrationSession extends Queryable {
  /**
   * Runs `fn` inside BEGIN/COMMIT on the locked connection (ROLLBACK and rethrow when it rejects); inside an open
   * transaction, as part of it.
   */
  transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T>;
  /**
   * False when the connection goes through a pooler: then the lock is transaction-scoped and everything runs in one
   * transaction, and migrations with `transaction: false` are refused.
   */
  readonly ownsBackend: boolean;
}

/** Options of {@link withMigrationLock}. */
export interface MigrationLockOptions {
  /** `application_name` of the locked connection (default `pgrt-migrate`). */
  readonly applicationName?: string;
  /** Told when the lock is busy (another process is migrating) and when it was obtained. */
  readonly logger?: Logger;
}

/** File names of `.sql` migrations: a version number, `_` or `-`, a name. */
const SQL_FILE = /^(\d+)[_-]([^.]+)\.sql$/;

/** First line of a `.sql` migration that must run outside a transaction. */
const NO_TRANSACTION = /^--\s*pgrt:no-transaction\b/;

/**
 * The `.sql` migrations in `directory` (a path or a `file:` URL, e.g. `new URL('./migrations/', import.meta.url)`):
 * every file named `<version>_<name>.sql`, in version order. Other files are ignored; two files with one version
 * are an error. Read synchronously, once, when called.
 */
export function sqlMigrations(directory: string | URL): Migration[] {
  const path = typeof directory === 'string' ? directory : fileURLToPath(directory);
  const migrations: Migration[] = [];
  for (const file of readdirSync(path).sort()) {
    const match = SQL_FILE.exec(file);
    if (!match) continue;
    const sql = readFileSync(join(path, file), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      sql,
      ...(NO_TRANSACTION.test(sql) ? { transaction: false } : {}),
    });
  }
  return validated(path, migrations);
}

/**
 * A migration set named `name` from migrations or a folder of `.sql` files (see {@link sqlMigrations}), checked:
 * positive integer versions, no duplicates, each migration either `sql` or `up`. Sorted by version.
 */
export function migrationSet(name: string, source: readonly Migration[] | string | URL): MigrationSet {
  if (!name || typeof name !== 'string')
    throw new MigrationError('invalid-set', 'a migration set needs a name');
  const migrations =
    typeof source === 'string' || source instanceof URL
      ? sqlMigrations(source)
      : validated(name, [...source]);
  return { name, migrations };
}

function validated(where: string, migrations: Migration[]): Migration[] {
  migrations.sort((a, b) => a.version - b.version);
  let previous = 0;
  for (const migration of migrations) {
    if (!Number.isSafeInteger(migration.version) || migration.version <= 0)
      throw new MigrationError(
        'invalid-set',
        `${where}: migration version ${migration.version} is not a positive integer`,
      );
    if (migration.version === previous)
      throw new MigrationError('invalid-set', `${where}: two migrations have version ${migration.version}`);
    if ((migration.sql === undefined) === (migration.up === undefined))
      throw new MigrationError(
        'invalid-set',
        `${where}: migration ${migration.version} needs either sql or up`,
      );
    previous = migration.version;
  }
  return migrations;
}

/**
 * Holds the start-up advisory lock (session level, on a dedicated connection) while `fn` runs, then releases it and
 * closes the connection. Waits while another process holds it. `fn` gets the locked session; a transaction-level
 * `pg_advisory_xact_lock` of the same key on that session (installCapture's) passes at once.
 */
export async function withMigrationLock<T>(
  db: Database,
  fn: (session: MigrationSession) => Promise<T>,
  options: MigrationLockOptions = {},
): Promise<T> {
  const logger = options.logger ?? silentLogger;
  const client = await db.connectDedicated({ applicationName: options.applicationName ?? 'pgrt-migrate' });
  // A failed connection rejects the query in flight; the listener only keeps the process alive.
  client.on('error', (error) => logger.warn({ err: error }, 'migration connection failed'));
  try {
    const pid = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    if ((client as unknown as { processID?: number | null }).processID !== pid.rows[0]?.pid) {
      // A pooler answered the handshake (core/database/pooler-probe.ts): in transaction mode a session lock would
      // stay on whichever backend took it. Hold the lock in one transaction instead, the whole callback in it.
      logger.warn({}, 'migrations run through a connection pooler: in one transaction (listenDatabaseUrl)');
      const session = new LockedSession(client, false);
      return await session.transaction(async () => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        return await fn(session);
      });
    }
    const tried = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      MIGRATION_LOCK_KEY,
    ]);
    if (tried.rows[0]?.locked !== true) {
      logger.info({}, 'another process is migrating the database; waiting for it');
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    const result = await fn(new LockedSession(client, true));
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    return result;
  } finally {
    // Ending the session releases the lock too (also when fn failed mid-way).
    await client.end().catch(() => {});
  }
}

/** {@link MigrationSession} over one `pg.Client`. */
class LockedSession implements MigrationSession {
  readonly #client: pg.Client;
  #inTransaction = false;

  /** `ownsBackend` false: through a pooler, the whole session is one transaction (no `transaction: false`). */
  constructor(
    client: pg.Client,
    readonly ownsBackend: boolean,
  ) {
    this.#client = client;
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<T>> {
    const result = await this.#client.query(text, params as unknown[] | undefined);
    return result as unknown as QueryResult<T>;
  }

  async transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    if (this.#inTransaction) return await fn(this); // nested: part of the enclosing transaction
    this.#inTransaction = true;
    try {
      await this.#client.query('BEGIN');
      let value: T;
      try {
        value = await fn(this);
      } catch (error) {
        await this.#client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      await this.#client.query('COMMIT');
      return value;
    } finally {
      this.#inTransaction = false;
    }
  }
}

/** Creates `pgrt.migrations` if missing (on the locked session). */
export async function ensureMigrationTable(session: Queryable): Promise<void> {
  await session.query(`
    CREATE SCHEMA IF NOT EXISTS pgrt;
    CREATE TABLE IF NOT EXISTS pgrt.migrations (
      set_name text NOT NULL,
      version int NOT NULL CHECK (version > 0),
      name text NOT NULL,
      checksum text,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (set_name, version)
    )`);
}

/** The checksum recorded for a `.sql` migration (hex SHA-256 of its text, line endings normalised); null for code. */
export function migrationChecksum(migration: Migration): string | null {
  if (migration.sql === undefined) return null;
  return createHash('sha256').update(migration.sql.replaceAll('\r\n', '\n')).digest('hex');
}

/** Options of {@link applyMigrations}. */
export interface ApplyMigrationsOptions {
  readonly logger?: Logger;
  /** Called after each migration committed (progress output). */
  readonly onApplied?: (applied: AppliedMigration) => void;
}

/**
 * Applies every pending migration of `sets`, set by set in the given order, each set in version order. Call it
 * inside {@link withMigrationLock}. Checks every set before changing anything; rejects with a
 * {@link MigrationError} (the failing migration rolled back, the ones before it kept).
 */
export async function applyMigrations(
  session: MigrationSession,
  sets: readonly MigrationSet[],
  options: ApplyMigrationsOptions = {},
): Promise<AppliedMigration[]> {
  const logger = options.logger ?? silentLogger;
  await ensureMigrationTable(session);
  const names = new Set<string>();
  for (const set of sets) {
    if (names.has(set.name))
      throw new MigrationError('invalid-set', `two migration sets are named '${set.name}'`);
    names.add(set.name);
  }
  const recorded = await readRecorded(session, [...names]);
  const plans = sets.map((set) => {
    const status = statusOf(set, recorded.get(set.name) ?? new Map());
    refuseUnsafe(status);
    warnChanged(set, recorded.get(set.name) ?? new Map(), logger);
    return { set, pending: status.pending };
  });
  const applied: AppliedMigration[] = [];
  for (const { set, pending } of plans) {
    for (const migration of pending) {
      const started = performance.now();
      try {
        await runOne(session, set, migration);
      } catch (error) {
        throw new MigrationError(
          'failed',
          `migration ${set.name} ${migration.version} (${migration.name}) failed: ${messageOf(error)}`,
          { cause: error },
        );
      }
      const done = {
        set: set.name,
        version: migration.version,
        name: migration.name,
        ms: performance.now() - started,
      };
      logger.info(done, 'migration applied');
      applied.push(done);
      options.onApplied?.(done);
    }
  }
  return applied;
}

async function runOne(session: MigrationSession, set: MigrationSet, migration: Migration): Promise<void> {
  const body = async (client: Queryable): Promise<void> => {
    if (migration.sql !== undefined) await client.query(migration.sql);
    else await migration.up!(client);
  };
  const record = async (client: Queryable): Promise<void> => {
    await client.query(
      `INSERT INTO pgrt.migrations (set_name, version, name, checksum) VALUES ($1, $2, $3, $4)
       ON CONFLICT (set_name, version) DO NOTHING`,
      [set.name, migration.version, migration.name, migrationChecksum(migration)],
    );
  };
  if (migration.transaction === false) {
    if (!session.ownsBackend) {
      throw new Error(
        'it runs outside a transaction, which needs a direct connection: set listenDatabaseUrl to one (not a pooler)',
      );
    }
    await body(session);
    await record(session);
    return;
  }
  await session.transaction(async (client) => {
    await body(client);
    await record(client);
  });
}

/**
 * Where each set stands (read-only: for `pgrt doctor`, `pgrt migrate --dry-run`). A database without
 * `pgrt.migrations` has nothing applied.
 */
export async function migrationStatus(
  db: Queryable,
  sets: readonly MigrationSet[],
): Promise<MigrationStatus[]> {
  const exists = await db.query<{ found: boolean }>(
    "SELECT to_regclass('pgrt.migrations') IS NOT NULL AS found",
  );
  const recorded =
    exists.rows[0]?.found === true
      ? await readRecorded(
          db,
          sets.map((set) => set.name),
        )
      : new Map();
  return sets.map((set) => statusOf(set, recorded.get(set.name) ?? new Map()));
}

type Recorded = Map<string, Map<number, string | null>>;

async function readRecorded(db: Queryable, names: readonly string[]): Promise<Recorded> {
  const rows = await db.query<{ set_name: string; version: number; checksum: string | null }>(
    'SELECT set_name, version, checksum FROM pgrt.migrations WHERE set_name = ANY($1::text[])',
    [names],
  );
  const recorded: Recorded = new Map();
  for (const row of rows.rows) {
    let versions = recorded.get(row.set_name);
    if (!versions) {
      versions = new Map();
      recorded.set(row.set_name, versions);
    }
    versions.set(row.version, row.checksum);
  }
  return recorded;
}

function statusOf(set: MigrationSet, recorded: ReadonlyMap<number, string | null>): MigrationStatus {
  const known = new Set(set.migrations.map((migration) => migration.version));
  const applied = Math.max(0, ...recorded.keys());
  return {
    set: set.name,
    applied,
    latest: set.migrations.at(-1)?.version ?? 0,
    pending: set.migrations.filter((migration) => !recorded.has(migration.version)),
    unknown: [...recorded.keys()].filter((version) => !known.has(version)).sort((a, b) => a - b),
  };
}

function refuseUnsafe(status: MigrationStatus): void {
  if (status.unknown.length > 0) {
    throw new MigrationError(
      'unknown-applied',
      `the database has migration${status.unknown.length > 1 ? 's' : ''} ${status.unknown.join(', ')} of set ` +
        `'${status.set}', which this code does not know (its latest is ${status.latest}): a newer release ` +
        'migrated this database; run that release (or newer)',
    );
  }
  const early = status.pending.find((migration) => migration.version < status.applied);
  if (early) {
    throw new MigrationError(
      'out-of-order',
      `migration ${status.set} ${early.version} (${early.name}) is pending but ${status.applied} is already ` +
        'applied: give it a version above the applied ones',
    );
  }
}

function warnChanged(set: MigrationSet, recorded: ReadonlyMap<number, string | null>, logger: Logger): void {
  for (const migration of set.migrations) {
    const stored = recorded.get(migration.version);
    const now = migrationChecksum(migration);
    if (stored && now && stored !== now) {
      logger.warn(
        { set: set.name, version: migration.version, name: migration.name },
        'an applied migration changed since it ran; the database keeps what ran then',
      );
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
