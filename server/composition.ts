/**
 * The composition root's container (tsyringe, per STYLE.md): every part of a server that can be swapped is
 * resolved through a token — the logger, the capture mode, the change bus, the rate limiter, the protocols and the
 * protocols' own parts (WAMP's default authenticators) — and the rest of the graph (the core, the HTTP host) is
 * built from them. An app (or a test) swaps a part by registering its token in the container it gives
 * `createServer({ container })`: a default is registered only where that container has nothing.
 *
 * `core` classes take plain constructor arguments and know nothing of the container. Every part is one instance per
 * server (`instanceCachingFactory` in a child container per server): the host's readiness must read the very core
 * `createServer` starts, and two servers in one process never share parts.
 */
import 'reflect-metadata'; // tsyringe refuses to load without a Reflect metadata polyfill
import {
  type DependencyContainer,
  type FactoryProvider,
  instanceCachingFactory,
  container as rootContainer,
  type ValueProvider,
} from 'tsyringe';
import { builtinAdapters } from '../adapters/builtin.js';
import type { Protocol, SectionValues } from '../adapters/protocol-adapter.js';
import type { App } from '../core/app.js';
import { type ChangeBus, ChangeBusToken, DEFAULT_CHANGE_CHANNEL } from '../core/bus/change-bus.js';
import { NatsChangeBus } from '../core/bus/nats/nats-change-bus.js';
import { PgNotificationBus } from '../core/bus/pg-notification-bus.js';
import { type CaptureMode, CaptureModeToken } from '../core/capture/capture-mode.js';
import { captureMode } from '../core/capture/capture-modes.js';
import { type Database, DatabaseToken } from '../core/database/database.js';
import { ConfigurationError } from '../core/errors.js';
import { type Logger, LoggerToken, silentLogger } from '../core/logger.js';
import { type RateLimiter, RateLimiterToken, rateLimiterFor } from '../core/rate-limit.js';
import { RealtimeCore } from '../core/realtime-core.js';
import type { ServerOptions } from '../server.js';
import { HttpHost } from '../transports/http-host.js';

/** The server's options as given to `createServer`. */
export const ServerOptionsToken = Symbol('pgrt.ServerOptions');
/** The {@link App}. */
export const AppToken = Symbol('pgrt.App');
/** The {@link RealtimeCore}. */
export const RealtimeCoreToken = Symbol('pgrt.RealtimeCore');
/** The {@link HttpHost}. */
export const HttpHostToken = Symbol('pgrt.HttpHost');
/** The protocols to attach (`readonly Protocol[]`; default: `options.protocols`, else DDP). */
export const ProtocolsToken = Symbol('pgrt.Protocols');

/** Every token a server's container resolves (besides the protocols' own parts). */
export const SERVER_TOKENS: readonly symbol[] = [
  ServerOptionsToken,
  AppToken,
  LoggerToken,
  DatabaseToken,
  CaptureModeToken,
  ChangeBusToken,
  RateLimiterToken,
  RealtimeCoreToken,
  HttpHostToken,
  ProtocolsToken,
];

/** The protocols served when none are given: the built-in adapters enabled by default (DDP), with defaults. */
export function defaultProtocols(host = '0.0.0.0'): Protocol[] {
  return builtinAdapters
    .filter((adapter) => adapter.enabledByDefault)
    .map((adapter) => {
      const sections: Record<string, unknown> = {};
      for (const [key, schema] of Object.entries(adapter.config)) sections[key] = schema.parse(undefined);
      return (
        adapter.fromConfig as (config: SectionValues<typeof adapter.config>, shared: unknown) => Protocol
      )(sections as SectionValues<typeof adapter.config>, { host, rootUrl: undefined, forwardedCount: 0 });
    });
}

/**
 * Registers a server's parts in a child container of `parent` (default: the root container) and returns it; parts
 * `parent` already has are used as they are. Exported so tests can resolve the whole production graph.
 * `notReadyReason`: set when the server can never be ready as configured (a transaction pooler on the LISTEN URL):
 * `/readyz` says it.
 */
export function registerServer(
  options: ServerOptions,
  db: Database,
  parent: DependencyContainer = rootContainer,
  notReadyReason?: string,
): DependencyContainer {
  const c = parent.createChildContainer();
  const byDefault = <T>(token: symbol, provider: ValueProvider<T> | FactoryProvider<T>): void => {
    if (parent.isRegistered(token, true)) return;
    if ('useValue' in provider) c.register(token, provider);
    else c.register(token, provider);
  };
  const once = <T>(build: (r: DependencyContainer) => T): FactoryProvider<T> => ({
    useFactory: instanceCachingFactory(build),
  });
  c.register(ServerOptionsToken, { useValue: options });
  c.register(AppToken, { useValue: options.app });
  c.register(DatabaseToken, { useValue: db });
  byDefault(LoggerToken, { useValue: options.logger ?? silentLogger });
  // The capture mode (core/capture): swapping it changes the bus's replay and the core's capture and fences together.
  byDefault(CaptureModeToken, { useValue: captureMode(options.capture ?? 'notify') });
  byDefault(
    RateLimiterToken,
    once(() => rateLimiterFor(options.rateLimits)),
  );
  byDefault(
    ChangeBusToken,
    once((r) => {
      const capture = r.resolve<CaptureMode>(CaptureModeToken);
      if (options.bus === 'nats') {
        if (!capture.outbox)
          throw new ConfigurationError(
            `bus 'nats' needs capture 'outbox' or 'logical' (the pump relays the outbox), not '${capture.name}'`,
          );
        return new NatsChangeBus({
          channel: options.channel ?? DEFAULT_CHANGE_CHANNEL,
          logger: r.resolve<Logger>(LoggerToken),
          ...(options.natsUrl ? { url: options.natsUrl } : {}),
          ...(options.natsStream ? { stream: options.natsStream } : {}),
        });
      }
      return new PgNotificationBus(r.resolve<Database>(DatabaseToken), {
        channel: options.channel ?? DEFAULT_CHANGE_CHANNEL,
        // Modes that fill pgrt.outbox: replay gaps from it.
        outbox: capture.outbox,
        logger: r.resolve<Logger>(LoggerToken),
        ...(options.busReconnect ? { backoff: options.busReconnect } : {}),
      });
    }),
  );
  c.register(
    RealtimeCoreToken,
    once(
      (r) =>
        new RealtimeCore(
          r.resolve<App>(AppToken),
          r.resolve<Database>(DatabaseToken),
          r.resolve<ChangeBus>(ChangeBusToken),
          {
            ...options,
            capture: r.resolve<CaptureMode>(CaptureModeToken),
            rateLimiter: r.resolve<RateLimiter>(RateLimiterToken),
            logger: r.resolve<Logger>(LoggerToken),
            ...(options.limits ? { subscriptionLimits: options.limits } : {}),
          },
        ),
    ),
  );
  c.register(
    HttpHostToken,
    once((r) => {
      const core = r.resolve<RealtimeCore>(RealtimeCoreToken);
      return new HttpHost({
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.compression ? { compression: options.compression } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
        logger: r.resolve<Logger>(LoggerToken),
        ready: () => notReadyReason ?? core.readiness,
      });
    }),
  );
  byDefault(ProtocolsToken, { useValue: options.protocols ?? defaultProtocols(options.host) });
  // The protocols' swappable parts, built from the core they attach to unless the app registered its own.
  for (const part of c.resolve<readonly Protocol[]>(ProtocolsToken).flatMap((p) => p.parts ?? [])) {
    if (!c.isRegistered(part.token, true))
      c.register(
        part.token,
        once((r) => part.create(r.resolve<RealtimeCore>(RealtimeCoreToken))),
      );
  }
  return c;
}
