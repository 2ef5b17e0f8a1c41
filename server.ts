/**
 * The composition root: builds a running pgrt server from an {@link App} and the protocols the user picks.
 * This is the only place that wires concrete parts together (tsyringe, per STYLE.md); `core` classes take plain
 * constructor arguments and know nothing of the container.
 *
 * ```ts
 * const server = await createServer({ app, protocols: [ddp()], port: 3000 });
 * ```
 *
 * Database: `databaseUrl` (or env `DATABASE_URL`); without either, an embedded PostgreSQL is started under
 * `.pgrt/pgdata` (with `wal_level=logical`, so every capture mode runs on it) and stopped on close.
 */
import 'reflect-metadata';
import { type DependencyContainer, instanceCachingFactory, container as rootContainer } from 'tsyringe';
import { type DdpOptions, DdpProtocol } from './adapters/ddp/ddp-protocol.js';
import { MeteorClient, type MeteorClientOptions } from './adapters/ddp/meteor-client.js';
import { type WampOptions, WampProtocol } from './adapters/wamp/wamp-protocol.js';
import type { Accounts } from './core/accounts/accounts.js';
import type { App } from './core/app.js';
import { type ChangeBus, ChangeBusToken, DEFAULT_CHANGE_CHANNEL } from './core/bus/change-bus.js';
import { PgNotificationBus } from './core/bus/pg-notification-bus.js';
import type { Connection, ConnectionHandler } from './core/connection.js';
import { type Database, DatabaseToken, PgDatabase } from './core/database/database.js';
import {
  APP_EMBEDDED_SETTINGS,
  type EmbeddedPostgresHandle,
  startEmbeddedPostgres,
} from './core/database/embedded-postgres.js';
import { probeDedicatedConnections, TRANSACTION_POOLER_ADVICE } from './core/database/pooler-probe.js';
import { ConfigurationError } from './core/errors.js';
import { type Logger, LoggerToken, silentLogger } from './core/logger.js';
import { type CoreOptions, RealtimeCore } from './core/realtime-core.js';
import { routeHandler } from './transports/app-routes.js';
import type { TransportLimits } from './transports/connection-guard.js';
import { type CompressionOptions, HttpHost } from './transports/http-host.js';
import { ServerMetrics } from './transports/metrics.js';

/** Injection tokens of the composition root's own parts. */
export const AppToken = Symbol('pgrt.App');
export const RealtimeCoreToken = Symbol('pgrt.RealtimeCore');
export const HttpHostToken = Symbol('pgrt.HttpHost');
export const ServerOptionsToken = Symbol('pgrt.ServerOptions');
export const MeteorClientToken = Symbol('pgrt.MeteorClient');

/** A protocol the server speaks: attaches endpoints to the host; closes its connections on shutdown. */
export interface Protocol {
  readonly name: string;
  attach(core: RealtimeCore, host: HttpHost, logger: Logger, hooks?: ProtocolHooks): ProtocolHandle;
}

/** What the composition root may put around a protocol's connections (metrics, connection logs). */
export interface ProtocolHooks {
  /** Wraps each connection before the adapter sees it; must return an equivalent connection. */
  readonly connection?: (connection: Connection, protocol: string) => Connection;
}

/** Routes every connection `handler` receives through `hooks.connection` first (no-op without the hook). */
function hooked<T extends ConnectionHandler>(handler: T, name: string, hooks: ProtocolHooks | undefined): T {
  const wrap = hooks?.connection;
  if (wrap) {
    const handle = handler.handleConnection.bind(handler);
    handler.handleConnection = (connection) => handle(wrap(connection, name));
  }
  return handler;
}

/** A protocol attached to a running server. */
export interface ProtocolHandle {
  /** Tells every client to go away (shutdown). */
  closeAll(): void;
  /** Starts listeners of the protocol's own beside the HTTP host (WAMP RawSocket), after the host listens. */
  listen?(): Promise<void>;
  /** Stops those listeners; connections still open after `timeoutMs` are dropped (shutdown, after closeAll). */
  stopListening?(timeoutMs: number): Promise<void>;
  /** Where those listeners are, once listening. */
  listeners?(): readonly ProtocolListener[];
}

/** A listening socket of a protocol's own, e.g. `{ protocol: 'wamp', transport: 'rawsocket', port: 8081 }`. */
export interface ProtocolListener {
  readonly protocol: string;
  readonly transport: string;
  /** The bound TCP port, or undefined for a Unix socket. */
  readonly port: number | undefined;
  /** The Unix socket path, or undefined for TCP. */
  readonly path: string | undefined;
}

/** DDP (Meteor's protocol) at `/websocket` and SockJS at `/sockjs`. */
export function ddp(options: DdpOptions = {}): Protocol {
  return {
    name: 'ddp',
    attach(core, host, logger, hooks) {
      const protocol = hooked(new DdpProtocol(core, options, logger), 'ddp', hooks);
      protocol.attach(host);
      return protocol;
    },
  };
}

/**
 * WAMP v2 at `/ws`: a router for Autobahn|JS, Wampy and other WAMP clients, bridged to the core (methods are
 * procedures, publications via `pgrt.subscribe`; see adapters/wamp/README.md). Default realm `realm1`.
 */
export function wamp(options: WampOptions = {}): Protocol {
  return {
    name: 'wamp',
    attach(core, host, logger, hooks) {
      const protocol = hooked(new WampProtocol(core, options, logger), 'wamp', hooks);
      protocol.attach(host);
      return {
        closeAll: () => protocol.closeAll(),
        listen: () => protocol.listen(),
        stopListening: (timeoutMs) => protocol.stopListening(timeoutMs),
        listeners: () => {
          const address = protocol.rawSocketAddress;
          if (address === undefined) return [];
          const unix = typeof address === 'string';
          return [
            {
              protocol: 'wamp',
              transport: 'rawsocket',
              port: unix ? undefined : address,
              path: unix ? address : undefined,
            },
          ];
        },
      };
    },
  };
}

/** Options of {@link createServer}. */
export interface ServerOptions extends CoreOptions {
  readonly app: App;
  /** Protocols to serve (default: DDP only). */
  readonly protocols?: readonly Protocol[];
  /** TCP port (default 3000; 0 picks a free one). */
  readonly port?: number;
  /** Bind address (default 0.0.0.0). */
  readonly host?: string;
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
  /**
   * Meteor web clients: the stock publications (autoupdate, login service configuration) and, with `staticDir`,
   * the built client served with a generated `__meteor_runtime_config__` and hot code push.
   */
  readonly meteorClient?: MeteorClientOptions;
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
   * terminated), `maxNestingDepth` (default 64). Rate limits are `rateLimits` (docs/reference.md "Rate limiting").
   */
  readonly limits?: TransportLimits;
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
  /** The Meteor web client support, when `meteorClient` was given. */
  readonly meteorClient: MeteorClient | undefined;
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

/**
 * Registers the server's parts in a child container. Exported so tests can resolve the whole production graph.
 * Every part is one instance per container (`instanceCachingFactory`): the host's readiness must read the same
 * core that `createServer` starts.
 */
export function registerServer(
  options: ServerOptions,
  db: Database,
  parent: DependencyContainer = rootContainer,
  /** Set when the server can never be ready as configured (a transaction pooler on the LISTEN URL): `/readyz` says it. */
  notReadyReason?: string,
) {
  const c = parent.createChildContainer();
  c.register(ServerOptionsToken, { useValue: options });
  c.register(AppToken, { useValue: options.app });
  c.register(LoggerToken, { useValue: options.logger ?? silentLogger });
  c.register(DatabaseToken, { useValue: db });
  c.register(ChangeBusToken, {
    useFactory: instanceCachingFactory(
      (r) =>
        new PgNotificationBus(r.resolve<Database>(DatabaseToken), {
          channel: options.channel ?? DEFAULT_CHANGE_CHANNEL,
          outbox: options.capture === 'outbox' || options.capture === 'logical', // both fill pgrt.outbox: replay gaps from it
          logger: r.resolve<Logger>(LoggerToken),
          ...(options.busReconnect ? { backoff: options.busReconnect } : {}),
        }),
    ),
  });
  c.register(RealtimeCoreToken, {
    useFactory: instanceCachingFactory(
      (r) =>
        new RealtimeCore(
          r.resolve<App>(AppToken),
          r.resolve<Database>(DatabaseToken),
          r.resolve<ChangeBus>(ChangeBusToken),
          {
            ...options,
            logger: r.resolve<Logger>(LoggerToken),
          },
        ),
    ),
  });
  c.register(HttpHostToken, {
    useFactory: instanceCachingFactory((r) => {
      const core = r.resolve<RealtimeCore>(RealtimeCoreToken);
      return new HttpHost({
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.compression ? { compression: options.compression } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
        logger: r.resolve<Logger>(LoggerToken),
        ready: () => notReadyReason ?? core.ready,
      });
    }),
  });
  const meteorClient = options.meteorClient;
  if (meteorClient) {
    c.register(MeteorClientToken, {
      useFactory: instanceCachingFactory(
        (r) => new MeteorClient(meteorClient, r.resolve<Logger>(LoggerToken)),
      ),
    });
  }
  return c;
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
    const c = registerServer(pooler ? { ...options, outboxPump: false } : options, db, rootContainer, pooler);
    const meteorClient = options.meteorClient ? c.resolve<MeteorClient>(MeteorClientToken) : undefined;
    meteorClient?.registerPublications(options.app);
    const core = c.resolve<RealtimeCore>(RealtimeCoreToken);
    const host = c.resolve<HttpHost>(HttpHostToken);
    const metrics = options.metrics === true ? new ServerMetrics() : options.metrics || undefined;
    metrics?.observe(core);
    if (metrics) host.addRequestHandler(metrics.handler);
    // Connection logs (debug) whenever a logger is given; traffic counts when metrics are on.
    const instrument = metrics ?? (options.logger ? new ServerMetrics({ processMetrics: false }) : undefined);
    const hooks: ProtocolHooks = instrument
      ? {
          connection: (connection, name) =>
            instrument.instrument(connection, name, logger, metrics !== undefined),
        }
      : {};
    const protocols = (options.protocols ?? [ddp()]).map((p) => p.attach(core, host, logger, hooks));
    // After the protocols: their paths (/sockjs, /websocket) come before the app's routes and the client's pages.
    for (const route of options.app.routes) host.addRequestHandler(routeHandler(route, logger));
    meteorClient?.attach(host);
    await core.start();
    const port = await host.listen(options.port ?? 3000, options.host ?? '0.0.0.0');
    try {
      for (const protocol of protocols) await protocol.listen?.();
    } catch (error) {
      for (const protocol of protocols) await protocol.stopListening?.(0);
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
      meteorClient,
      metrics,
      listeners: protocols.flatMap((protocol) => protocol.listeners?.() ?? []),
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
          meteorClient?.close();
          for (const protocol of protocols) protocol.closeAll();
          const budget = options.shutdownTimeoutMs ?? 10_000;
          const [drained] = await Promise.all([
            host.upgradesClosed(budget),
            ...protocols.map((protocol) => protocol.stopListening?.(budget)),
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

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
