/**
 * `pgrt doctor [app]`: checks a database for pgrt and prints one line per check (`ok`, `warn`, `FAIL`): server
 * version, the permissions to create the `pgrt` schema and triggers, the `pgrt` schema version, the capture
 * triggers (and any other triggers) on the app's collection tables — or, without an app, the tables that have
 * capture triggers — `wal_level`, the NOTIFY queue, and a LISTEN/NOTIFY round trip between two connections, timed.
 * Exit code 1 when a check failed. Read-only: it creates nothing.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import pg from 'pg';
import { maskUrl } from '../../config/mask-secrets.js';
import { CAPTURE_TRIGGER, SCHEMA_VERSION } from '../../core/database/schema.js';
import { type AppModule, loadAppModule } from '../app-module.js';
import { addConfigOptions, type ConfigFlagValues, loadConfigFromFlags } from '../config-options.js';
import { type Output, UsageError } from '../output.js';

/** Oldest PostgreSQL pgrt's SQL runs on (`pg_current_xact_id`, `xid8`). */
export const MIN_SERVER_VERSION_NUM = 130000;

/** A check's verdict. */
export type Verdict = 'ok' | 'warn' | 'FAIL';

/** One line of the report. */
export interface Check {
  readonly verdict: Verdict;
  readonly name: string;
  readonly detail: string;
}

/** Registers `doctor` on `program`. */
export function registerDoctor(program: Command, io: Output): void {
  const command = program
    .command('doctor')
    .summary('check a database for pgrt (version, permissions, triggers, wal_level, LISTEN/NOTIFY)')
    .description(
      'Check the database in the configuration (--database-url, PGRT_DATABASE_URL or DATABASE_URL): server ' +
        "version, permissions, pgrt schema, capture triggers on the app's tables, wal_level and a timed " +
        'LISTEN/NOTIFY round trip. Read-only. Exit code 1 when a check fails.',
    )
    .argument('[app]', 'app module whose collection tables to check (default: `app` in the config file)');
  addConfigOptions(command, false);
  command.action(async (appArgument: string | undefined, values: ConfigFlagValues) => {
    const { config, warnings } = loadConfigFromFlags(values, { app: appArgument });
    for (const warning of warnings) io.err(`warning: ${warning}\n`);
    if (!config.databaseUrl)
      throw new UsageError('doctor needs a database: --database-url, PGRT_DATABASE_URL or DATABASE_URL');
    const module = config.app ? await loadAppModule(config.app) : undefined;
    io.out(`pgrt doctor: ${maskUrl(config.databaseUrl)}\n`);
    const checks = await runChecks(config.databaseUrl, module, config.channel, (check) =>
      io.out(`${check.verdict.padEnd(4)}  ${check.name}: ${check.detail}\n`),
    );
    const failed = checks.filter((c) => c.verdict === 'FAIL').length;
    const warned = checks.filter((c) => c.verdict === 'warn').length;
    io.out(`\n${checks.length} checks: ${failed} failed, ${warned} warnings\n`);
    if (failed > 0) process.exitCode = 1;
  });
}

/** Runs every check against `url`, reporting each as it completes. */
export async function runChecks(
  url: string,
  module: AppModule | undefined,
  channel: string,
  report: (check: Check) => void,
): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (verdict: Verdict, name: string, detail: string): void => {
    const check = { verdict, name, detail };
    checks.push(check);
    report(check);
  };
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
    if (Number(version.num) >= MIN_SERVER_VERSION_NUM)
      add('ok', 'server version', `PostgreSQL ${version.text}`);
    else add('FAIL', 'server version', `PostgreSQL ${version.text}; pgrt needs 13 or later`);

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
      const installed = await client
        .query<{ version: number | null }>('SELECT max(version) AS version FROM pgrt.schema_version')
        .then((r) => r.rows[0]?.version ?? null)
        .catch(() => null);
      if (installed === SCHEMA_VERSION) add('ok', 'pgrt schema', `version ${installed}`);
      else if (installed !== null && installed > SCHEMA_VERSION)
        add('FAIL', 'pgrt schema', `version ${installed} is newer than this pgrt (${SCHEMA_VERSION})`);
      else
        add(
          'warn',
          'pgrt schema',
          `version ${installed ?? 'unknown'}; this pgrt installs ${SCHEMA_VERSION} (pgrt migrate)`,
        );
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
        const info = await one<{ trigger: boolean; triggers: string[] }>(
          `SELECT has_table_privilege($1::oid, 'TRIGGER') AS trigger,
                  coalesce(array_agg(tgname::text ORDER BY tgname) FILTER (WHERE tgname IS NOT NULL), '{}'::text[]) AS triggers
             FROM (SELECT $1::oid AS oid) t LEFT JOIN pg_trigger ON tgrelid = t.oid AND NOT tgisinternal`,
          [table.oid],
        );
        const capture = info.triggers.filter((t) => t.startsWith(CAPTURE_TRIGGER));
        const others = info.triggers.filter((t) => !t.startsWith(CAPTURE_TRIGGER));
        const otherText = others.length > 0 ? `; other triggers: ${others.join(', ')}` : '';
        if (!info.trigger) add('FAIL', name, `${who.user} lacks the TRIGGER privilege${otherText}`);
        else if (capture.length > 0) add('ok', name, `capture triggers ${capture.join(', ')}${otherText}`);
        else add('warn', name, `no capture triggers yet (pgrt migrate, or serve installs them)${otherText}`);
      }
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
    add(
      'ok',
      'wal_level',
      `${wal.wal_level} (pgrt uses LISTEN/NOTIFY, not logical decoding: any level works)`,
    );

    const queue = await one<{ usage: number }>('SELECT pg_notification_queue_usage() AS usage');
    const percent = (queue.usage * 100).toFixed(1);
    if (queue.usage < 0.5) add('ok', 'notify queue', `${percent}% used`);
    else add('warn', 'notify queue', `${percent}% used: a listener is not reading (idle in transaction?)`);

    add(...(await roundTrip(url, channel)));
  } catch (error) {
    add('FAIL', 'query', error instanceof Error ? error.message : String(error));
  } finally {
    await client.end().catch(() => {});
  }
  return checks;
}

/** LISTEN on one connection, NOTIFY from another, time the delivery (a private channel: no pgrt server sees it). */
async function roundTrip(url: string, channel: string): Promise<[Verdict, string, string]> {
  const name = 'LISTEN/NOTIFY';
  const probe = `${channel}_doctor_${randomBytes(4).toString('hex')}`;
  const listener = new pg.Client({ connectionString: url, application_name: 'pgrt-doctor' });
  const notifier = new pg.Client({ connectionString: url, application_name: 'pgrt-doctor' });
  try {
    await Promise.all([listener.connect(), notifier.connect()]);
    await listener.query(`LISTEN ${pg.escapeIdentifier(probe)}`);
    const payload = randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      listener.on('notification', (message) => {
        if (message.channel === probe && message.payload === payload) resolve(true);
      });
      timer = setTimeout(() => resolve(false), 5000);
    });
    const started = performance.now();
    await notifier.query('SELECT pg_notify($1, $2)', [probe, payload]);
    const ok = await arrived;
    clearTimeout(timer);
    if (!ok) return ['FAIL', name, 'notification not delivered within 5 s'];
    return ['ok', name, `round trip ${(performance.now() - started).toFixed(1)} ms between two connections`];
  } catch (error) {
    return ['FAIL', name, error instanceof Error ? error.message : String(error)];
  } finally {
    await Promise.all([listener.end().catch(() => {}), notifier.end().catch(() => {})]);
  }
}
