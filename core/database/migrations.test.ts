/**
 * Versioned migrations against a real PostgreSQL, each case on an EMPTY scratch database: `.sql` folders, order and
 * bookkeeping, a failing migration, refusals (unknown applied, out of order), `-- pgrt:no-transaction`, processes
 * migrating at once, and the adoption of a database migrated by pre-release pgrt (schema_version 5).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PgBouncer } from '../../scripts/support/pgbouncer.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { createScratchDatabase, type ScratchDatabase } from '../../test/support/database.js';
import type { Logger } from '../logger.js';
import { PgDatabase } from './database.js';
import {
  applyMigrations,
  type Migration,
  MigrationError,
  migrationSet,
  migrationStatus,
  sqlMigrations,
  withMigrationLock,
} from './migrations.js';
import { ensureSchema, PGRT_MIGRATIONS, SCHEMA_VERSION } from './schema.js';

const APP_FOLDER = new URL('./fixtures/migrations-app/', import.meta.url);

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    warnings,
    debug() {},
    info() {},
    warn(_fields: object, message?: string) {
      warnings.push(message ?? '');
    },
    error() {},
    child: () => logger,
  };
  return logger;
}

describe('migrations', function () {
  this.timeout(30_000);
  let scratch: ScratchDatabase;
  let db: PgDatabase;

  beforeEach(async () => {
    scratch = await createScratchDatabase('migrations');
    db = new PgDatabase(scratch.url, { poolSize: 4 });
  });
  afterEach(async () => {
    await db.close();
    await scratch.drop();
  });

  async function recorded(set: string): Promise<Array<{ version: number; name: string }>> {
    const rows = await db.query<{ version: number; name: string }>(
      'SELECT version, name FROM pgrt.migrations WHERE set_name = $1 ORDER BY version',
      [set],
    );
    return rows.rows;
  }

  it('reads a folder of .sql files in version order, ignoring other files', () => {
    const migrations = sqlMigrations(APP_FOLDER);
    assert.deepEqual(
      migrations.map((m) => [m.version, m.name, m.transaction]),
      [
        [1, 'create_notes', undefined],
        [2, 'add_done', undefined],
        [3, 'index_body', false],
      ],
    );
    assert.equal(migrations[0]!.sql, readFileSync(new URL('0001_create_notes.sql', APP_FOLDER), 'utf8'));
  });

  it('rejects sets that cannot be ordered', () => {
    const sql = 'SELECT 1';
    assert.throws(
      () =>
        migrationSet('x', [
          { version: 1, name: 'a', sql },
          { version: 1, name: 'b', sql },
        ]),
      (error: unknown) => error instanceof MigrationError && error.code === 'invalid-set',
    );
    assert.throws(() => migrationSet('x', [{ version: 0, name: 'a', sql }]), MigrationError);
    assert.throws(() => migrationSet('x', [{ version: 1.5, name: 'a', sql }]), MigrationError);
    assert.throws(() => migrationSet('x', [{ version: 1, name: 'a' }]), MigrationError);
  });

  it("applies pgrt's and an app's migrations once, in order, recording each", async () => {
    const app = migrationSet('app', APP_FOLDER);
    const first = await ensureSchema(db, { sets: [app] });
    assert.deepEqual(
      first.map((m) => `${m.set}:${m.version}`),
      [...PGRT_MIGRATIONS.migrations.map((m) => `pgrt:${m.version}`), 'app:1', 'app:2', 'app:3'],
    );
    assert.deepEqual(await recorded('app'), [
      { version: 1, name: 'create_notes' },
      { version: 2, name: 'add_done' },
      { version: 3, name: 'index_body' },
    ]);
    assert.equal((await recorded('pgrt')).at(-1)?.version, SCHEMA_VERSION);
    await db.query("INSERT INTO mig_notes (id, body) VALUES ('a', 'x')");
    const index = await db.query("SELECT 1 FROM pg_indexes WHERE indexname = 'mig_notes_body'");
    assert.equal(index.rowCount, 1, 'the no-transaction migration ran');
    // Again: nothing to do (a non-idempotent CREATE TABLE would fail if it ran twice).
    assert.deepEqual(await ensureSchema(db, { sets: [app] }), []);
    // A new migration appended later runs alone.
    const grown = migrationSet('app', [
      ...app.migrations,
      {
        version: 4,
        name: 'seed',
        up: (s) => s.query("INSERT INTO mig_notes (id, body) VALUES ('b', 'y')").then(() => {}),
      },
    ]);
    const third = await ensureSchema(db, { sets: [grown] });
    assert.deepEqual(
      third.map((m) => `${m.set}:${m.version}:${m.name}`),
      ['app:4:seed'],
    );
    assert.deepEqual(
      (await migrationStatus(db, [PGRT_MIGRATIONS, grown])).map((s) => [
        s.set,
        s.applied,
        s.latest,
        s.pending.length,
      ]),
      [
        ['pgrt', SCHEMA_VERSION, SCHEMA_VERSION, 0],
        ['app', 4, 4, 0],
      ],
    );
  });

  it('rolls a failing migration back entirely and keeps the ones before it', async () => {
    const set = migrationSet('app', [
      { version: 1, name: 'one', sql: 'CREATE TABLE mig_one (id int PRIMARY KEY)' },
      {
        version: 2,
        name: 'broken',
        sql: 'CREATE TABLE mig_two (id int PRIMARY KEY); INSERT INTO mig_two VALUES (1), (1)',
      },
    ]);
    await assert.rejects(ensureSchema(db, { sets: [set] }), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, 'failed');
      assert.match(error.message, /migration app 2 \(broken\) failed: duplicate key/);
      return true;
    });
    assert.deepEqual(await recorded('app'), [{ version: 1, name: 'one' }]);
    const two = await db.query("SELECT to_regclass('mig_two') AS t");
    assert.equal(two.rows[0]?.t, null, 'nothing of the failed migration stays');
    // Fixed, it runs on the next start.
    const fixed = migrationSet('app', [
      set.migrations[0]!,
      { version: 2, name: 'fixed', sql: 'CREATE TABLE mig_two (id int PRIMARY KEY)' },
    ]);
    assert.equal((await ensureSchema(db, { sets: [fixed] })).length, 1);
  });

  it('refuses a database migrated further than this code, and a migration numbered below the applied ones', async () => {
    const v1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE mig_a (id int)' };
    const v2: Migration = { version: 2, name: 'two', sql: 'CREATE TABLE mig_b (id int)' };
    const v3: Migration = { version: 3, name: 'three', sql: 'CREATE TABLE mig_c (id int)' };
    await ensureSchema(db, { sets: [migrationSet('app', [v1, v3])] });
    // Older code (knows only 1): refused, nothing changed.
    await assert.rejects(ensureSchema(db, { sets: [migrationSet('app', [v1])] }), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, 'unknown-applied');
      assert.match(
        error.message,
        /migration 3 of set 'app', which this code does not know \(its latest is 1\)/,
      );
      return true;
    });
    // A 2 added after 3 ran: refused before anything runs (another set's pending migration included).
    const other = migrationSet('other', [{ version: 1, name: 'x', sql: 'CREATE TABLE mig_x (id int)' }]);
    await assert.rejects(
      ensureSchema(db, { sets: [other, migrationSet('app', [v1, v2, v3])] }),
      (error: unknown) => error instanceof MigrationError && error.code === 'out-of-order',
    );
    assert.deepEqual(await recorded('other'), []);
    const b = await db.query("SELECT to_regclass('mig_b') AS t");
    assert.equal(b.rows[0]?.t, null);
  });

  it('logs an applied .sql migration whose text changed, and runs on', async () => {
    await ensureSchema(db, {
      sets: [migrationSet('app', [{ version: 1, name: 'a', sql: 'CREATE TABLE mig_w (id int)' }])],
    });
    const logger = recordingLogger();
    const edited = migrationSet('app', [
      { version: 1, name: 'a', sql: '-- commented\nCREATE TABLE mig_w (id int)' },
    ]);
    assert.deepEqual(await ensureSchema(db, { sets: [edited], logger }), []);
    assert.deepEqual(logger.warnings, [
      'an applied migration changed since it ran; the database keeps what ran then',
    ]);
  });

  it('serialises processes starting at once on an empty database: each migration runs once, nobody fails', async () => {
    // Non-idempotent DDL in the set, and the racy CREATE TABLE IF NOT EXISTS of an unversioned migrate function:
    // without the lock, concurrent runs fail (duplicate table / pg_type unique violation).
    const set = migrationSet('app', [
      { version: 1, name: 'create', sql: 'CREATE TABLE mig_race (id int PRIMARY KEY)' },
      { version: 2, name: 'seed', sql: 'INSERT INTO mig_race VALUES (1)' },
    ]);
    const migrate = async (q: { query(text: string): Promise<unknown> }): Promise<void> => {
      await q.query('CREATE TABLE IF NOT EXISTS mig_race_fn (id int PRIMARY KEY, body text)');
    };
    const processes = [0, 1, 2, 3].map(() => new PgDatabase(scratch.url, { poolSize: 2 }));
    try {
      const results = await Promise.all(processes.map((p) => ensureSchema(p, { sets: [set], migrate })));
      const appApplied = results.map((r) => r.filter((m) => m.set === 'app').length);
      assert.deepEqual(
        appApplied.sort(),
        [0, 0, 0, 2],
        'one process applied the app set, the others found it applied',
      );
      const rows = await db.query('SELECT id FROM mig_race');
      assert.equal(rows.rowCount, 1);
      assert.equal((await recorded('pgrt')).length, PGRT_MIGRATIONS.migrations.length);
    } finally {
      await Promise.all(processes.map((p) => p.close()));
    }
  });

  it('holds the lock for the whole callback: a second process waits for it', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const first = withMigrationLock(db, async () => {
      order.push('first in');
      entered();
      await held;
      order.push('first out');
    });
    await inside;
    const other = new PgDatabase(scratch.url, { poolSize: 1 });
    try {
      const second = withMigrationLock(other, async () => {
        order.push('second in');
      });
      // The second is blocked on pg_advisory_lock: its session shows up waiting on the advisory lock.
      const waiting = async (): Promise<boolean> => {
        const r = await db.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgrt-migrate' AND wait_event = 'advisory'",
        );
        return (r.rowCount ?? 0) > 0;
      };
      await waitUntil(waiting, { what: () => 'the second process to wait on the advisory lock' });
      assert.deepEqual(order, ['first in']);
      release();
      await Promise.all([first, second]);
      assert.deepEqual(order, ['first in', 'first out', 'second in']);
    } finally {
      await other.close();
    }
  });

  it('adopts a database at pre-release schema 5 and refuses an older one', async () => {
    // What pre-release pgrt left at schema 5: parts 1-3, a schema_version table, the 4-argument logical_append.
    await db.query('CREATE SCHEMA pgrt');
    for (const migration of PGRT_MIGRATIONS.migrations.slice(0, 3)) await db.query(migration.sql!);
    await db.query(`CREATE FUNCTION pgrt.logical_append(lsn pg_lsn, threshold int, channels text[], payloads text[])
                    RETURNS int LANGUAGE sql AS 'SELECT 0'`);
    await db.query('CREATE TABLE pgrt.schema_version (version int NOT NULL)');
    await db.query('INSERT INTO pgrt.schema_version VALUES (4)');
    await assert.rejects(ensureSchema(db), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, 'legacy-schema');
      assert.match(error.message, /pre-release pgrt at version 4/);
      return true;
    });
    await db.query('UPDATE pgrt.schema_version SET version = 5');
    const applied = await ensureSchema(db);
    assert.deepEqual(
      applied.map((m) => m.version),
      PGRT_MIGRATIONS.migrations.slice(3).map((m) => m.version),
      'parts 1-3 adopted, the rest applied',
    );
    assert.deepEqual(
      (await recorded('pgrt')).map((m) => m.version),
      PGRT_MIGRATIONS.migrations.map((m) => m.version),
    );
    const overloads = await db.query(
      "SELECT p.oid::regprocedure::text AS f FROM pg_proc p WHERE p.proname = 'logical_append'",
    );
    assert.deepEqual(
      overloads.rows.map((r) => r.f),
      ['pgrt.logical_append(pg_lsn,integer,text[],integer[],text[])'],
    );
    // What a pre-release pgrt reads at start: one above the last part; from part 5 on (6) it refuses to run.
    const legacy = await db.query<{ version: number }>(
      'SELECT max(version) AS version FROM pgrt.schema_version',
    );
    assert.equal(legacy.rows[0]?.version, SCHEMA_VERSION + 1);
  });

  it('runs everything through one locked session: transactions nest, a failed one leaves the session usable', async () => {
    await withMigrationLock(db, async (session) => {
      await assert.rejects(
        session.transaction(async (client) => {
          await client.query('CREATE TABLE mig_tx (id int)');
          await session.transaction(async (inner) => inner.query('INSERT INTO mig_tx VALUES (1)'));
          throw new Error('nope');
        }),
        /nope/,
      );
      const gone = await session.query<{ t: string | null }>("SELECT to_regclass('mig_tx')::text AS t");
      assert.equal(gone.rows[0]?.t, null);
      const applied = await applyMigrations(session, [
        migrationSet('app', [{ version: 1, name: 'a', sql: 'CREATE TABLE mig_tx (id int)' }]),
      ]);
      assert.equal(applied.length, 1);
    });
    const held = await db.query(
      "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = x'70677274'::int AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    assert.equal(held.rowCount, 0, 'the lock was released');
  });

  it('through a transaction-mode pooler: one transaction with a transaction-level lock, nothing left held', async () => {
    const bouncer = await PgBouncer.start({ upstream: scratch.url, mode: 'transaction', poolSize: 3 });
    const pooled = [0, 1, 2].map(
      () => new PgDatabase(bouncer.url(new URL(scratch.url).pathname.slice(1)), { poolSize: 2 }),
    );
    try {
      const set = migrationSet('app', [
        { version: 1, name: 'create', sql: 'CREATE TABLE mig_pooled (id int PRIMARY KEY)' },
        { version: 2, name: 'seed', sql: 'INSERT INTO mig_pooled VALUES (1)' },
      ]);
      const results = await Promise.all(pooled.map((p) => ensureSchema(p, { sets: [set] })));
      assert.deepEqual(results.map((r) => r.filter((m) => m.set === 'app').length).sort(), [0, 0, 2]);
      // This database's only: other processes on the server (pumps of other databases) hold their own.
      const locks = await db.query(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      assert.equal(locks.rowCount, 0, 'no advisory lock stays on a pooled backend');
      const concurrently = migrationSet('app', [
        ...set.migrations,
        {
          version: 3,
          name: 'index',
          sql: 'CREATE INDEX CONCURRENTLY mig_pooled_id ON mig_pooled (id)',
          transaction: false,
        },
      ]);
      await assert.rejects(ensureSchema(pooled[0]!, { sets: [concurrently] }), /needs a direct connection/);
    } finally {
      await Promise.all(pooled.map((p) => p.close()));
      await bouncer.stop();
    }
  });
});
