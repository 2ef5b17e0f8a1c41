/**
 * The composition root: builds a running pgrt server from an {@link App} and the protocols the user picks. The
 * parts are wired by tsyringe in server/composition.ts (swap one by registering its token in `options.container`);
 * this file starts the database, attaches the protocols, and starts and stops the whole.
 *
 * ```ts
 * const server = await createServer({ app, protocols: [ddp()], port: 3000 });
 * ```
 *
 * Database: `databaseUrl` (or env `DATABASE_URL`); without either, an embedded PostgreSQL is started under
 * `.pgrt/pgdata` (with `wal_level=logical`, so every capture mode runs on it) and stopped on close.
 */
import type { DependencyContainer } from 'tsyringe';
import type {
  Protocol,
  ProtocolContext,
  ProtocolHandle,
  ProtocolListener,
} from './adapters/protocol-adapter.js';
import type { Accounts } from './core/accounts/accounts.js';
import type { App } from './core/app.js';
import type { Connection, ConnectionHandler } from './core/connection.js';
import { type Database, PgDatabase } from './core/database/database.js';
import {
  APP_EMBEDDED_SETTINGS,
  type EmbeddedPostgresHandle,
  startEmbeddedPostgres,
} from './core/database/embedded-postgres.js';
import { probeDedicatedConnections, TRANSACTION_POOLER_ADVICE } from './core/database/pooler-probe.js';
import { ConfigurationError } from './core/errors.js';
import { type Logger, LoggerToken, silentLogger } from './core/logger.js';
import type { CoreOptions, RealtimeCore } from './core/realtime-core.js';
import type { SubscriptionLimits } from './core/subscription-limits.js';
import { HttpHostToken, ProtocolsToken, RealtimeCoreToken, registerServer } from './server/composition.js';
import { ServerMetrics } from './server/metrics.js';
import { routeHandler } from './transports/app-routes.js';
import type { TransportLimits } from './transports/connection-guard.js';
import { type CompressionOptions, DEFAULT_LISTEN_BACKLOG, type HttpHost } from './transports/http-host.js';

/** The built-in protocols' public API (`ddp()`, `wamp()`, …), for callers importing `createServer` from here. */
export * from './adapters/builtin.js';
export type {
  Protocol,
  ProtocolContext,
  ProtocolHandle,
  ProtocolListener,
} from './adapters/protocol-adapter.js';
export { CaptureModeToken } from './core/capture/capture-mode.js';
export {
  AppToken,
  defaultProtocols,
  HttpHostToken,
  ProtocolsToken,
  RealtimeCoreToken,
  registerServer,
  SERVER_TOKENS,
  ServerOptionsToken,
} from './server/composition.js';

/** Options of {@link createServer}. */
export interface ServerOptions extends CoreOptions {
  readonly app: App;
  /**
   * Protocols to serve, e.g. `[ddp(), wamp()]` (default: DDP only). Any {@link Protocol} works, built-in or an
   * adapter of the app's own (adapters/README.md).
   */
  readonly protocols?: readonly Protocol[];
  /** TCP port (default 3000; 0 picks a free one). */
  readonly port?: number;
  /** Bind address (default 0.0.0.0). */
  readonly host?: string;
  /**
   * Accept queue of the listening socket (default 65535: as deep as the kernel allows, which caps it at
   * `net.core.somaxconn`). A reconnect storm larger than the queue makes the kernel drop SYNs, and their clients
   * retry after 1, 3, 7… s (docs/deployment.md "Sizing").
   */
  readonly listenBacklog?: number;
  /**
   * Trusted `X-Forwarded-For` hops for the app's HTTP routes (`App.route`, e.g. OAuth's `/_oauth`): their client
   * address is the N-th right-most entry (Meteor's `HTTP_FORWARDED_COUNT`; default 0: the socket's peer). Each
   * protocol takes its own (`ddp({ forwardedCount })`); `pgrt serve` sets all of them from `forwardedCount`.
   */
  readonly forwardedCount?: number;
  /** PostgreSQL URL; default env DATABASE_URL; neither: embedded PostgreSQL. */
  readonly databaseUrl?: string;
  /**
   * PostgreSQL URL of the connections that need a backend of their own — LISTEN, the logical replication stream,
   * the outbox pump's advisory lock — when `databaseUrl` goes through a transaction-mode pooler (PgBouncer):
   * a direct (or session-pooled) URL of the same database. Default: `databaseUrl`. At start the server probes
   * it; through a transaction-mode pooler `/readyz` stays 503 and says what to change.
   */
  readonly listenDatabaseUrl?: string;
  /** Where the embedded PostgreSQL keeps its data (default `.pgrt/pgdata`). */
  readonly embeddedDataDir?: string;
  /** Pool size (default 10). */
  readonly poolSize?: number;
  /** TLS certificate and key (PEM); the server then speaks https/wss only. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** WebSocket permessage-deflate (with a size threshold); default off (memory per connection). */
  readonly compression?: CompressionOptions;
  /** Prometheus metrics at `/metrics` (default off); pass a {@link ServerMetrics} to choose its registry. */
  readonly metrics?: boolean | ServerMetrics;
  /**
   * Users, login methods and the `users` publication (core/accounts; docs/reference.md "Accounts"): applied to
   * `app` with `app.use` unless the app uses it already. For WAMP logins give the realm
   * `authenticators: accountsAuthenticators(accounts)` (adapters/wamp/authentication.ts).
   */
  readonly accounts?: Accounts;
  /**
   * Transport limits for every protocol (docs/reference.md "Limits"): `maxConnectionsPerAddress` (default 0:
   * unlimited), `allowedOrigins` (default: any), `maxBufferedBytes` (default 16 MiB: slower consumers are
   * terminated), `maxNestingDepth` (default 64); and caps on live subscriptions (core/subscription-limits.ts):
   * `maxSubscriptionsPerConnection` (default 500), `maxSubscriptionsPerAddress` (default 0: unlimited). Rate
   * limits are `rateLimits` (docs/reference.md "Rate limiting").
   */
  readonly limits?: TransportLimits & SubscriptionLimits;
  /**
   * Graceful shutdown bound, ms (default 10000): `close()` waits at most this long for clients to finish their
   * close handshakes, then drops the remaining sockets and stops the core.
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * Drain delay, ms (default 0): `close()` first answers `/readyz` with 503 for this long while still serving
   * and accepting connections, so a load balancer takes the process out of rotation before its connections
   * close (Kubernetes' preStop pattern). Make it longer than the balancer's check interval × its fall count.
   */
  readonly drainDelayMs?: number;
  /**
   * The LISTEN connection's reconnect delays after it was lost: from `initialMs` (default 100), doubling up to
   * `maxMs` (default 5000), with jitter. A lower `maxMs` recovers sooner after a long outage at the cost of more
   * connection attempts while the database is down.
   */
  readonly busReconnect?: { readonly initialMs?: number; readonly maxMs?: number };
  /**
   * The change bus (default `'postgres'`): `'postgres'` is LISTEN/NOTIFY, one LISTEN connection per process, every
   * change to every process; `'nats'` is NATS JetStream (docs/deployment-nats.md): the pump relays the outbox to a
   * stream with one subject per table and each process consumes only its tables' subjects. `'nats'` needs capture
   * `outbox` or `logical`.
   */
  readonly bus?: 'postgres' | 'nats';
  /** NATS server URL(s), comma-separated, for `bus: 'nats'` (default `nats://127.0.0.1:4222`). */
  readonly natsUrl?: string;
  /** JetStream stream name and subject prefix for `bus: 'nats'` (default `pgrt`); one per database. */
  readonly natsStream?: string;
  /**
   * The tsyringe container the server's own child container is made from (default: the root container). Register
   * a token there to swap a part: the server uses what the container has and builds only what is missing.
   */
  readonly container?: DependencyContainer;
}

/** A running server. */
export interface PgrtServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` (https with TLS). */
  readonly url: string;
  readonly core: RealtimeCore;
  readonly host: HttpHost;
  readonly db: Database;
  /** Where the database is (`embedded` or the URL without password). */
  readonly database: string;
  /** Listening sockets of the protocols' own beside `port` (WAMP RawSocket), if any. */
  readonly listeners: readonly ProtocolListener[];
  /** Each attached protocol's handle, by name (e.g. `protocols.get('ddp') as DdpHandle`). */
  readonly protocols: ReadonlyMap<string, ProtocolHandle>;
  /** The metrics, when `metrics` was enabled. */
  readonly metrics: ServerMetrics | undefined;
  /**
   * Graceful stop, bounded by `drainDelayMs` + `shutdownTimeoutMs`: `/readyz` answers 503 at once; after the
   * drain delay (connections still served and accepted meanwhile) new WebSocket upgrades are refused; every
   * client is told to go away (DDP: close 1001 after the queued frames, so Meteor clients
   * reconnect elsewhere and resubscribe; WAMP: the transport closes without GOODBYE, so Autobahn reconnects);
   * once their sockets closed (or the bound passed) the rest are dropped, the core stops, the pool closes (and
   * embedded PostgreSQL stops). Idempotent.
   */
  close(): Promise<void>;
}

/** Builds, starts and returns a server. */
export async function createServer(options: ServerOptions): Promise<PgrtServer> {
  const logger = options.logger ?? silentLogger;
  let embedded: EmbeddedPostgresHandle | undefined;
  let url = options.databaseUrl ?? process.env.DATABASE_URL;
  let database: string;
  if (url) {
    database = redact(url);
  } else {
    embedded = await startEmbeddedPostgres({
      ...(options.embeddedDataDir ? { dataDir: options.embeddedDataDir } : {}),
      settings: APP_EMBEDDED_SETTINGS,
    });
    url = embedded.url;
    database = `embedded (${redact(url)})`;
  }
  if (options.listenDatabaseUrl && embedded)
    throw new ConfigurationError(
      'listenDatabaseUrl needs databaseUrl (the embedded PostgreSQL needs neither)',
    );
  const db = new PgDatabase(url, {
    poolSize: options.poolSize ?? 10,
    logger,
    ...(options.listenDatabaseUrl ? { dedicatedConnectionString: options.listenDatabaseUrl } : {}),
  });
  try {
    if (options.accounts) options.app.use(options.accounts);
    const pooler = embedded ? undefined : await dedicatedPoolerProblem(db, logger);
    // Through a transaction pooler a session advisory lock would stay on a pooled backend after this process is
    // gone, blocking every later pump: never campaign then.
    const c = registerServer(
      pooler ? { ...options, outboxPump: false } : options,
      db,
      options.container,
      pooler,
    );
    const core = c.resolve<RealtimeCore>(RealtimeCoreToken);
    const host = c.resolve<HttpHost>(HttpHostToken);
    const log = c.resolve<Logger>(LoggerToken);
    const metrics = options.metrics === true ? new ServerMetrics() : options.metrics || undefined;
    metrics?.observe(core);
    if (metrics) host.addRequestHandler(metrics.handler);
    // Connection logs (debug) whenever a logger is given; traffic counts when metrics are on.
    const instrument = metrics ?? (options.logger ? new ServerMetrics({ processMetrics: false }) : undefined);
    const protocols = new Map<string, ProtocolHandle>();
    for (const protocol of c.resolve<readonly Protocol[]>(ProtocolsToken)) {
      if (protocols.has(protocol.name))
        throw new ConfigurationError(`protocol "${protocol.name}" is given twice`);
      const classifier = protocol.classifier?.bind(protocol);
      const wrap = instrument
        ? (connection: Connection) =>
            instrument.instrument(connection, protocol.name, log, metrics !== undefined, classifier)
        : undefined;
      const context: ProtocolContext = {
        core,
        host,
        logger: log,
        accept: (handler) => (wrap ? observed(handler, wrap) : handler),
        resolve: (token) => c.resolve(token),
      };
      protocols.set(protocol.name, protocol.attach(context));
    }
    metrics?.protocolsAttached([...protocols.keys()]);
    // After the protocols: their paths (/sockjs, /websocket) come before the app's routes (a web client's pages
    // are a fallback handler, after both).
    for (const route of options.app.routes)
      host.addRequestHandler(routeHandler(route, logger, options.forwardedCount ?? 0));
    await core.start();
    const port = await host.listen(
      options.port ?? 3000,
      options.host ?? '0.0.0.0',
      options.listenBacklog ?? DEFAULT_LISTEN_BACKLOG,
    );
    try {
      for (const protocol of protocols.values()) await protocol.listen?.();
    } catch (error) {
      for (const protocol of protocols.values()) await protocol.stopListening?.(0);
      await host.close();
      await core.close();
      throw error;
    }
    let closing: Promise<void> | undefined;
    return {
      port,
      url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      core,
      host,
      db,
      database,
      metrics,
      protocols,
      listeners: [...protocols.values()].flatMap((protocol) => protocol.listeners?.() ?? []),
      close() {
        closing ??= (async () => {
          host.markUnready();
          const delay = options.drainDelayMs ?? 0;
          if (delay > 0) {
            logger.info(
              { drainDelayMs: delay },
              'draining: /readyz answers 503; connections close after the delay',
            );
            await new Promise((resolve) => setTimeout(resolve, delay));
          }
          host.beginDrain();
          metrics?.close();
          const budget = options.shutdownTimeoutMs ?? 10_000;
          // Sessions other processes can resume (DDP), written before the clients are told to go.
          await Promise.all([...protocols.values()].map((protocol) => protocol.handOff?.(budget / 2)));
          for (const protocol of protocols.values()) protocol.closeAll();
          const [drained] = await Promise.all([
            host.upgradesClosed(budget),
            ...[...protocols.values()].map((protocol) => protocol.stopListening?.(budget)),
          ]);
          if (!drained)
            logger.warn({}, 'shutdown: clients still connected after shutdownTimeoutMs; dropping them');
          await host.close();
          await core.close();
          await db.close();
          await embedded?.stop();
        })();
        return closing;
      },
    };
  } catch (error) {
    await db.close().catch(() => {});
    await embedded?.stop();
    throw error;
  }
}

/**
 * Why the dedicated connections cannot work (a transaction-mode pooler on their URL), logged as an error; undefined
 * when they can, or when the probe itself failed (logged as a warning: readiness then follows the bus alone).
 */
async function dedicatedPoolerProblem(db: Database, logger: Logger): Promise<string | undefined> {
  try {
    const probe = await probeDedicatedConnections(db);
    if (probe.kind !== 'transaction-pooler') return undefined;
    logger.error({ pids: probe.pids }, TRANSACTION_POOLER_ADVICE);
    return TRANSACTION_POOLER_ADVICE;
  } catch (error) {
    logger.warn({ err: error }, 'could not probe the LISTEN connection for a pooler');
    return undefined;
  }
}

/** A handler that passes each connection through `wrap` before `handler` sees it. */
function observed(
  handler: ConnectionHandler,
  wrap: (connection: Connection) => Connection,
): ConnectionHandler {
  return { handleConnection: (connection) => handler.handleConnection(wrap(connection)) };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
