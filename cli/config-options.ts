/**
 * The configuration flags shared by `serve`, `migrate` and `doctor`, and how they become the top layer of
 * {@link loadConfig}. Every key is reachable with `--set key=value`; the common ones have their own flag, and a
 * protocol adapter may add flags of its own ({@link AdapterFlag}).
 *
 * The app module is loaded before the configuration is validated: its `adapters` join the built-in ones and
 * decide which sections and protocol names are valid ({@link loadConfigWithApp}).
 */
import { type Command, Option } from 'commander';
import { builtinAdapters } from '../adapters/builtin.js';
import type { AdapterFlag, AnyProtocolAdapter } from '../adapters/protocol-adapter.js';
import {
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  peekConfigString,
} from '../config/load-config.js';
import type { Logger } from '../core/logger.js';
import { type AppModule, loadAppModule } from './app-module.js';
import { UsageError } from './output.js';

/** Commander's parsed values of {@link addConfigOptions}. */
export interface ConfigFlagValues {
  readonly config?: string;
  readonly port?: string;
  readonly host?: string;
  readonly databaseUrl?: string;
  readonly listenDatabaseUrl?: string;
  readonly bus?: string;
  readonly natsUrl?: string;
  readonly drainDelayMs?: string;
  readonly rootUrl?: string;
  readonly protocols?: string;
  readonly metrics?: boolean;
  readonly logLevel?: string;
  readonly logFormat?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly set?: readonly string[];
  /** Adapters' own flags, by commander attribute name. */
  readonly [adapterFlag: string]: unknown;
}

/** Flags that set one key each: flag attribute → key path. */
const DIRECT: ReadonlyArray<readonly [keyof ConfigFlagValues, string]> = [
  ['port', 'port'],
  ['host', 'host'],
  ['databaseUrl', 'databaseUrl'],
  ['listenDatabaseUrl', 'listenDatabaseUrl'],
  ['bus', 'bus'],
  ['natsUrl', 'natsUrl'],
  ['drainDelayMs', 'drainDelayMs'],
  ['rootUrl', 'rootUrl'],
  ['protocols', 'protocols'],
  ['metrics', 'metrics'],
  ['logLevel', 'logLevel'],
  ['logFormat', 'logFormat'],
  ['tlsCert', 'tls.cert'],
  ['tlsKey', 'tls.key'],
];

/**
 * Adds the configuration flags to `command`. `serverFlags`: also the flags only `serve` uses, among them the
 * flags of `adapters` (default: the built-in ones).
 */
export function addConfigOptions(
  command: Command,
  serverFlags: boolean,
  adapters: readonly AnyProtocolAdapter[] = builtinAdapters,
): Command {
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
    .option('--bus <bus>', 'change bus: postgres or nats (env PGRT_BUS; default postgres)')
    .option(
      '--nats-url <urls>',
      'NATS server URL(s) for --bus nats (env PGRT_NATS_URL; default nats://127.0.0.1:4222)',
    )
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env PGRT_LOG_LEVEL)')
    .option('--log-format <format>', 'auto, json or pretty (env PGRT_LOG_FORMAT)');
  if (serverFlags) {
    command
      .option('-p, --port <port>', 'TCP port, 0 for any free one (env PGRT_PORT, PORT; default 3000)')
      .option('-H, --host <address>', 'bind address (env PGRT_HOST; default 0.0.0.0)')
      .option('--root-url <url>', "public URL, Meteor's ROOT_URL (env PGRT_ROOT_URL, ROOT_URL)")
      .option(
        '--protocols <list>',
        `comma-separated: ${adapters.map((a) => a.name).join(', ')} (env PGRT_PROTOCOLS; default ${defaultProtocols(adapters)})`,
      )
      .addOption(new Option('--metrics', 'serve Prometheus metrics at /metrics (env PGRT_METRICS)'))
      .addOption(new Option('--no-metrics', 'do not serve /metrics').hideHelp())
      .option('--tls-cert <file>', 'PEM certificate chain: serve https/wss only (env PGRT_TLS_CERT)')
      .option('--tls-key <file>', 'PEM private key (env PGRT_TLS_KEY)')
      .option(
        '--drain-delay-ms <ms>',
        'on SIGTERM/SIGINT, /readyz answers 503 this long before connections close (env PGRT_DRAIN_DELAY_MS; default 0)',
      );
    for (const adapter of adapters)
      for (const flag of adapter.flags ?? [])
        command.option(flag.flag, `${flag.description} (key ${flag.key})`);
  }
  command.option(
    '--set <key=value...>',
    'set any configuration key, e.g. --set ddp.heartbeatInterval=5000 (see docs/configuration.md)',
  );
  return command;
}

/** The names of the protocols served when none are configured. */
function defaultProtocols(adapters: readonly AnyProtocolAdapter[]): string {
  return adapters
    .filter((adapter) => adapter.enabledByDefault)
    .map((adapter) => adapter.name)
    .join(',');
}

/** The commander attribute of an adapter's flag (`--wamp-realm <name>` → `wampRealm`). */
function attributeOf(flag: AdapterFlag): string {
  return new Option(flag.flag).attributeName();
}

/** The layers the flags and `positional` (keys given as command arguments, e.g. `app`) make, before validation. */
function layersOf(
  values: ConfigFlagValues,
  positional: Readonly<Record<string, string | undefined>>,
  env: NodeJS.ProcessEnv,
  defaults: LoadConfigOptions['defaults'] | undefined,
  adapters: readonly AnyProtocolAdapter[],
): LoadConfigOptions {
  const flags: Record<string, unknown> = { ...positional };
  for (const [attribute, path] of DIRECT) {
    const value = values[attribute];
    if (value !== undefined) flags[path] = value;
  }
  for (const adapter of adapters) {
    for (const flag of adapter.flags ?? []) {
      const value = values[attributeOf(flag)];
      if (value !== undefined) flags[flag.key] = value;
    }
  }
  for (const assignment of values.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got "${assignment}"`);
    flags[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  return {
    ...(values.config ? { file: values.config } : {}),
    ...(defaults ? { defaults } : {}),
    env,
    flags,
    adapters,
  };
}

/**
 * Layers defaults < a program's `defaults` < file < env < these flags. `positional` holds keys given as command
 * arguments (`app`), applied with the flags; undefined values are skipped. `adapters` decide the valid sections and
 * protocol names (default: the built-in ones).
 */
export function loadConfigFromFlags(
  values: ConfigFlagValues,
  positional: Readonly<Record<string, string | undefined>> = {},
  env = process.env,
  defaults?: LoadConfigOptions['defaults'],
  adapters: readonly AnyProtocolAdapter[] = builtinAdapters,
): LoadedConfig {
  return loadConfig(layersOf(values, positional, env, defaults, adapters));
}

/** The effective configuration and the app module it names (if any). */
export interface ConfigWithApp {
  readonly loaded: LoadedConfig;
  readonly module: AppModule | undefined;
}

/**
 * Finds the app module (`positional.app`, else the `app` key of the layers), loads it, and validates the
 * configuration against `adapters` plus the module's own `adapters`.
 */
export async function loadConfigWithApp(
  values: ConfigFlagValues,
  positional: Readonly<Record<string, string | undefined>> = {},
  env = process.env,
  adapters: readonly AnyProtocolAdapter[] = builtinAdapters,
): Promise<ConfigWithApp> {
  const specifier = peekConfigString('app', layersOf(values, positional, env, undefined, adapters));
  const module = specifier ? await loadAppModule(specifier) : undefined;
  const all = [...adapters, ...(module?.adapters ?? [])];
  return { loaded: loadConfigFromFlags(values, positional, env, undefined, all), module };
}

/** Logs the loader's warnings (unknown keys and variables). */
export function logConfigWarnings(loaded: LoadedConfig, logger: Logger): void {
  for (const warning of loaded.warnings) logger.warn({ config: loaded.file }, warning);
}
