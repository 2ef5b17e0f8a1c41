/**
 * `pgrt doctor [app]`: checks a database for pgrt and prints one line per check (`ok`, `warn`, `FAIL`): server
 * version, the permissions to create the `pgrt` schema and triggers, the `pgrt` schema version, how each of the app's
 * collection tables is captured — or, without an app, which tables are — then `wal_level`, the capture slot, the
 * NOTIFY queue, whether the LISTEN connection (`listenDatabaseUrl`, else the database URL) owns a backend or goes
 * through a transaction-mode pooler (doctor-connections.ts), and a LISTEN/NOTIFY round trip between two
 * connections, timed. Exit code 1 when a check failed.
 * Read-only: it creates nothing.
 *
 * The checks follow the configuration's capture mode (docs/reference.md "Capture modes"). `notify`/`outbox`: capture
 * triggers on every table, any `wal_level`, and no capture slot (a `pgrt_<database oid>` slot left from the
 * `logical` mode retains WAL for ever). `logical`: every table in publication `pgrt_capture` and registered in
 * `pgrt.logical_tables`, `wal_level=logical`, a role that may open a replication connection, and the slot: missing
 * (the server or `pgrt migrate` creates it), or how much WAL it retains.
 */
import type { Command } from 'commander';
import pg from 'pg';
import type { AnyProtocolAdapter } from '../../adapters/protocol-adapter.js';
import { maskUrl } from '../../config/mask-secrets.js';
import { logicalSlotName } from '../../core/capture/logical/slot.js';
import type { Queryable } from '../../core/database/database.js';
import {
  CAPTURE_TRIGGER,
  type CaptureModeName as CaptureMode,
  LOGICAL_PUBLICATION,
} from '../../core/database/schema.js';
import type { AppModule } from '../app-module.js';
import { addConfigOptions, type ConfigFlagValues, loadConfigWithApp } from '../config-options.js';
import { type Output, UsageError } from '../output.js';
import { poolerChecks, replicationCheck, roundTrip } from './doctor-connections.js';
import { checkMigrations } from './doctor-migrations.js';

/** Oldest PostgreSQL pgrt's SQL runs on (`pg_current_xact_id`, `xid8`). */
export const MIN_SERVER_VERSION_NUM = 130000;

/** Oldest PostgreSQL of capture mode `logical` (pgoutput's `messages` option, for fences). */
export const MIN_LOGICAL_SERVER_VERSION_NUM = 140000;

/** A capture slot retaining more WAL than this is a warning: the disk fills while no pump consumes it (1 GiB). */
export const SLOT_RETAINED_WARN_BYTES = 1024 ** 3;

/** A check's verdict. */
export type Verdict = 'ok' | 'warn' | 'FAIL';

/** One line of the report. */
export interface Check {
  readonly verdict: Verdict;
  readonly name: string;
  readonly detail: string;
}

/** Registers `doctor` on `program`. */
export function registerDoctor(program: Command, io: Output, adapters: readonly AnyProtocolAdapter[]): void {
  const command = program
    .command('doctor')
    .summary('check a database for pgrt (version, permissions, capture, wal_level, slot, LISTEN/NOTIFY)')
    .description(
      'Check the database in the configuration (--database-url, PGRT_DATABASE_URL or DATABASE_URL): server ' +
        "version, permissions, pgrt schema, the capture of the app's tables in the configured capture mode " +
        '(triggers; or publication and registry for capture logical), wal_level, the logical capture slot and ' +
        'replication privilege, a transaction-mode pooler on the LISTEN URL (--listen-database-url), and a timed ' +
        'LISTEN/NOTIFY round trip. Read-only. Exit code 1 when a check fails.',
    )
    .argument('[app]', 'app module whose collection tables to check (default: `app` in the config file)');
  addConfigOptions(command, false, adapters);
  command.action(async (appArgument: string | undefined, values: ConfigFlagValues) => {
    const { loaded, module } = await loadConfigWithApp(values, { app: appArgument }, process.env, adapters);
    const { config, warnings } = loaded;
    for (const warning of warnings) io.err(`warning: ${warning}\n`);
    if (!config.databaseUrl)
      throw new UsageError('doctor needs a database: --database-url, PGRT_DATABASE_URL or DATABASE_URL');
    io.out(`pgrt doctor: ${maskUrl(config.databaseUrl)} (capture ${config.capture})\n`);
    const checks = await runChecks(
      config.databaseUrl,
      module,
      {
        channel: config.channel,
        capture: config.capture,
        ...(config.listenDatabaseUrl ? { listenUrl: config.listenDatabaseUrl } : {}),
      },
      (check) => io.out(`${check.verdict.padEnd(4)}  ${check.name}: ${check.detail}\n`),
    );
    const failed = checks.filter((c) => c.verdict === 'FAIL').length;
    const warned = checks.filter((c) => c.verdict === 'warn').length;
    io.out(`\n${checks.length} checks: ${failed} failed, ${warned} warnings\n`);
    if (failed > 0) process.exitCode = 1;
  });
}

/** What the checks compare the database with: the configuration's channel and capture mode. */
export interface DoctorTarget {
  readonly channel: string;
  readonly capture: CaptureMode;
  /** The configuration's `listenDatabaseUrl` (default: the checked URL). */
  readonly listenUrl?: string;
}

/** Runs every check against `url`, reporting each as it completes. */
export async function runChecks(
  url: string,
  module: AppModule | undefined,
  target: DoctorTarget,
  report: (check: Check) => void,
): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (verdict: Verdict, name: string, detail: string): void => {
    const check = { verdict, name, detail };
    checks.push(check);
    report(check);
  };
  const { capture, channel } = target;
  const listenUrl = target.listenUrl ?? url;
  const logical = capture === 'logical';
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    application_name: 'pgrt-doctor',
  });
  const started = performance.now();
  try {
    await client.connect();
  } catch (error) {
    add('FAIL', 'connect', error instanceof Error ? error.message : String(error));
    return checks;
  }
  try {
    add('ok', 'connect', `${Math.round(performance.now() - started)} ms`);
    const one = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T> =>
      (await client.query<T>(sql, params)).rows[0]!;

    const version = await one<{ num: string; text: string }>(
      "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS text",
    );
    if (Number(version.num) < MIN_SERVER_VERSION_NUM)
      add('FAIL', 'server version', `PostgreSQL ${version.text}; pgrt needs 13 or later`);
    else if (logical && Number(version.num) < MIN_LOGICAL_SERVER_VERSION_NUM)
      add('FAIL', 'server version', `PostgreSQL ${version.text}; capture 'logical' needs 14 or later`);
    else add('ok', 'server version', `PostgreSQL ${version.text}`);

    const who = await one<{ user: string; db: string; create: boolean; superuser: boolean }>(
      `SELECT current_user AS user, current_database() AS db,
              has_database_privilege(current_database(), 'CREATE') AS create,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`,
    );
    const schema = await client.query<{ owner: string; create: boolean; usage: boolean }>(
      `SELECT nspowner::regrole::text AS owner, has_schema_privilege(oid, 'CREATE') AS create,
              has_schema_privilege(oid, 'USAGE') AS usage
         FROM pg_namespace WHERE nspname = 'pgrt'`,
    );
    const pgrtSchema = schema.rows[0];
    let installed: number | null = null;
    if (!pgrtSchema) {
      if (who.create) add('ok', 'permissions', `${who.user} may create the pgrt schema in ${who.db}`);
      else
        add(
          'FAIL',
          'permissions',
          `${who.user} may not CREATE in database ${who.db}: GRANT CREATE ON DATABASE`,
        );
      add('warn', 'pgrt schema', 'not installed yet (pgrt serve or pgrt migrate installs it)');
    } else {
      if (pgrtSchema.usage && pgrtSchema.create)
        add('ok', 'permissions', `${who.user} may use and change schema pgrt (owner ${pgrtSchema.owner})`);
      else
        add(
          'FAIL',
          'permissions',
          `${who.user} lacks USAGE/CREATE on schema pgrt (owner ${pgrtSchema.owner})`,
        );
      installed = await checkMigrations(client, module, add);
    }
    // Logical mode's registry (pgrt migration 3): table name (`schema.table`) → channel. Empty when nothing can
    // be registered yet (no schema, or an older one); undefined when it exists but this role cannot read it.
    let registry: Map<string, string> | undefined = new Map();
    if (logical && pgrtSchema && installed === null) registry = undefined;
    else if (logical && pgrtSchema && installed !== null && installed >= 3) {
      registry = await client
        .query<{ table: string; channel: string }>(
          'SELECT table_name AS table, channel FROM pgrt.logical_tables',
        )
        .then((r) => new Map(r.rows.map((row) => [row.table, row.channel])))
        .catch(() => undefined);
    }

    if (module) {
      for (const definition of module.app.collections.values()) {
        const name = `table ${definition.table}`;
        const table = await one<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [
          definition.table,
        ]);
        if (!table.oid) {
          add(
            module.migrate ? 'warn' : 'FAIL',
            name,
            module.migrate ? "missing (the app's migrate creates it: pgrt migrate)" : 'missing',
          );
          continue;
        }
        const info = await one<{
          qualified: string;
          trigger: boolean;
          owner: boolean;
          published: boolean;
          triggers: string[];
        }>(
          `SELECT n.nspname || '.' || c.relname AS qualified, has_table_privilege(c.oid, 'TRIGGER') AS trigger,
                  pg_has_role(c.relowner, 'USAGE') AS owner,
                  EXISTS (SELECT 1 FROM pg_publication_tables p
                           WHERE p.pubname = $2 AND p.schemaname = n.nspname AND p.tablename = c.relname) AS published,
                  coalesce((SELECT array_agg(tgname::text ORDER BY tgname) FROM pg_trigger
                             WHERE tgrelid = c.oid AND NOT tgisinternal), '{}'::text[]) AS triggers
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`,
          [table.oid, LOGICAL_PUBLICATION],
        );
        const triggers = info.triggers.filter((t) => t.startsWith(CAPTURE_TRIGGER));
        const others = info.triggers.filter((t) => !t.startsWith(CAPTURE_TRIGGER));
        const otherText = others.length > 0 ? `; other triggers: ${others.join(', ')}` : '';
        if (logical) {
          const registered = registry?.get(info.qualified);
          if (info.published && registered !== undefined && triggers.length > 0)
            add(
              'warn',
              name,
              `in publication ${LOGICAL_PUBLICATION}, but capture triggers ${triggers.join(', ')} are installed too ` +
                '(a process in notify/outbox mode? every process must use the same mode)',
            );
          else if (info.published && registered !== undefined && registered !== channel)
            add(
              'warn',
              name,
              `registered for channel ${registered}, this configuration listens on ${channel} (pgrt migrate re-registers it)`,
            );
          else if (info.published && registered !== undefined)
            add(
              'ok',
              name,
              `in publication ${LOGICAL_PUBLICATION}, registered in pgrt.logical_tables${otherText}`,
            );
          else if (info.published && registry === undefined)
            add(
              'warn',
              name,
              `in publication ${LOGICAL_PUBLICATION}; registration unknown: ${who.user} cannot read pgrt.logical_tables`,
            );
          else if (!info.published && !info.owner)
            add(
              'FAIL',
              name,
              `not in publication ${LOGICAL_PUBLICATION}, and ${who.user} does not own it (adding it needs the owner)`,
            );
          else {
            const missing = [
              ...(info.published ? [] : [`not in publication ${LOGICAL_PUBLICATION}`]),
              ...(registered !== undefined ? [] : ['not registered in pgrt.logical_tables']),
            ];
            add('warn', name, `${missing.join(', ')} yet (pgrt migrate, or serve installs it)${otherText}`);
          }
        } else if (!info.trigger) add('FAIL', name, `${who.user} lacks the TRIGGER privilege${otherText}`);
        else if (triggers.length > 0) add('ok', name, `capture triggers ${triggers.join(', ')}${otherText}`);
        else add('warn', name, `no capture triggers yet (pgrt migrate, or serve installs them)${otherText}`);
      }
    } else if (logical) {
      const published = await client.query<{ table: string }>(
        `SELECT schemaname || '.' || tablename AS table FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
        [LOGICAL_PUBLICATION],
      );
      const tables = published.rows.map((r) =>
        registry === undefined || registry.has(r.table) ? r.table : `${r.table} (not registered)`,
      );
      add(
        'ok',
        'captured tables',
        tables.length > 0
          ? tables.join(', ')
          : `none in publication ${LOGICAL_PUBLICATION} (no app module given)`,
      );
    } else if (pgrtSchema) {
      const captured = await client.query<{ table: string }>(
        `SELECT DISTINCT tgrelid::regclass::text AS table FROM pg_trigger WHERE tgname = $1 ORDER BY 1`,
        [CAPTURE_TRIGGER],
      );
      add(
        'ok',
        'captured tables',
        captured.rows.length > 0
          ? captured.rows.map((r) => r.table).join(', ')
          : 'none (no app module given)',
      );
    }

    const wal = await one<{ wal_level: string }>('SHOW wal_level');
    if (!logical)
      add(
        'ok',
        'wal_level',
        `${wal.wal_level} (capture '${capture}' does not decode the WAL: any level works)`,
      );
    else if (wal.wal_level === 'logical')
      add('ok', 'wal_level', "logical (capture 'logical' decodes the WAL)");
    else
      add(
        'FAIL',
        'wal_level',
        `${wal.wal_level}: capture 'logical' needs wal_level=logical: ALTER SYSTEM SET wal_level = logical, ` +
          "then restart PostgreSQL (or use capture 'outbox')",
      );

    const slot = await logicalSlotName(queryableOf(client));
    if (logical) {
      add(...(await replicationCheck(listenUrl, who.user)));
      add(...(await slotCheck(client, slot)));
    } else {
      add(...(await staleSlotCheck(client, slot, capture)));
    }

    const queue = await one<{ usage: number }>('SELECT pg_notification_queue_usage() AS usage');
    const percent = (queue.usage * 100).toFixed(1);
    if (queue.usage < 0.5) add('ok', 'notify queue', `${percent}% used`);
    else add('warn', 'notify queue', `${percent}% used: a listener is not reading (idle in transaction?)`);

    const connections = await poolerChecks(url, listenUrl);
    for (const check of connections) add(...check);
    if (connections.some(([verdict, name]) => verdict === 'FAIL' && name === 'listen connection'))
      add(
        'FAIL',
        'LISTEN/NOTIFY',
        'not tried: the listen connection cannot receive notifications (see above)',
      );
    else add(...(await roundTrip(url, listenUrl, channel)));
  } catch (error) {
    add('FAIL', 'query', error instanceof Error ? error.message : String(error));
  } finally {
    await client.end().catch(() => {});
  }
  return checks;
}

/** `client` as the core's {@link Queryable}. */
function queryableOf(client: pg.Client): Queryable {
  return {
    async query<T>(text: string, params?: readonly unknown[]) {
      const result = await client.query(text, params ? [...params] : []);
      return { rows: result.rows as T[], rowCount: result.rowCount };
    },
  };
}

interface SlotRow {
  plugin: string | null;
  active: boolean;
  active_pid: number | null;
  wal_status: string | null;
  retained: string | null;
  pretty: string | null;
}

async function readSlot(client: pg.Client, slot: string): Promise<SlotRow | undefined> {
  const result = await client.query<SlotRow>(
    `SELECT plugin, active, active_pid, wal_status,
            (pg_current_wal_lsn() - confirmed_flush_lsn)::int8::text AS retained,
            pg_size_pretty(pg_current_wal_lsn() - confirmed_flush_lsn) AS pretty
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return result.rows[0];
}

/** Logical mode: the capture slot exists, is pgoutput and not invalidated, and how much WAL it keeps. */
async function slotCheck(client: pg.Client, slot: string): Promise<[Verdict, string, string]> {
  const name = `capture slot ${slot}`;
  const found = await readSlot(client, slot);
  if (!found) {
    const room = await client.query<{ used: number; max: number }>(
      `SELECT (SELECT count(*) FROM pg_replication_slots)::int AS used,
              current_setting('max_replication_slots')::int AS max`,
    );
    const { used, max } = room.rows[0]!;
    if (used >= max)
      return [
        'FAIL',
        name,
        `missing, and all ${max} replication slots are taken (raise max_replication_slots)`,
      ];
    return [
      'warn',
      name,
      'missing: pgrt migrate (or the first server) creates it; changes before that are not captured',
    ];
  }
  if (found.plugin !== 'pgoutput')
    return [
      'FAIL',
      name,
      `exists with plugin ${found.plugin}, not pgoutput: drop it (pg_drop_replication_slot)`,
    ];
  if (found.wal_status === 'lost')
    return [
      'FAIL',
      name,
      `invalidated (its WAL was removed, max_slot_wal_keep_size?): changes were lost; drop it ` +
        `(SELECT pg_drop_replication_slot('${slot}')) and pgrt recreates it and makes listeners resync`,
    ];
  const retained = Number(found.retained ?? 0);
  const state = found.active
    ? `active (pid ${found.active_pid}), ${found.pretty ?? '0 bytes'} of WAL not yet confirmed`
    : `inactive (no pgrt process streams it), retains ${found.pretty ?? '0 bytes'} of WAL`;
  if (retained > SLOT_RETAINED_WARN_BYTES)
    return [
      'warn',
      name,
      `${state}: the disk fills while it grows (start a pgrt server; leaving capture 'logical', drop the slot)`,
    ];
  return ['ok', name, state];
}

/** Notify/outbox mode: a capture slot left from the logical mode retains WAL for ever. */
async function staleSlotCheck(
  client: pg.Client,
  slot: string,
  capture: CaptureMode,
): Promise<[Verdict, string, string]> {
  const name = 'capture slot';
  const found = await readSlot(client, slot);
  if (!found) return ['ok', name, `none (capture '${capture}' needs no replication slot)`];
  if (found.active)
    return [
      'warn',
      name,
      `${slot} is active (pid ${found.active_pid}): a process on this database runs capture 'logical'; ` +
        'every process must use the same mode',
    ];
  return [
    'warn',
    name,
    `${slot} is left from capture 'logical' and retains ${found.pretty ?? '0 bytes'} of WAL, growing for ever: ` +
      `SELECT pg_drop_replication_slot('${slot}')`,
  ];
}
