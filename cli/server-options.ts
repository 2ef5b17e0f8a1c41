/**
 * Turns the effective configuration and a loaded app module into {@link ServerOptions}, and describes where each
 * protocol will listen. The only place where config keys meet `createServer`'s options.
 */
import { readFileSync } from 'node:fs';
import type { WampOptions } from '../adapters/wamp/wamp-protocol.js';
import type { PgrtConfig } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';
import { ddp, type Protocol, type ProtocolListener, type ServerOptions, wamp } from '../server.js';
import { METRICS_PATH } from '../transports/metrics.js';
import type { AppModule } from './app-module.js';
import { UsageError } from './output.js';

/** DDP's path prefix: `ddp.pathPrefix`, else the path of `rootUrl` (Meteor derives ROOT_URL_PATH_PREFIX so). */
export function ddpPathPrefix(config: PgrtConfig): string {
  if (config.ddp.pathPrefix !== undefined) return config.ddp.pathPrefix;
  if (!config.rootUrl) return '';
  return new URL(config.rootUrl).pathname.replace(/\/+$/, '');
}

/** The protocols named in `config.protocols`, configured. */
export function protocolsOf(config: PgrtConfig): Protocol[] {
  return config.protocols.map((name): Protocol => {
    switch (name) {
      case 'ddp':
        return ddp({
          heartbeatInterval: config.ddp.heartbeatInterval,
          heartbeatTimeout: config.ddp.heartbeatTimeout,
          maxMessageBytes: config.ddp.maxMessageBytes,
          pathPrefix: ddpPathPrefix(config),
          forwardedCount: config.forwardedCount,
          disconnectGracePeriod: config.ddp.disconnectGracePeriod,
          maxMessageQueueLength: config.ddp.maxMessageQueueLength,
          coalesceMs: config.ddp.coalesceMs,
          ...(config.ddp.sockjs ? {} : { sockjs: false as const }),
        });
      case 'wamp':
        return wamp({
          path: config.wamp.path,
          realms: [{ name: config.wamp.realm }],
          maxMessageBytes: config.wamp.maxMessageBytes,
          forwardedCount: config.forwardedCount,
          ...rawSocketOf(config),
        });
      default:
        return unreachable(name);
    }
  });
}

/** The WAMP RawSocket listener the config asks for: a Unix socket path, else a TCP port on `host`, else none. */
function rawSocketOf(config: PgrtConfig): Pick<WampOptions, 'rawSocket'> {
  const { rawSocketPath: path, rawSocketPort: port } = config.wamp;
  if (path !== undefined) return { rawSocket: { path } };
  if (port !== undefined) return { rawSocket: { port, host: config.host } };
  return {};
}

function unreachable(value: never): never {
  throw new Error(`unknown protocol ${String(value)}`);
}

/** `createServer` options for `config` and `module`. Reads the TLS files; throws {@link UsageError} if it cannot. */
export function serverOptionsOf(config: PgrtConfig, module: AppModule, logger: Logger): ServerOptions {
  return {
    app: module.app,
    ...(module.migrate ? { migrate: module.migrate } : {}),
    protocols: protocolsOf(config),
    port: config.port,
    host: config.host,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    ...(config.listenDatabaseUrl ? { listenDatabaseUrl: config.listenDatabaseUrl } : {}),
    embeddedDataDir: config.embeddedDataDir,
    poolSize: config.poolSize,
    channel: config.channel,
    spillThresholdBytes: config.spillThresholdBytes,
    fenceTimeoutMs: config.fenceTimeoutMs,
    capture: config.capture,
    outboxRetentionMs: config.outbox.retentionMs,
    outboxPump: config.outbox.pump,
    busReconnect: { initialMs: config.busReconnect.initialMs, maxMs: config.busReconnect.maxMs },
    limits: {
      maxConnectionsPerAddress: config.limits.maxConnectionsPerAddress,
      maxBufferedBytes: config.limits.maxBufferedBytes,
      maxNestingDepth: config.limits.maxNestingDepth,
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
    ...(config.meteorClient
      ? {
          meteorClient: {
            ...(config.meteorClient.staticDir ? { staticDir: config.meteorClient.staticDir } : {}),
            ...(config.rootUrl ? { rootUrl: config.rootUrl } : {}),
            pathPrefix: ddpPathPrefix(config),
          },
        }
      : {}),
  };
}

/** One line of "listening at" output. */
export interface Endpoint {
  readonly name: string;
  readonly url: string;
}

/**
 * Where a server started from `config` on `port` (and its protocols' own `listeners`) listens, for people (the
 * bind address is replaced by localhost).
 */
export function endpointsOf(
  config: PgrtConfig,
  port: number,
  listeners: readonly ProtocolListener[] = [],
): Endpoint[] {
  const secure = config.tls !== undefined;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const http = `${secure ? 'https' : 'http'}://${host}:${port}`;
  const ws = `${secure ? 'wss' : 'ws'}://${host}:${port}`;
  const out: Endpoint[] = [];
  for (const name of config.protocols) {
    if (name === 'ddp') {
      const prefix = ddpPathPrefix(config);
      out.push({ name: 'DDP', url: `${ws}${prefix}/websocket` });
      if (config.ddp.sockjs) out.push({ name: 'DDP over SockJS', url: `${http}${prefix}/sockjs` });
    } else {
      out.push({ name: `WAMP (realm ${config.wamp.realm})`, url: `${ws}${config.wamp.path}` });
    }
  }
  for (const listener of listeners) {
    if (listener.transport !== 'rawsocket') continue;
    const url =
      listener.path !== undefined
        ? `rs+unix://${listener.path}`
        : `${secure ? 'rss' : 'rs'}://${host}:${listener.port}`;
    out.push({ name: `WAMP RawSocket (realm ${config.wamp.realm})`, url });
  }
  out.push({ name: 'health', url: `${http}/healthz` }, { name: 'readiness', url: `${http}/readyz` });
  if (config.metrics) out.push({ name: 'metrics', url: `${http}${METRICS_PATH}` });
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
