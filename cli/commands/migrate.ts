/**
 * `pgrt migrate [app]`: prepares the database without serving — under the start-up advisory lock, applies pgrt's
 * migrations, the app's migration sets (`app.migrations(…)`) and runs the app module's `migrate(db)`; then installs
 * the capture of every collection the app registers in the configured capture mode (the same idempotent steps
 * `serve` runs at start). Without an app module only the `pgrt` schema is installed. Pair it with `installTriggers: false` to keep DDL out of server start-up.
 *
 * Capture mode `logical` (docs/reference.md "Capture modes"): `wal_level` is checked first (nothing is changed when
 * it is not `logical`); each table joins publication `pgrt_capture` and `pgrt.logical_tables` instead of getting
 * triggers; then the capture slot `pgrt_<database oid>` is created, so every change committed from then on is kept
 * for the first server's pump, however much later it starts (the slot retains WAL until then).
 */
import type { Command } from 'commander';
import type { AnyProtocolAdapter } from '../../adapters/protocol-adapter.js';
import { maskUrl } from '../../config/mask-secrets.js';
import { ensureLogicalSlot, logicalSlotName } from '../../core/capture/logical/slot.js';
import { PgDatabase } from '../../core/database/database.js';
import {
  APP_EMBEDDED_SETTINGS,
  type EmbeddedPostgresHandle,
  startEmbeddedPostgres,
} from '../../core/database/embedded-postgres.js';
import { introspectTable } from '../../core/database/introspect.js';
import {
  ensureSchema,
  installCapture,
  LOGICAL_PUBLICATION,
  PGRT_MIGRATIONS,
} from '../../core/database/schema.js';
import { addConfigOptions, type ConfigFlagValues, loadConfigWithApp } from '../config-options.js';
import { createCliLogger } from '../logger.js';
import type { Output } from '../output.js';

/** Registers `migrate` on `program`. */
export function registerMigrate(program: Command, io: Output, adapters: readonly AnyProtocolAdapter[]): void {
  const command = program
    .command('migrate')
    .summary("install or upgrade the pgrt schema and the app's capture (triggers, or publication and slot)")
    .description(
      "Apply pgrt's migrations and the app's (its migration sets, then its migrate(db)) under the start-up lock, " +
        'and install the capture of every collection table in the configured capture mode, without serving: ' +
        "triggers, or for capture 'logical' publication pgrt_capture and then the replication slot. Idempotent. " +
        'Without an app module: the pgrt schema only.',
    )
    .argument('[app]', 'app module path (default: `app` in the config file)');
  addConfigOptions(command, false, adapters);
  command.action(async (appArgument: string | undefined, values: ConfigFlagValues) => {
    const { loaded, module } = await loadConfigWithApp(values, { app: appArgument }, process.env, adapters);
    const { config, warnings } = loaded;
    for (const warning of warnings) io.err(`warning: ${warning}\n`);
    let embedded: EmbeddedPostgresHandle | undefined;
    let url = config.databaseUrl;
    if (!url) {
      io.out(`starting the embedded PostgreSQL in ${config.embeddedDataDir} …\n`);
      embedded = await startEmbeddedPostgres({
        dataDir: config.embeddedDataDir,
        settings: APP_EMBEDDED_SETTINGS,
      });
      url = embedded.url;
    }
    const logger = createCliLogger({
      ...config,
      logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel,
    });
    const db = new PgDatabase(url, { poolSize: 2, logger });
    const step = async <T>(label: string, run: () => Promise<T>): Promise<T> => {
      io.out(`${label} …`);
      const started = performance.now();
      try {
        const result = await run();
        io.out(` done (${Math.round(performance.now() - started)} ms)\n`);
        return result;
      } catch (error) {
        io.out(' failed\n');
        throw error;
      }
    };
    const logical = config.capture === 'logical';
    try {
      io.out(`database ${maskUrl(url)}\n`);
      if (logical) {
        // Before any change: a database that cannot decode the WAL gets nothing half-installed.
        const level = (await db.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
        if (level !== 'logical') {
          io.err(
            `pgrt: capture 'logical' needs wal_level=logical (it is ${level}): ALTER SYSTEM SET wal_level = ` +
              "logical, then restart PostgreSQL; or use capture 'outbox'. Nothing was changed.\n",
          );
          process.exitCode = 1;
          return;
        }
      }
      // pgrt's migrations, the app's migration sets and its migrate(db), under the start-up lock (as `serve` does).
      const sets = module?.app.migrationSets ?? [];
      const migrate = module?.migrate;
      const latest = [PGRT_MIGRATIONS, ...sets].map(
        (set) => `${set.name} ${set.migrations.at(-1)?.version ?? 0}`,
      );
      io.out(`migrations (${latest.join(', ')}) under the start-up lock …\n`);
      const started = performance.now();
      const applied = await ensureSchema(db, {
        sets,
        logger,
        onApplied: (m) => io.out(`  ${m.set} ${m.version} ${m.name} … done (${Math.round(m.ms)} ms)\n`),
        ...(migrate
          ? { migrate: (session) => step(`  app migrate (${module.path})`, () => migrate(session)) }
          : {}),
      });
      io.out(
        `migrations: ${applied.length} applied, ${applied.length === 0 ? 'all were applied already, ' : ''}` +
          `done (${Math.round(performance.now() - started)} ms)\n`,
      );
      const collections = [...(module?.app.collections.values() ?? [])];
      const what = logical
        ? `logical capture (publication ${LOGICAL_PUBLICATION}) of`
        : 'capture triggers on';
      for (const [index, definition] of collections.entries()) {
        await step(`[${index + 1}/${collections.length}] ${what} ${definition.table}`, async () => {
          const table = await introspectTable(db, definition.table);
          await installCapture(db, table, {
            channel: config.channel,
            spillThresholdBytes: config.spillThresholdBytes,
            mode: config.capture,
          });
        });
      }
      // After the tables joined the publication, as the core does at start; the slot keeps every later change.
      if (logical && collections.length > 0) {
        const slot = await logicalSlotName(db);
        await step(`capture slot ${slot} (pgoutput)`, () => ensureLogicalSlot(db, logger));
      }
      if (!module) io.out('no app module given: installed the pgrt schema only\n');
      io.out('migrate: ok\n');
    } finally {
      await db.close();
      await embedded?.stop();
    }
  });
}
