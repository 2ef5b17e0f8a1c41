/**
 * The plug every protocol fits (DESIGN.md decision 13). A protocol adapter is one folder, `adapters/<name>/`,
 * whose `index.ts` exports a {@link ProtocolAdapter}: its name, its configuration section (zod), how it is built
 * from the effective configuration, its command-line flags — and, through the {@link Protocol} it builds, how it
 * attaches to a server, where it listens and how its frames are classified for the metrics. The server, the
 * configuration, the CLI and the public API know protocols only through the list in adapters/builtin.ts (plus any
 * adapter a user passes in); see adapters/README.md for how to add one.
 *
 * This file is the contract only. An adapter may import it, `core/` and `transports/`, never another adapter.
 */
import type { z } from 'zod';
import type { ConnectionHandler } from '../core/connection.js';
import type { Logger } from '../core/logger.js';
import type { RealtimeCore } from '../core/realtime-core.js';
import type { Classifier } from '../transports/frame-classifier.js';
import type { HttpHost } from '../transports/http-host.js';

/** What a protocol gets from the server it is attached to. */
export interface ProtocolContext {
  /** The transport-neutral core: sessions are opened here. */
  readonly core: RealtimeCore;
  /** The one HTTP(S) host: WebSocket endpoints, request handlers, limits, TLS, compression. */
  readonly host: HttpHost;
  readonly logger: Logger;
  /**
   * Wraps a connection handler so that every connection it receives is counted and logged by the server (metrics,
   * connection logs) before the protocol sees it. Every handler a protocol gives a transport must go through it;
   * it returns `handler` itself when the server has nothing to observe.
   */
  accept(handler: ConnectionHandler): ConnectionHandler;
  /**
   * The part registered under `token` in the server's container (a swappable part a protocol declared in
   * {@link Protocol.parts}, or one an app registered). Throws when nothing is registered.
   */
  resolve<T>(token: symbol): T;
}

/**
 * A swappable part of a protocol: the server registers `create`'s result under `token` unless the app's container
 * already has one, and the protocol reads it back with {@link ProtocolContext.resolve} (e.g. WAMP's default
 * authenticators). Tokens are exported beside the interface they stand for.
 */
export interface ProtocolPart<T = unknown> {
  readonly token: symbol;
  /** Builds the default from the core the protocol is attached to. */
  create(core: RealtimeCore): T;
}

/** A configured protocol, as `createServer({ protocols })` takes it (`ddp()`, `wamp({ … })`). */
export interface Protocol {
  /** The adapter's name: the `protocols` entry, the config section, the `protocol` label of metrics and logs. */
  readonly name: string;
  /**
   * The frame classifier of a connection that negotiated WebSocket subprotocol `subprotocol` ('' when none), for
   * the metrics: message types, and the call/reply ids that time method calls. Absent: every frame is `other`.
   */
  classifier?(subprotocol: string): Classifier;
  /** Parts the protocol lets an app swap (see {@link ProtocolPart}). */
  readonly parts?: readonly ProtocolPart[];
  /** Attaches the protocol's endpoints to the server (before the core starts and the host listens). */
  attach(context: ProtocolContext): ProtocolHandle;
}

/** A protocol attached to a running server. */
export interface ProtocolHandle {
  /**
   * Shutdown, before {@link closeAll}: hands the clients' sessions to the other processes (DDP's session
   * hand-off), within `timeoutMs`.
   */
  handOff?(timeoutMs: number): Promise<void>;
  /** Tells every client to go away (shutdown): clients should reconnect, elsewhere. */
  closeAll(): void;
  /** Starts listeners of the protocol's own beside the HTTP host (WAMP RawSocket), after the host listens. */
  listen?(): Promise<void>;
  /** Stops those listeners; connections still open after `timeoutMs` are dropped (shutdown, after closeAll). */
  stopListening?(timeoutMs: number): Promise<void>;
  /** Where those listeners are, once listening. */
  listeners?(): readonly ProtocolListener[];
  /** Where clients reach the protocol, for people ("listening at" lines of `pgrt serve`). */
  endpoints?(base: EndpointBase): readonly Endpoint[];
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

/** The server's public addresses, from which a protocol states its endpoints. */
export interface EndpointBase {
  /** `http://host:port` (https with TLS), no trailing slash. */
  readonly http: string;
  /** `ws://host:port` (wss with TLS). */
  readonly ws: string;
  /** The host name clients use (the bind address, or `localhost` for a wildcard one). */
  readonly host: string;
  /** True when the server speaks TLS. */
  readonly secure: boolean;
}

/** One place a client can reach, e.g. `{ name: 'DDP', url: 'ws://localhost:3000/websocket' }`. */
export interface Endpoint {
  readonly name: string;
  readonly url: string;
}

/** The configuration an adapter owns: top-level keys (by convention one, its name) and their zod schemas. */
export type ConfigSections = Readonly<Record<string, z.ZodType>>;

/** The effective values of an adapter's sections, defaults applied. */
export type SectionValues<S extends ConfigSections> = { readonly [K in keyof S]: z.output<S[K]> };

/** Top-level settings every adapter may read besides its own sections. */
export interface SharedConfig {
  /** Bind address of the server (`host`); a listener of the protocol's own binds there too. */
  readonly host: string;
  /** Public URL (`rootUrl`, Meteor's ROOT_URL), if configured. */
  readonly rootUrl: string | undefined;
  /** Trusted `X-Forwarded-For` hops (`forwardedCount`). */
  readonly forwardedCount: number;
}

/** A command-line flag of an adapter: `--<flag>` sets configuration key `key`. */
export interface AdapterFlag {
  /** Dotted configuration key, inside one of the adapter's sections (e.g. `wamp.realm`). */
  readonly key: string;
  /** Commander syntax of the flag, e.g. `--wamp-realm <name>`. */
  readonly flag: string;
  readonly description: string;
}

/**
 * A protocol adapter: everything the configuration layer and the CLI need to know about one protocol. The
 * programmatic API needs only its factory (`ddp(options)`), which returns the same {@link Protocol}.
 */
export interface ProtocolAdapter<S extends ConfigSections = ConfigSections> {
  /** Lower-case identifier: the `protocols` entry (`--protocols ddp,wamp`), the metrics label. */
  readonly name: string;
  /** One line for help texts, e.g. `DDP (Meteor clients) at /websocket and /sockjs`. */
  readonly summary: string;
  /** Its sections of the configuration file (each key must be new); defaults make every key optional. */
  readonly config: S;
  /** Flags of its own for `pgrt serve` (every key is settable anyway with `--set key=value` and `PGRT_*`). */
  readonly flags?: readonly AdapterFlag[];
  /** Served when the configuration names no protocols (DDP only, among the built-ins). */
  readonly enabledByDefault?: boolean;
  /** The protocol configured from its sections of the effective configuration. */
  fromConfig(config: SectionValues<S>, shared: SharedConfig): Protocol;
}

/** Any adapter, whatever its sections. */
export type AnyProtocolAdapter = ProtocolAdapter<ConfigSections>;

/** Identity with the types checked: `export const adapter = defineAdapter({ … })`. */
export function defineAdapter<S extends ConfigSections>(adapter: ProtocolAdapter<S>): ProtocolAdapter<S> {
  return adapter;
}

/** The connection handler unchanged: {@link ProtocolContext.accept} when the server observes nothing. */
export function acceptAll(handler: ConnectionHandler): ConnectionHandler {
  return handler;
}
