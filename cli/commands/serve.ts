/**
 * `pgrt serve [app]`: loads the configuration and the app module, starts the server, logs where each protocol
 * listens, and stops gracefully on SIGTERM/SIGINT ({@link serveUntilSignal}). `--print-config` prints the effective
 * configuration (secrets masked) and exits.
 */
import type { Command } from 'commander';
import { builtinAdapters } from '../../adapters/builtin.js';
import type { AnyProtocolAdapter } from '../../adapters/protocol-adapter.js';
import type { PgrtConfig } from '../../config/config-schema.js';
import { maskSecrets } from '../../config/mask-secrets.js';
import type { Logger } from '../../core/logger.js';
import { createServer, type PgrtServer } from '../../server.js';
import type { AppModule } from '../app-module.js';
import {
  addConfigOptions,
  type ConfigFlagValues,
  loadConfigWithApp,
  logConfigWarnings,
} from '../config-options.js';
import { createCliLogger } from '../logger.js';
import { type Output, UsageError } from '../output.js';
import { endpointsOf, serverOptionsOf } from '../server-options.js';

interface ServeValues extends ConfigFlagValues {
  readonly printConfig?: boolean;
}

/** Registers `serve` on `program`; `adapters`: every protocol adapter it may serve (besides an app module's own). */
export function registerServe(program: Command, io: Output, adapters: readonly AnyProtocolAdapter[]): void {
  const command = program
    .command('serve')
    .summary('start a server for an app module')
    .description(
      'Start a pgrt server for an app module (exports `app` and optionally `migrate(db)` and `adapters`). ' +
        `Speaks the protocols named by --protocols (${adapters.map((a) => a.name).join(', ')}, or the module's ` +
        'own adapters); logs JSON lines on stdout (pretty on a terminal).',
    )
    .argument('[app]', 'app module path (default: `app` in the config file)')
    .option('--print-config', 'print the effective configuration (secrets masked) and exit');
  addConfigOptions(command, true, adapters);
  command.action(async (appArgument: string | undefined, values: ServeValues) => {
    const { loaded, module } = await loadConfigWithApp(values, { app: appArgument }, process.env, adapters);
    const config = loaded.config;
    if (values.printConfig) {
      io.out(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
      for (const warning of loaded.warnings) io.err(`warning: ${warning}\n`);
      return;
    }
    const logger = createCliLogger(config);
    logConfigWarnings(loaded, logger);
    if (!module) throw new UsageError('serve needs an app module: pgrt serve <app>, or "app" in the config');
    await serveUntilSignal(config, module, logger, {}, adapters);
  });
}

/** Hooks of {@link serveUntilSignal} for a program that serves more than the app (the demo's page). */
export interface ServeHooks {
  /** Runs once the server listens (after the endpoints are logged). */
  readonly started?: (server: PgrtServer) => void;
  /** Runs when a stop signal arrives, before the server closes. */
  readonly stopping?: () => void;
}

/**
 * Starts a server for `module` under `config`, logs where it listens, and resolves once it has stopped after the
 * first SIGTERM or SIGINT: `/readyz` answers 503 at once while everything is still served for `drainDelayMs` (a load
 * balancer takes the process out of rotation), then clients are told to go away (DDP sessions are handed to the
 * other processes for resumption), the core and the pool close. The process is exited with 1 if that takes longer
 * than `drainDelayMs + shutdownTimeoutMs`, and at once on a second signal. `process.exitCode` is 1 if closing
 * failed.
 */
export async function serveUntilSignal(
  config: PgrtConfig,
  module: AppModule,
  logger: Logger,
  hooks: ServeHooks = {},
  adapters: readonly AnyProtocolAdapter[] = builtinAdapters,
): Promise<void> {
  const server = await createServer(serverOptionsOf(config, module, logger, adapters));
  for (const endpoint of endpointsOf(config, server))
    logger.info({ endpoint: endpoint.name, url: endpoint.url }, `${endpoint.name}: ${endpoint.url}`);
  logger.info(
    {
      port: server.port,
      database: server.database,
      app: module.path,
      collections: [...module.app.collections.keys()],
    },
    `pgrt serving ${module.path} on port ${server.port} (database: ${server.database})`,
  );
  hooks.started?.(server);
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      const budgetMs = config.drainDelayMs + config.shutdownTimeoutMs;
      logger.info(
        { signal, drainDelayMs: config.drainDelayMs, timeoutMs: config.shutdownTimeoutMs },
        'shutting down',
      );
      hooks.stopping?.();
      const force = setTimeout(() => {
        logger.error({ timeoutMs: budgetMs }, 'shutdown timed out; exiting');
        process.exit(1);
      }, budgetMs);
      force.unref();
      server.close().then(
        () => {
          logger.info({}, 'stopped');
          resolve();
        },
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
