/**
 * The configuration flags shared by `serve`, `migrate` and `doctor`, and how they become the top layer of
 * {@link loadConfig}. Every key is reachable with `--set key=value`; the common ones have their own flag.
 */
import { type Command, Option } from 'commander';
import { type LoadConfigOptions, type LoadedConfig, loadConfig } from '../config/load-config.js';
import type { Logger } from '../core/logger.js';
import { UsageError } from './output.js';

/** Commander's parsed values of {@link addConfigOptions}. */
export interface ConfigFlagValues {
  readonly config?: string;
  readonly port?: string;
  readonly host?: string;
  readonly databaseUrl?: string;
  readonly listenDatabaseUrl?: string;
  readonly drainDelayMs?: string;
  readonly rootUrl?: string;
  readonly protocols?: string;
  readonly metrics?: boolean;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly set?: readonly string[];
}

/** Flags that set one key each: flag attribute → key path. */
const DIRECT: ReadonlyArray<readonly [keyof ConfigFlagValues, string]> = [
  ['port', 'port'],
  ['host', 'host'],
  ['databaseUrl', 'databaseUrl'],
  ['listenDatabaseUrl', 'listenDatabaseUrl'],
  ['drainDelayMs', 'drainDelayMs'],
  ['rootUrl', 'rootUrl'],
  ['protocols', 'protocols'],
  ['metrics', 'metrics'],
  ['logLevel', 'logLevel'],
  ['logFormat', 'logFormat'],
  ['tlsCert', 'tls.cert'],
  ['tlsKey', 'tls.key'],
];

/** Adds the configuration flags to `command`. `serverFlags`: also the flags only `serve` uses. */
export function addConfigOptions(command: Command, serverFlags: boolean): Command {
  command
    .option(
      '-c, --config <file>',
      'configuration file (default: ./pgrt.config.json if present; env PGRT_CONFIG)',
    )
    .option('--database-url <url>', 'PostgreSQL URL (env PGRT_DATABASE_URL, DATABASE_URL); absent: embedded')
    .option(
      '--listen-database-url <url>',
      'direct URL for LISTEN, replication and the pump lock when --database-url is a transaction pooler (env PGRT_LISTEN_DATABASE_URL)',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env PGRT_LOG_LEVEL)')
    .option('--log-format <format>', 'auto, json or pretty (env PGRT_LOG_FORMAT)');
  if (serverFlags) {
    command
      .option('-p, --port <port>', 'TCP port, 0 for any free one (env PGRT_PORT, PORT; default 3000)')
      .option('-H, --host <address>', 'bind address (env PGRT_HOST; default 0.0.0.0)')
      .option('--root-url <url>', "public URL, Meteor's ROOT_URL (env PGRT_ROOT_URL, ROOT_URL)")
      .option('--protocols <list>', 'comma-separated: ddp, wamp (env PGRT_PROTOCOLS; default ddp)')
      .addOption(new Option('--metrics', 'serve Prometheus metrics at /metrics (env PGRT_METRICS)'))
      .addOption(new Option('--no-metrics', 'do not serve /metrics').hideHelp())
      .option('--tls-cert <file>', 'PEM certificate chain: serve https/wss only (env PGRT_TLS_CERT)')
      .option('--tls-key <file>', 'PEM private key (env PGRT_TLS_KEY)')
      .option(
        '--drain-delay-ms <ms>',
        'on SIGTERM/SIGINT, /readyz answers 503 this long before connections close (env PGRT_DRAIN_DELAY_MS; default 0)',
      );
  }
  command.option(
    '--set <key=value...>',
    'set any configuration key, e.g. --set ddp.heartbeatInterval=5000 (see docs/configuration.md)',
  );
  return command;
}

/**
 * Layers defaults < file < env < these flags. `positional` holds keys given as command arguments (`app`),
 * applied with the flags; undefined values are skipped.
 */
export function loadConfigFromFlags(
  values: ConfigFlagValues,
  positional: Readonly<Record<string, string | undefined>> = {},
  env = process.env,
  defaults?: LoadConfigOptions['defaults'],
): LoadedConfig {
  const flags: Record<string, unknown> = { ...positional };
  for (const [attribute, path] of DIRECT) {
    const value = values[attribute];
    if (value !== undefined) flags[path] = value;
  }
  for (const assignment of values.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got "${assignment}"`);
    flags[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  return loadConfig({
    ...(values.config ? { file: values.config } : {}),
    ...(defaults ? { defaults } : {}),
    env,
    flags,
  });
}

/** Logs the loader's warnings (unknown keys and variables). */
export function logConfigWarnings(loaded: LoadedConfig, logger: Logger): void {
  for (const warning of loaded.warnings) logger.warn({ config: loaded.file }, warning);
}
