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
 * `.pgrt/pgdata` and stopped on close.
 */
import 'reflect-metadata';
import { type DependencyContainer, container as rootContainer } from 'tsyringe';
import { type DdpOptions, DdpProtocol } from './adapters/ddp/ddp-protocol.js';
import type { App } from './core/app.js';
import { type ChangeBus, ChangeBusToken, DEFAULT_CHANGE_CHANNEL } from './core/bus/change-bus.js';
import { PgNotificationBus } from './core/bus/pg-notification-bus.js';
import { type Database, DatabaseToken, PgDatabase, type Queryable } from './core/database/database.js';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from './core/database/embedded-postgres.js';
import { type Logger, LoggerToken, silentLogger } from './core/logger.js';
import { type CoreOptions, RealtimeCore } from './core/realtime-core.js';
import { HttpHost } from './transports/http-host.js';

/** Injection tokens of the composition root's own parts. */
export const AppToken = Symbol('pgrt.App');
export const RealtimeCoreToken = Symbol('pgrt.RealtimeCore');
export const HttpHostToken = Symbol('pgrt.HttpHost');
export const ServerOptionsToken = Symbol('pgrt.ServerOptions');

/** A protocol the server speaks: attaches endpoints to the host; closes its connections on shutdown. */
export interface Protocol {
  readonly name: string;
  attach(core: RealtimeCore, host: HttpHost, logger: Logger): ProtocolHandle;
}

/** A protocol attached to a running server. */
export interface ProtocolHandle {
  /** Tells every client to go away (shutdown). */
  closeAll(): void;
}

/** DDP (Meteor's protocol) at `/websocket`. */
export function ddp(options: DdpOptions = {}): Protocol {
  return {
    name: 'ddp',
    attach(core, host, logger) {
      const protocol = new DdpProtocol(core, options, logger);
      protocol.attach(host);
      return protocol;
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
  /** Where the embedded PostgreSQL keeps its data (default `.pgrt/pgdata`). */
  readonly embeddedDataDir?: string;
  /** Pool size (default 10). */
  readonly poolSize?: number;
  /** Runs before the core starts (create the app's tables here). */
  readonly migrate?: (db: Queryable) => Promise<void>;
  /** TLS certificate and key (PEM); the server then speaks https/wss only. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
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
  /** Graceful stop: tells clients to go away, stops the core, closes the pool (and embedded PostgreSQL). */
  close(): Promise<void>;
}

/**
 * Registers the server's parts in a child container. Exported so tests can resolve the whole production graph.
 */
export function registerServer(
  options: ServerOptions,
  db: Database,
  parent: DependencyContainer = rootContainer,
) {
  const c = parent.createChildContainer();
  c.register(ServerOptionsToken, { useValue: options });
  c.register(AppToken, { useValue: options.app });
  c.register(LoggerToken, { useValue: options.logger ?? silentLogger });
  c.register(DatabaseToken, { useValue: db });
  c.register(ChangeBusToken, {
    useFactory: (r) =>
      new PgNotificationBus(r.resolve<Database>(DatabaseToken), {
        channel: options.channel ?? DEFAULT_CHANGE_CHANNEL,
        logger: r.resolve<Logger>(LoggerToken),
      }),
  });
  c.register(RealtimeCoreToken, {
    useFactory: (r) =>
      new RealtimeCore(
        r.resolve<App>(AppToken),
        r.resolve<Database>(DatabaseToken),
        r.resolve<ChangeBus>(ChangeBusToken),
        {
          ...options,
          logger: r.resolve<Logger>(LoggerToken),
        },
      ),
  });
  c.register(HttpHostToken, {
    useFactory: (r) => {
      const core = r.resolve<RealtimeCore>(RealtimeCoreToken);
      return new HttpHost({ ...(options.tls ? { tls: options.tls } : {}), ready: () => core.ready });
    },
  });
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
    });
    url = embedded.url;
    database = `embedded (${redact(url)})`;
  }
  const db = new PgDatabase(url, { poolSize: options.poolSize ?? 10, logger });
  try {
    if (options.migrate) await options.migrate(db);
    const c = registerServer(options, db);
    const core = c.resolve<RealtimeCore>(RealtimeCoreToken);
    const host = c.resolve<HttpHost>(HttpHostToken);
    const protocols = (options.protocols ?? [ddp()]).map((p) => p.attach(core, host, logger));
    await core.start();
    const port = await host.listen(options.port ?? 3000, options.host ?? '0.0.0.0');
    let closing: Promise<void> | undefined;
    return {
      port,
      url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
      core,
      host,
      db,
      database,
      close() {
        closing ??= (async () => {
          for (const protocol of protocols) protocol.closeAll();
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

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
