/**
 * `pgrt migrate [app]`: prepares the database without serving — runs the app module's `migrate(db)`, installs or
 * upgrades the `pgrt` schema, and installs the capture triggers of every collection the app registers (the same
 * idempotent steps `serve` runs at start). Without an app module only the `pgrt` schema is installed. Pair it with
 * `installTriggers: false` to keep DDL out of server start-up.
 */
import type { Command } from 'commander';
import { maskUrl } from '../../config/mask-secrets.js';
import { PgDatabase } from '../../core/database/database.js';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../core/database/embedded-postgres.js';
import { introspectTable } from '../../core/database/introspect.js';
import { ensureSchema, installCapture, SCHEMA_VERSION } from '../../core/database/schema.js';
import { type AppModule, loadAppModule } from '../app-module.js';
import { addConfigOptions, type ConfigFlagValues, loadConfigFromFlags } from '../config-options.js';
import { createCliLogger } from '../logger.js';
import type { Output } from '../output.js';

/** Registers `migrate` on `program`. */
export function registerMigrate(program: Command, io: Output): void {
  const command = program
    .command('migrate')
    .summary("install or upgrade the pgrt schema and the app's capture triggers")
    .description(
      "Run the app module's migrate(db), install or upgrade the pgrt schema, and install capture triggers on " +
        'every collection table, without serving. Idempotent. Without an app module: the pgrt schema only.',
    )
    .argument('[app]', 'app module path (default: `app` in the config file)');
  addConfigOptions(command, false);
  command.action(async (appArgument: string | undefined, values: ConfigFlagValues) => {
    const { config, warnings } = loadConfigFromFlags(values, { app: appArgument });
    for (const warning of warnings) io.err(`warning: ${warning}\n`);
    const module: AppModule | undefined = config.app ? await loadAppModule(config.app) : undefined;
    let embedded: EmbeddedPostgresHandle | undefined;
    let url = config.databaseUrl;
    if (!url) {
      io.out(`starting the embedded PostgreSQL in ${config.embeddedDataDir} …\n`);
      embedded = await startEmbeddedPostgres({ dataDir: config.embeddedDataDir });
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
      const result = await run();
      io.out(` done (${Math.round(performance.now() - started)} ms)\n`);
      return result;
    };
    try {
      io.out(`database ${maskUrl(url)}\n`);
      const migrate = module?.migrate;
      if (migrate) await step(`app migrate (${module.path})`, () => migrate(db));
      await step(`pgrt schema (version ${SCHEMA_VERSION})`, () => ensureSchema(db));
      const collections = [...(module?.app.collections.values() ?? [])];
      for (const [index, definition] of collections.entries()) {
        await step(
          `[${index + 1}/${collections.length}] capture triggers on ${definition.table}`,
          async () => {
            const table = await introspectTable(db, definition.table);
            await installCapture(db, table, {
              channel: config.channel,
              spillThresholdBytes: config.spillThresholdBytes,
              mode: config.capture,
            });
          },
        );
      }
      if (!module) io.out('no app module given: installed the pgrt schema only\n');
      io.out('migrate: ok\n');
    } finally {
      await db.close();
      await embedded?.stop();
    }
  });
}
