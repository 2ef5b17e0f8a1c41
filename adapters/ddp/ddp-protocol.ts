/**
 * The DDP protocol adapter: attaches to the HTTP host at `<prefix>/websocket` (raw WebSocket, no SockJS
 * framing; SockJS joins in its own issue) and runs a {@link DdpConnection} per socket against the core.
 */
import type { Connection, ConnectionHandler } from '../../core/connection.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { HttpHost } from '../../transports/http-host.js';
import { WebSocketEndpoint } from '../../transports/websocket-endpoint.js';
import { DdpConnection, type DdpConnectionSettings } from './ddp-connection.js';

/** Options of the DDP adapter (all optional; defaults are Meteor's). */
export interface DdpOptions {
  /** Server ping interval in ms (default 15000, Meteor's); 0 disables heartbeats. */
  readonly heartbeatInterval?: number;
  /** Close the connection when nothing arrives this many ms after a ping (default 15000). */
  readonly heartbeatTimeout?: number;
  /** Larger messages are refused with `error "Message too large"` (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Larger frames close the socket (WebSocket 1009) without being read (default 4 × maxMessageBytes). */
  readonly maxFrameBytes?: number;
  /** Path prefix (Meteor's ROOT_URL_PATH_PREFIX), e.g. `/app`; default none. */
  readonly pathPrefix?: string;
  /** Trust the N-th right-most X-Forwarded-For entry as client address (Meteor's HTTP_FORWARDED_COUNT). */
  readonly forwardedCount?: number;
  /** Answer client pings (default true). */
  readonly respondToPings?: boolean;
}

/** Injection token for {@link DdpProtocol}. */
export const DdpProtocolToken = Symbol('pgrt.DdpProtocol');

/** Serves DDP on the host. */
export class DdpProtocol implements ConnectionHandler {
  readonly #settings: DdpConnectionSettings;
  readonly #connections = new Set<Connection>();

  constructor(
    private readonly core: RealtimeCore,
    private readonly options: DdpOptions = {},
    private readonly logger: Logger = core.logger,
  ) {
    const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.#settings = {
      heartbeat: {
        interval: options.heartbeatInterval ?? 15_000,
        timeout: options.heartbeatTimeout ?? 15_000,
      },
      maxMessageBytes,
      respondToPings: options.respondToPings ?? true,
    };
  }

  /** Number of open DDP connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Registers the raw WebSocket endpoint on `host`. */
  attach(host: HttpHost): void {
    const prefix = (this.options.pathPrefix ?? '').replace(/\/+$/, '');
    const paths = new Set([`${prefix}/websocket`, `${prefix}/websocket/`]);
    host.addEndpoint(
      new WebSocketEndpoint(this, {
        matches: (pathname) => paths.has(pathname),
        maxPayload: this.options.maxFrameBytes ?? 4 * this.#settings.maxMessageBytes,
        forwardedCount: this.options.forwardedCount ?? 0,
      }),
    );
  }

  handleConnection(connection: Connection): void {
    this.#connections.add(connection);
    connection.onClose(() => this.#connections.delete(connection));
    new DdpConnection(connection, this.core, this.#settings, this.logger);
  }

  /** Closes every DDP connection (shutdown). */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    for (const connection of this.#connections) connection.close(code, reason);
  }
}
