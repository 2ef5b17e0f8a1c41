/**
 * The DDP protocol adapter: attaches to the HTTP host at `<prefix>/websocket` (raw WebSocket, no SockJS framing)
 * and at `<prefix>/sockjs` (SockJS, what Meteor's browser client uses), and runs a {@link DdpConnection} per
 * connection against the core, whichever endpoint it came through. With `meteorClient`, it also serves what a
 * Meteor-built web client expects besides DDP (meteor-client.ts).
 */
import deflate from 'permessage-deflate';
import type { Connection, ConnectionHandler } from '../../core/connection.js';
import type { Logger } from '../../core/logger.js';
import { DEFAULT_MAX_NESTING_DEPTH } from '../../core/nesting-depth.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { CompressionOptions, HttpHost } from '../../transports/http-host.js';
import { SockJsEndpoint, type SockJsEndpointOptions } from '../../transports/sockjs-endpoint.js';
import { TimerWheel } from '../../transports/timer-wheel.js';
import { WebSocketEndpoint } from '../../transports/websocket-endpoint.js';
import { WriteCoalescer } from '../../transports/write-coalescer.js';
import { acceptAll, type Endpoint, type EndpointBase, type ProtocolHandle } from '../protocol-adapter.js';
import { DdpConnection, type DdpConnectionSettings } from './ddp-connection.js';
import type { DdpSession } from './ddp-session.js';
import { SessionHandoff } from './handoff.js';
import { HandoffStore } from './handoff-store.js';
import { heartbeatWheelTick } from './heartbeat.js';
import { MeteorClient, type MeteorClientOptions } from './meteor-client.js';
import { ParkedSessions } from './resumption.js';

/** Options of the DDP adapter (all optional; defaults are Meteor's). */
export interface DdpOptions {
  /** Server ping interval in ms (default 15000, Meteor's); 0 disables heartbeats. */
  readonly heartbeatInterval?: number;
  /** Close the connection when nothing arrives this many ms after a ping (default 15000). */
  readonly heartbeatTimeout?: number;
  /**
   * Larger messages are refused with `error "Message too large"`; a SockJS HTTP request body (`xhr_send`,
   * `jsonp_send`) over it gets `413` (default 1 MiB).
   */
  readonly maxMessageBytes?: number;
  /** Larger frames close the socket (WebSocket 1009) without being read (default 4 × maxMessageBytes). */
  readonly maxFrameBytes?: number;
  /**
   * Messages nested deeper than this many levels get `error "Message too deeply nested"` and are dropped; the
   * connection stays open (default: the server's `limits.maxNestingDepth`, else 64).
   */
  readonly maxNestingDepth?: number;
  /** Path prefix (Meteor's ROOT_URL_PATH_PREFIX), e.g. `/app`; default none. */
  readonly pathPrefix?: string;
  /** Trust the N-th right-most X-Forwarded-For entry as client address (Meteor's HTTP_FORWARDED_COUNT). */
  readonly forwardedCount?: number;
  /** Answer client pings (default true). */
  readonly respondToPings?: boolean;
  /** SockJS at `<prefix>/sockjs` (default: on, with Meteor's settings); false: raw `/websocket` only. */
  readonly sockjs?: false | DdpSockJsOptions;
  /**
   * Session resumption (Meteor 3.5): how long, in ms, a session whose socket dropped without a `disconnect`
   * message is kept for its client to resume it (Meteor's `disconnectGracePeriod`, default 15000); 0 disables
   * resumption.
   */
  readonly disconnectGracePeriod?: number;
  /**
   * Session resumption: outbound frames kept per session for replay, and the most messages a dropped session may
   * buffer before it is ended (Meteor's `maxMessageQueueLength`, default 100).
   */
  readonly maxMessageQueueLength?: number;
  /**
   * Session resumption: bytes (UTF-8) of outbound frames kept per session for replay; older frames are forgotten
   * to stay under it, and a dropped session that would need a forgotten frame is ended (default 1 MiB).
   */
  readonly maxMessageQueueBytes?: number;
  /**
   * Session resumption across processes (adapters/ddp/handoff.ts): at shutdown, live sessions are written to the
   * database, and a client whose session another process handed off resumes it here, getting only what changed
   * (default true; needs resumption, i.e. `disconnectGracePeriod` > 0; kept for `handOffGracePeriod`).
   */
  readonly handOffSessions?: boolean;
  /**
   * Session resumption across processes: ms a handed-off session is kept for its client to come back to another
   * process (default 60 s; 0 turns hand-off off). Longer than `disconnectGracePeriod` by default: in a rolling deploy clients return
   * through the balancer, all at once, to processes that are busy taking over.
   */
  readonly handOffGracePeriod?: number;
  /**
   * Outbound coalescing: a session's frames are held for a window and written together (several WebSocket
   * frames in one socket write; several messages in one SockJS `a[…]` frame; each still one DDP message).
   * `0` (default): until the end of the current event-loop turn — no timer delay; `n > 0`: up to n ms;
   * `false`: one socket write per message.
   */
  readonly coalesceMs?: number | false;
  /**
   * Meteor web clients: the stock publications (autoupdate, login service configuration) and, with `staticDir`,
   * the built client served with a generated `__meteor_runtime_config__` and hot code push (meteor-client.ts).
   * `pathPrefix` defaults to this adapter's. Absent: none of it.
   */
  readonly meteorClient?: MeteorClientOptions;
}

/** Default of {@link DdpOptions.maxMessageQueueBytes}: 1 MiB per session. */
export const DEFAULT_MAX_MESSAGE_QUEUE_BYTES = 1024 * 1024;

/** SockJS settings of the DDP adapter (see {@link SockJsEndpointOptions}; defaults are Meteor's). */
export interface DdpSockJsOptions
  extends Omit<
    SockJsEndpointOptions,
    'prefix' | 'logger' | 'maxFrameBytes' | 'maxBodyBytes' | 'forwardedCount' | 'extensions'
  > {
  /**
   * Send the legacy welcome frame `{"server_id":"0"}` when a SockJS session opens (Meteor before 2.3 did; the
   * original ddptest waits for it). Default false.
   */
  readonly welcomeFrame?: boolean;
}

/** The legacy server-first frame: a JSON object without `msg`, which DDP clients ignore (DDP.md). */
export const LEGACY_WELCOME_FRAME = '{"server_id":"0"}';

/** Serves DDP on the host. */
export class DdpProtocol implements ConnectionHandler, ProtocolHandle {
  #settings: DdpConnectionSettings;
  /** The Meteor web client support, when `meteorClient` was given. */
  readonly meteorClient: MeteorClient | undefined;

  constructor(
    core: RealtimeCore,
    private readonly options: DdpOptions = {},
    private readonly logger: Logger = core.logger,
  ) {
    const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    const gracePeriod = options.disconnectGracePeriod ?? 15_000;
    const heartbeat = {
      interval: options.heartbeatInterval ?? 15_000,
      timeout: options.heartbeatTimeout ?? 15_000,
    };
    const coalesceMs = options.coalesceMs ?? 0;
    this.#settings = {
      core,
      logger,
      heartbeat,
      wheel: new TimerWheel({
        tickMs: heartbeatWheelTick(heartbeat),
        onError: (error) => logger.error({ err: error }, 'DDP heartbeat failed'),
      }),
      coalescer: coalesceMs === false ? undefined : new WriteCoalescer(coalesceMs),
      maxMessageBytes,
      maxNestingDepth: options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH,
      respondToPings: options.respondToPings ?? true,
      maxMessageQueueLength: options.maxMessageQueueLength ?? 100,
      maxMessageQueueBytes: options.maxMessageQueueBytes ?? DEFAULT_MAX_MESSAGE_QUEUE_BYTES,
      // Messages waiting behind a slow method: a few full-size messages' worth, then the socket is paused.
      maxInboundQueueBytes: 4 * maxMessageBytes,
      parked: gracePeriod > 0 ? new ParkedSessions<DdpSession>(gracePeriod) : undefined,
      connections: new Set(),
      handoff:
        gracePeriod > 0 && options.handOffSessions !== false && (options.handOffGracePeriod ?? 60_000) > 0
          ? new SessionHandoff(new HandoffStore(core.db, options.handOffGracePeriod ?? 60_000), core, logger)
          : undefined,
    };
    const meteorClient = options.meteorClient;
    this.meteorClient = meteorClient
      ? new MeteorClient({ pathPrefix: this.#prefix, ...meteorClient }, logger)
      : undefined;
  }

  /** The path prefix without a trailing slash ('' for none). */
  get #prefix(): string {
    return (this.options.pathPrefix ?? '').replace(/\/+$/, '');
  }

  /** Number of open DDP connections. */
  get connectionCount(): number {
    return this.#settings.connections.size;
  }

  /**
   * Registers the raw WebSocket endpoint and (unless disabled) the SockJS endpoint on `host`, each connection
   * through `accept` (the server's connection observer), and the Meteor web client when configured (its
   * publications on `core.app`, before the core starts).
   */
  attach(host: HttpHost, accept: (handler: ConnectionHandler) => ConnectionHandler = acceptAll): void {
    const hostDepth = host.limits.maxNestingDepth;
    if (this.options.maxNestingDepth === undefined && hostDepth !== undefined)
      this.#settings = { ...this.#settings, maxNestingDepth: hostDepth };
    const prefix = this.#prefix;
    this.meteorClient?.registerPublications(this.#settings.core.app);
    const accepted = accept(this);
    const paths = new Set([`${prefix}/websocket`, `${prefix}/websocket/`]);
    const maxFrameBytes = this.options.maxFrameBytes ?? 4 * this.#settings.maxMessageBytes;
    const forwardedCount = this.options.forwardedCount ?? 0;
    host.addEndpoint(
      new WebSocketEndpoint(accepted, {
        matches: (pathname) => paths.has(pathname),
        maxPayload: maxFrameBytes,
        forwardedCount,
        compression: host.compression,
      }),
    );
    this.#attachSockJs(host, prefix, maxFrameBytes, forwardedCount, accepted);
    this.meteorClient?.attach(host);
  }

  #attachSockJs(
    host: HttpHost,
    prefix: string,
    maxFrameBytes: number,
    forwardedCount: number,
    accepted: ConnectionHandler,
  ): void {
    const sockjsOptions = this.options.sockjs ?? {};
    if (sockjsOptions === false) return;
    const { welcomeFrame = false, ...endpointOptions } = sockjsOptions;
    const handler: ConnectionHandler = {
      handleConnection: (connection) => {
        if (welcomeFrame) connection.send(LEGACY_WELCOME_FRAME);
        accepted.handleConnection(connection);
      },
    };
    const endpoint = new SockJsEndpoint(handler, {
      ...endpointOptions,
      prefix: `${prefix}/sockjs`,
      maxFrameBytes,
      // One HTTP-transport request carries a batch of messages: it may be as large as one message.
      maxBodyBytes: this.#settings.maxMessageBytes,
      forwardedCount,
      logger: this.logger,
      ...(host.compression ? { extensions: [sockjsDeflate(host.compression)] } : {}),
    });
    endpoint.attach(host);
  }

  handleConnection(connection: Connection): void {
    new DdpConnection(connection, this.#settings);
  }

  /** Number of sessions waiting for their client to resume them. */
  get parkedSessionCount(): number {
    return this.#settings.parked?.size ?? 0;
  }

  /**
   * Shutdown, before {@link closeAll}: hands the live sessions off to the other processes (handoff.ts), giving up
   * after `timeoutMs`. The handed-off sessions send nothing more; their sockets close with the others.
   */
  async handOff(timeoutMs: number): Promise<void> {
    const handoff = this.#settings.handoff;
    if (!handoff) return;
    const sessions: DdpSession[] = [];
    for (const connection of this.#settings.connections)
      if (connection.session) sessions.push(connection.session);
    await handoff.handOff(sessions, timeoutMs);
  }

  /**
   * Shutdown: ends every session waiting to be resumed, writes what the coalescer holds, stops the heartbeats
   * and closes every DDP connection with `code` (default 1001 "going away": Meteor clients reconnect — through
   * the load balancer, to another server — and resubscribe). Queued frames go out before the close frame.
   */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    this.meteorClient?.close();
    this.#settings.parked?.close();
    this.#settings.coalescer?.flush();
    this.#settings.wheel.close();
    for (const connection of this.#settings.connections) connection.close(code, reason);
  }

  /** Where clients reach DDP on this server. */
  endpoints(base: EndpointBase): Endpoint[] {
    return ddpEndpoints(this.options, base);
  }
}

/** Where DDP listens: `<prefix>/websocket`, and `<prefix>/sockjs` unless SockJS is off. */
export function ddpEndpoints(options: DdpOptions, base: EndpointBase): Endpoint[] {
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
  const out: Endpoint[] = [{ name: 'DDP', url: `${base.ws}${prefix}/websocket` }];
  if (options.sockjs !== false) out.push({ name: 'DDP over SockJS', url: `${base.http}${prefix}/sockjs` });
  return out;
}

/** faye's permessage-deflate for the SockJS websocket transport (it has no size threshold). */
function sockjsDeflate(compression: CompressionOptions): unknown {
  return deflate.configure({ level: compression.level ?? 3 });
}
