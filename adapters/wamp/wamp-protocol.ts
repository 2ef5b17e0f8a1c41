/**
 * The WAMP protocol adapter: a WAMP v2 router (realms, broker, dealer, auth, meta API) at `/ws` on the shared
 * HTTP host, bridged to the pgrt core (core-bridge.ts). Subprotocols `wamp.2.json`, `wamp.2.msgpack` and
 * `wamp.2.cbor`, chosen in the server's preference order (`serializers`, default json first); a client offering
 * none of them is refused at the upgrade. Optionally WAMP RawSocket on a port of its own (`rawSocket`).
 *
 * Options and defaults are documented on {@link WampOptions} and in adapters/wamp/README.md.
 */
import type { Connection, ConnectionHandler } from '../../core/connection.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import { DEFAULT_MAX_NESTING_DEPTH } from '../../core/nesting-depth.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { HttpHost } from '../../transports/http-host.js';
import { RawSocketEndpoint } from '../../transports/rawsocket-endpoint.js';
import { WebSocketEndpoint } from '../../transports/websocket-endpoint.js';
import { WriteCoalescer } from '../../transports/write-coalescer.js';
import {
  acceptAll,
  type Endpoint,
  type EndpointBase,
  type ProtocolHandle,
  type ProtocolListener,
} from '../protocol-adapter.js';
import type { RealmGrants } from './access-policy.js';
import { type Authenticator, anonymousAuthenticator } from './authentication.js';
import { type Authorizer, allowAll, type Permission, staticAuthorizer } from './authorization.js';
import { CoreBridge } from './core-bridge.js';
import { IdSequence, uniqueRandomId } from './ids.js';
import { installMetaApi } from './meta-api.js';
import { Realm } from './realm.js';
import { RAWSOCKET_SERIALIZER_IDS, SERIALIZERS, type SerializerName, serializerFor } from './serializers.js';
import type { UriCheck } from './uri.js';
import { type RouterContext, WampConnection, type WampConnectionSettings } from './wamp-connection.js';

/** One realm's configuration. */
export interface WampRealmOptions {
  /** The realm name (a URI), e.g. `realm1`. */
  readonly name: string;
  /** URI checking of topics and procedures (default `strict`, Crossbar's default). */
  readonly uriCheck?: UriCheck;
  /**
   * Authentication methods offered, tried in the client's order (default: the adapter's default authenticators —
   * {@link WampAuthenticatorsToken} on a server, anonymous only otherwise).
   */
  readonly authenticators?: readonly Authenticator[];
  /** Crossbar-style permissions per role (see authorization.ts); ignored when `authorizer` is given. */
  readonly roles?: Readonly<Record<string, readonly Permission[]>>;
  /**
   * Decides every action the router's fixed rules leave open (default: everything allowed, or `roles` when
   * given). It can narrow the grants below, never widen them (access-policy.ts).
   */
  readonly authorizer?: Authorizer;
  /**
   * Roles that may call the meta API (`wamp.session.*` — list, get, kill… —, `wamp.subscription.*`,
   * `wamp.registration.*`) and receive its events (`wamp.session.on_join`, …), as far as the authorizer allows
   * (default none: a trusted/admin role must be named; `add_testament` and `flush_testaments` stay open to all).
   */
  readonly metaApiRoles?: readonly string[];
  /** Roles that may register `prefix`/`wildcard` procedures, never inside `wamp.`/`pgrt.` (default none). */
  readonly patternRegistrationRoles?: readonly string[];
  /**
   * Roles whose identity (session id, authid, authrole) is disclosed to callees and subscribers when a call or
   * publication asks for it (`disclose_me`, `disclose_caller`); default none, as Crossbar. A permission's
   * `disclose` (or an authorizer answering `{allow, disclose}`) grants it per URI.
   */
  readonly disclosureRoles?: readonly string[];
  /** Bridge the pgrt core into this realm: methods as procedures, publications via `pgrt.subscribe` (default true). */
  readonly bridge?: boolean;
  /** Send ERROR `wamp.error.canceled` on a `skip` cancel (default false, as Crossbar). */
  readonly skipSendsError?: boolean;
  /** Retained events kept at most; the oldest topic is dropped first (default 10000). */
  readonly maxRetained?: number;
  /**
   * Bytes the realm's retained events may take in all (payload and topic, as serialized); the oldest topics are
   * dropped first and a larger event is not retained (default 16 MiB). Without it, 10,000 topics × 1-MiB events
   * could hold 10 GB.
   */
  readonly maxRetainedBytes?: number;
  /**
   * Testaments (`wamp.session.add_testament`) a session may hold at once, each at most `maxMessageBytes`; one more
   * gets `ERROR wamp.error.testament_error` (default 16).
   */
  readonly maxTestaments?: number;
}

/** Options of the WAMP adapter. */
export interface WampOptions {
  /** WebSocket path (default `/ws`). */
  readonly path?: string;
  /**
   * Realms (default: one realm `realm1`, anonymous, strict URIs, bridged; every action allowed except what the
   * router keeps closed unless granted: the meta API, pattern registrations, identity disclosure).
   */
  readonly realms?: readonly WampRealmOptions[];
  /** Serializers in server preference order (default `['json', 'msgpack', 'cbor']`). */
  readonly serializers?: readonly SerializerName[];
  /** Larger incoming messages abort the session with `protocol_violation` (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Larger WebSocket frames close the socket (1009) unread (default 4 × maxMessageBytes). */
  readonly maxFrameBytes?: number;
  /**
   * Messages nested deeper than this many levels abort the session with `protocol_violation` (default: the
   * server's `limits.maxNestingDepth`, else 64).
   */
  readonly maxNestingDepth?: number;
  /** Require each request id to be the previous + 1 (default false: strictly increasing suffices). */
  readonly strictRequestIds?: boolean;
  /** No ERROR after a non-`kill` CANCEL from Autobahn|JS callers, which settle it locally (default true). */
  readonly autobahnCancelCompat?: boolean;
  /** After a router GOODBYE, close the transport if the client does not answer within this many ms (default 5000). */
  readonly goodbyeTimeoutMs?: number;
  /** Trust the N-th right-most X-Forwarded-For entry as client address. */
  readonly forwardedCount?: number;
  /**
   * Outbound coalescing, as DDP's: a connection's messages are held for a window and written together (several
   * WebSocket messages in one socket write, each still one WAMP message). `0` (default): until the end of the
   * current event-loop turn, no timer delay; `n > 0`: up to n ms; `false`: one socket write per message.
   */
  readonly coalesceMs?: number | false;
  /**
   * WAMP RawSocket on a listening socket of its own (transports/rawsocket-endpoint.ts), beside the WebSocket
   * endpoint: same realms, serializers and `maxMessageBytes` (advertised as the next power of two). Absent: none.
   */
  readonly rawSocket?: WampRawSocketOptions;
}

/** Where WAMP RawSocket listens: a TCP port (`port` 0: any free one) or a Unix socket `path`. */
export interface WampRawSocketOptions {
  readonly port?: number;
  /** Bind address (default `0.0.0.0`). */
  readonly host?: string;
  /** A Unix socket path instead of TCP. */
  readonly path?: string;
  /** A client that sends no handshake this many ms after connecting is dropped (default 10000). */
  readonly handshakeTimeoutMs?: number;
  /**
   * RawSocket over TLS with the server's certificate (default: when the server has `tls`, on TCP). `false` keeps
   * a TCP RawSocket plain beside an https host (Autobahn|JS's RawSocket cannot do TLS): only behind a trusted
   * network. A Unix socket is never TLS.
   */
  readonly tls?: boolean;
}

/**
 * Injection token of the authenticators (`readonly Authenticator[]`) a realm offers when its options name none;
 * default: anonymous only. An app swaps them for every such realm (the one `pgrt serve` configures too) by
 * registering this token in the container it gives `createServer({ container })`.
 */
export const WampAuthenticatorsToken = Symbol('pgrt.wamp.Authenticators');

/** The grants of a realm's options (every set empty by default). */
function grantsOf(options: WampRealmOptions): RealmGrants {
  return {
    metaApiRoles: new Set(options.metaApiRoles),
    patternRegistrationRoles: new Set(options.patternRegistrationRoles),
    disclosureRoles: new Set(options.disclosureRoles),
  };
}

/** Serves WAMP on the host. */
export class WampProtocol implements ConnectionHandler, RouterContext, ProtocolHandle {
  readonly #realms = new Map<string, Realm>();
  readonly #connections = new Set<WampConnection>();
  readonly #sessionIds = new Set<number>();
  #settings: WampConnectionSettings;
  readonly #subprotocols: readonly string[];
  #rawSocket: RawSocketEndpoint | undefined;
  /** The RawSocket's bound port or Unix path, once listening. */
  #rawSocketAddress: number | string | undefined;
  /** True when the RawSocket speaks TLS. */
  #rawSocketSecure = false;

  /** `core` null: a plain router without the core bridge. */
  constructor(
    core: RealtimeCore | null,
    private readonly options: WampOptions = {},
    private readonly logger: Logger = core?.logger ?? silentLogger,
    /** What a realm without `authenticators` offers. */
    defaultAuthenticators: readonly Authenticator[] = [anonymousAuthenticator()],
  ) {
    this.#settings = {
      maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
      maxNestingDepth: options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH,
      strictRequestIds: options.strictRequestIds ?? false,
      autobahnCancelCompat: options.autobahnCancelCompat ?? true,
      goodbyeTimeoutMs: options.goodbyeTimeoutMs ?? 5000,
      agent: 'pgrt',
      coalescer: options.coalesceMs === false ? undefined : new WriteCoalescer(options.coalesceMs ?? 0),
    };
    this.#subprotocols = (options.serializers ?? ['json', 'msgpack', 'cbor']).map(
      (n) => SERIALIZERS[n].subprotocol,
    );
    const ids = new IdSequence();
    for (const realmOptions of options.realms ?? [{ name: 'realm1' }]) {
      const realm = new Realm(
        {
          name: realmOptions.name,
          uriCheck: realmOptions.uriCheck ?? 'strict',
          authenticators: realmOptions.authenticators ?? defaultAuthenticators,
          authorizer:
            realmOptions.authorizer ?? (realmOptions.roles ? staticAuthorizer(realmOptions.roles) : allowAll),
          grants: grantsOf(realmOptions),
          skipSendsError: realmOptions.skipSendsError ?? false,
          retention: {
            events: realmOptions.maxRetained ?? 10_000,
            bytes: realmOptions.maxRetainedBytes ?? 16 * 1024 * 1024,
          },
          maxTestaments: realmOptions.maxTestaments ?? 16,
        },
        ids,
        this.logger.child({ realm: realmOptions.name }),
      );
      if (realmOptions.metaApiRoles?.includes('anonymous')) {
        this.logger.warn(
          { realm: realm.name },
          'role anonymous may use the WAMP meta API: anyone can list and kill sessions',
        );
      }
      installMetaApi(realm);
      if (core && realmOptions.bridge !== false) new CoreBridge(core, realm, this.logger).install();
      this.#realms.set(realm.name, realm);
    }
  }

  /** Number of open WAMP transports. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Registers the WebSocket endpoint on `host` (and prepares the RawSocket listener), each connection through
   * `accept` (the server's connection observer).
   */
  attach(host: HttpHost, accept: (handler: ConnectionHandler) => ConnectionHandler = acceptAll): void {
    const accepted = accept(this);
    const hostDepth = host.limits.maxNestingDepth;
    if (this.options.maxNestingDepth === undefined && hostDepth !== undefined)
      this.#settings = { ...this.#settings, maxNestingDepth: hostDepth };
    const path = (this.options.path ?? '/ws').replace(/\/+$/, '');
    const paths = new Set([path, `${path}/`]);
    host.addEndpoint(
      new WebSocketEndpoint(accepted, {
        matches: (pathname) => paths.has(pathname),
        protocols: this.#subprotocols,
        maxPayload: this.options.maxFrameBytes ?? 4 * this.#settings.maxMessageBytes,
        forwardedCount: this.options.forwardedCount ?? 0,
      }),
    );
    const rawSocket = this.options.rawSocket;
    if (rawSocket) {
      const tls = rawSocket.path === undefined && rawSocket.tls !== false ? host.tls : undefined;
      this.#rawSocketSecure = tls !== undefined;
      this.#rawSocket = new RawSocketEndpoint(accepted, {
        ...rawSocket,
        tls,
        serializers: (this.options.serializers ?? ['json', 'msgpack', 'cbor']).map((name) => ({
          id: RAWSOCKET_SERIALIZER_IDS[name],
          protocol: SERIALIZERS[name].subprotocol,
          text: name === 'json',
        })),
        maxMessageBytes: this.#settings.maxMessageBytes,
        guard: host.guard,
        logger: this.logger.child({ component: 'rawsocket' }),
      });
    }
  }

  /** Starts the RawSocket listener, when configured (after the HTTP host listens). */
  async listen(): Promise<void> {
    if (this.#rawSocket) this.#rawSocketAddress = await this.#rawSocket.listen();
  }

  /** The RawSocket's bound TCP port or Unix socket path; undefined without RawSocket or before {@link listen}. */
  get rawSocketAddress(): number | string | undefined {
    return this.#rawSocketAddress;
  }

  /** Stops the RawSocket listener; its connections (told to close by {@link closeAll}) are dropped after `timeoutMs`. */
  async stopListening(timeoutMs: number): Promise<void> {
    await this.#rawSocket?.close(timeoutMs);
  }

  handleConnection(connection: Connection): void {
    const serializer = serializerFor(connection.protocol);
    if (!serializer) {
      connection.close(1002, 'no WAMP subprotocol negotiated');
      return;
    }
    const wamp = new WampConnection(connection, serializer, this, this.#settings, this.logger);
    this.#connections.add(wamp);
    connection.onClose(() => this.#connections.delete(wamp));
  }

  /** Closes every transport without a WAMP GOODBYE, so clients reconnect (shutdown). */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    this.#settings.coalescer?.flush();
    for (const connection of this.#connections) connection.close(code, reason);
  }

  /** The RawSocket listener, once listening. */
  listeners(): ProtocolListener[] {
    const address = this.#rawSocketAddress;
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
  }

  /** Where clients reach the router: the WebSocket path, and RawSocket once listening. */
  endpoints(base: EndpointBase): Endpoint[] {
    const realms = [...this.#realms.keys()].join(', ');
    const path = (this.options.path ?? '/ws').replace(/\/+$/, '');
    const out: Endpoint[] = [{ name: `WAMP (realm ${realms})`, url: `${base.ws}${path}` }];
    for (const listener of this.listeners()) {
      const url =
        listener.path !== undefined
          ? `rs+unix://${listener.path}`
          : `${base.secure && this.#rawSocketSecure ? 'rss' : 'rs'}://${base.host}:${listener.port}`;
      out.push({ name: `WAMP RawSocket (realm ${realms})`, url });
    }
    return out;
  }

  // ---- RouterContext ---------------------------------------------------------------------------------------

  realm(name: string): Realm | undefined {
    return this.#realms.get(name);
  }

  newSessionId(): number {
    const id = uniqueRandomId((candidate) => this.#sessionIds.has(candidate));
    this.#sessionIds.add(id);
    return id;
  }

  releaseSessionId(id: number): void {
    this.#sessionIds.delete(id);
  }
}
