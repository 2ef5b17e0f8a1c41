/**
 * Turns the effective configuration and a loaded app module into {@link ServerOptions}, and describes where the
 * server listens. The only place where config keys meet `createServer`'s options; protocols are built by their
 * adapters (adapters/builtin.ts, plus the app module's own `adapters`) from their sections.
 */
import { readFileSync } from 'node:fs';
import { builtinAdapters } from '../adapters/builtin.js';
import type {
  AnyProtocolAdapter,
  ConfigSections,
  Endpoint,
  EndpointBase,
  Protocol,
  SectionValues,
} from '../adapters/protocol-adapter.js';
import type { PgrtConfig } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';
import { METRICS_PATH } from '../server/metrics.js';
import type { PgrtServer, ServerOptions } from '../server.js';
import type { AppModule } from './app-module.js';
import { UsageError } from './output.js';

/** The protocols named in `config.protocols`, each configured by its adapter from its sections. */
export function protocolsOf(
  config: PgrtConfig,
  adapters: readonly AnyProtocolAdapter[] = builtinAdapters,
): Protocol[] {
  const values = config as unknown as Readonly<Record<string, unknown>>;
  const shared = { host: config.host, rootUrl: config.rootUrl, forwardedCount: config.forwardedCount };
  return config.protocols.map((name) => {
    const adapter = adapters.find((candidate) => candidate.name === name);
    if (!adapter) throw new UsageError(`no protocol adapter named "${name}"`);
    const sections: Record<string, unknown> = {};
    for (const key of Object.keys(adapter.config)) sections[key] = values[key];
    return adapter.fromConfig(sections as SectionValues<ConfigSections>, shared);
  });
}

/**
 * `createServer` options for `config` and `module`; protocols come from `adapters` and the module's own. Reads the
 * TLS files; throws {@link UsageError} if it cannot.
 */
export function serverOptionsOf(
  config: PgrtConfig,
  module: AppModule,
  logger: Logger,
  adapters: readonly AnyProtocolAdapter[] = builtinAdapters,
): ServerOptions {
  return {
    app: module.app,
    ...(module.migrate ? { migrate: module.migrate } : {}),
    protocols: protocolsOf(config, [...adapters, ...(module.adapters ?? [])]),
    port: config.port,
    host: config.host,
    listenBacklog: config.listenBacklog,
    forwardedCount: config.forwardedCount,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    ...(config.listenDatabaseUrl ? { listenDatabaseUrl: config.listenDatabaseUrl } : {}),
    embeddedDataDir: config.embeddedDataDir,
    poolSize: config.poolSize,
    channel: config.channel,
    spillThresholdBytes: config.spillThresholdBytes,
    fenceTimeoutMs: config.fenceTimeoutMs,
    capture: config.capture,
    bus: config.bus,
    natsUrl: config.natsUrl,
    natsStream: config.natsStream,
    outboxRetentionMs: config.outbox.retentionMs,
    outboxPump: config.outbox.pump,
    busReconnect: { initialMs: config.busReconnect.initialMs, maxMs: config.busReconnect.maxMs },
    limits: {
      maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress,
      maxBufferedBytes: config.limits.maxBufferedBytes,
      maxNestingDepth: config.limits.maxNestingDepth,
      maxSubscriptionsPerConnection: config.limits.maxSubscriptionsPerConnection,
      maxSubscriptionsPerAddress: config.limits.maxSubscriptionsPerAddress,
      ...(config.limits.allowedOrigins ? { allowedOrigins: config.limits.allowedOrigins } : {}),
    },
    // The drain gets most of the budget; serve's hard exit timer (the full shutdownTimeoutMs) stays the backstop.
    shutdownTimeoutMs: Math.max(1, Math.floor(config.shutdownTimeoutMs * 0.8)),
    drainDelayMs: config.drainDelayMs,
    installTriggers: config.installTriggers,
    logger,
    metrics: config.metrics,
    ...(config.tls
      ? { tls: { cert: readPem(config.tls.cert, 'tls.cert'), key: readPem(config.tls.key, 'tls.key') } }
      : {}),
    ...(config.compression.enabled
      ? { compression: { threshold: config.compression.threshold, level: config.compression.level } }
      : {}),
  };
}

/**
 * Where `server`, started from `config`, listens, for people: each protocol's endpoints, then health, readiness and
 * metrics (the bind address is replaced by localhost).
 */
export function endpointsOf(config: PgrtConfig, server: Pick<PgrtServer, 'port' | 'protocols'>): Endpoint[] {
  const secure = config.tls !== undefined;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base: EndpointBase = {
    http: `${secure ? 'https' : 'http'}://${host}:${server.port}`,
    ws: `${secure ? 'wss' : 'ws'}://${host}:${server.port}`,
    host,
    secure,
  };
  const out: Endpoint[] = [];
  for (const handle of server.protocols.values()) out.push(...(handle.endpoints?.(base) ?? []));
  out.push(
    { name: 'health', url: `${base.http}/healthz` },
    { name: 'readiness', url: `${base.http}/readyz` },
  );
  if (config.metrics) out.push({ name: 'metrics', url: `${base.http}${METRICS_PATH}` });
  return out;
}

function readPem(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(
      `${key}: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
