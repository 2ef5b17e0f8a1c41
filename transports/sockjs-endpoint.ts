/**
 * SockJS on the shared HTTP host, as Meteor serves it: npm `sockjs` 0.3.24 (the version Meteor pins) mounted at a
 * prefix (`<ROOT_URL_PATH_PREFIX>/sockjs`), with Meteor's heartbeat (45 s) and disconnect delay (60 s). Each SockJS
 * session becomes a neutral {@link Connection} for a protocol adapter, whatever transport carries it.
 *
 * What it serves under the prefix: `GET/OPTIONS /info` (CORS: the request's Origin is echoed with credentials, `*`
 * without one), the websocket transport `/<server>/<session>/websocket` (frames `o`, `a[…]`, `c[code,"reason"]`;
 * client frames are JSON arrays of strings), and the HTTP transports sockjs implements (`xhr`/`xhr_send` polling,
 * which Meteor's browser client falls back to when upgrades are blocked, plus streaming, jsonp and eventsource).
 * Heartbeats: an `h` frame every `heartbeatDelay` on HTTP transports; on the websocket transport sockjs 0.3.24
 * sends a WebSocket ping instead (and closes the session when no pong comes within 10 s), exactly as under Meteor.
 *
 * How it coexists with the host: sockjs never sees the server's listeners (no `installHandlers`). Plain requests
 * reach it through a host request handler (sockjs's own listener answers only URLs under its prefix), and
 * upgrades only for the websocket transport path; sockjs's raw websocket at `<prefix>/websocket` is not routed
 * (pgrt's raw `/websocket` endpoint owns raw DDP), so its upgrade gets the host's 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import sockjs from 'sockjs';
import type { Connection, ConnectionHandler } from '../core/connection.js';
import type { Logger } from '../core/logger.js';
import type { HttpHost, UpgradeEndpoint } from './http-host.js';

/** Options of {@link SockJsEndpoint}; defaults are Meteor's (`ddp-server/stream_server.js`). */
export interface SockJsEndpointOptions {
  /** Mount point, e.g. `/sockjs` or `/app/sockjs` (Meteor: `ROOT_URL_PATH_PREFIX + '/sockjs'`). */
  readonly prefix: string;
  /**
   * Offer the websocket transport (default true). False is Meteor's `DISABLE_WEBSOCKETS`: `/info` says
   * `websocket: false` and the transport's upgrades are refused, so clients use xhr-polling.
   */
  readonly websocket?: boolean;
  /** Heartbeat period in ms (default 45000). */
  readonly heartbeatDelay?: number;
  /** How long a session without a receiving HTTP request stays alive, ms (default 60000). */
  readonly disconnectDelay?: number;
  /** Answer CORS (default true; false is Meteor's `DISABLE_SOCKJS_CORS`). */
  readonly cors?: boolean;
  /** Set a `JSESSIONID` cookie for sticky load balancers (Meteor's `USE_JSESSIONID`; default false). */
  readonly jsessionid?: boolean;
  /** Hard cap on one incoming WebSocket frame in bytes (the socket closes above it). Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Trust the N-th right-most `X-Forwarded-For` entry as the client address (default 0: the socket peer). */
  readonly forwardedCount?: number;
  /**
   * websocket-extensions for the websocket transport (e.g. npm `permessage-deflate`); default none. Passed to
   * faye-websocket as sockjs's `faye_server_options.extensions`.
   */
  readonly extensions?: readonly unknown[];
  /** Where sockjs's own log lines go (errors as warnings, the rest at debug). */
  readonly logger?: Logger;
}

/** The slice of sockjs 0.3.24's server that pgrt uses (`listener` is public in sockjs, missing from its types). */
interface SockJsServer {
  on(event: 'connection', listener: (connection: sockjs.Connection) => void): void;
  listener(options?: object): { getHandler(): SockJsHandler };
}

/** sockjs's request/upgrade handler: false when the URL is not under its prefix. */
type SockJsHandler = (
  request: IncomingMessage,
  responseOrSocket: ServerResponse | Duplex,
  head?: Buffer,
) => boolean;

/** sockjs 0.3.24 session internals read for backpressure and released at shutdown (pinned version). */
interface SockJsSessionInternals {
  readonly _session?: {
    readonly send_buffer?: readonly string[];
    readonly to_tref?: NodeJS.Timeout | null;
  };
}

/** Serves SockJS under a prefix and hands each session to `handler`. */
export class SockJsEndpoint implements UpgradeEndpoint {
  readonly #handler: SockJsHandler;
  readonly #transportPath: RegExp;
  readonly #websocket: boolean;
  readonly #connections = new Set<SockJsConnection>();

  constructor(
    private readonly connectionHandler: ConnectionHandler,
    options: SockJsEndpointOptions,
  ) {
    const prefix = options.prefix.replace(/\/+$/, '');
    this.#websocket = options.websocket ?? true;
    const logger = options.logger;
    const server = sockjs.createServer({
      prefix: escapeRegExp(prefix),
      websocket: this.#websocket,
      heartbeat_delay: options.heartbeatDelay ?? 45_000,
      disconnect_delay: options.disconnectDelay ?? 60_000,
      jsessionid: options.jsessionid ?? false,
      log: (severity: string, line: string) => {
        if (severity === 'error') logger?.warn({ sockjs: line }, 'sockjs error');
        else logger?.debug({ sockjs: line }, 'sockjs');
      },
      ...{
        disable_cors: !(options.cors ?? true),
        faye_server_options: {
          maxLength: options.maxFrameBytes ?? 16 * 1024 * 1024,
          ...(options.extensions ? { extensions: [...options.extensions] } : {}),
        },
      },
    }) as unknown as SockJsServer;
    server.on('connection', (raw) => {
      const connection = new SockJsConnection(raw, options.forwardedCount ?? 0);
      this.#connections.add(connection);
      connection.onClose(() => this.#connections.delete(connection));
      this.connectionHandler.handleConnection(connection);
    });
    this.#handler = server.listener().getHandler();
    this.#transportPath = new RegExp(`^${escapeRegExp(prefix)}/[^/.]+/[^/.]+/websocket/?$`);
  }

  /** Registers the endpoint's request handler and upgrade route on `host`. */
  attach(host: HttpHost): void {
    host.addRequestHandler((request, response) => this.#handler(request, response));
    host.addEndpoint(this);
  }

  /** Only the websocket transport path, and only when the transport is enabled. */
  matches(pathname: string): boolean {
    return this.#websocket && this.#transportPath.test(pathname);
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.#handler(request, socket, head)) socket.destroy();
  }

  /**
   * Shutdown: closes every session (`c[code,"reason"]`) and lets sockjs's disconnect timers (up to
   * `disconnectDelay` for HTTP transports) run without holding the process open.
   */
  closeAll(code = 1001, reason = 'server shutting down'): void {
    for (const connection of this.#connections) connection.close(code, reason);
  }
}

/** A {@link Connection} over one SockJS session. SockJS carries text only; binary is sent as UTF-8 text. */
export class SockJsConnection implements Connection {
  readonly remoteAddress: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `''`: SockJS negotiates no subprotocol. */
  readonly protocol = '';
  /** The SockJS transport carrying the session (`websocket`, `xhr-polling`, …). */
  readonly transport: string;
  #closed = false;

  constructor(
    private readonly raw: sockjs.Connection,
    forwardedCount: number,
  ) {
    this.headers = { ...raw.headers };
    this.transport = raw.protocol;
    this.remoteAddress = forwardedAddress(
      raw.remoteAddress ?? '',
      raw.headers['x-forwarded-for'],
      forwardedCount,
    );
    raw.once('close', () => {
      this.#closed = true;
    });
  }

  /** Text waiting for a receiving request (HTTP transports) or not yet framed. */
  get bufferedAmount(): number {
    const buffer = (this.raw as unknown as SockJsSessionInternals)._session?.send_buffer ?? [];
    let bytes = 0;
    for (const message of buffer) bytes += message.length;
    return bytes;
  }

  send(data: string | Uint8Array): void {
    if (this.#closed) return;
    this.raw.write(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'));
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    // sockjs flushes queued messages before the close frame; its types say string, the code is a number.
    const close = this.raw.close as unknown as (code: number, reason: string) => boolean;
    close.call(this.raw, code, reason || 'Normal closure');
    (this.raw as unknown as SockJsSessionInternals)._session?.to_tref?.unref();
  }

  onMessage(handler: (data: string | Uint8Array) => void): void {
    this.raw.on('data', (message: string) => handler(message));
  }

  onClose(handler: (code: number, reason: string) => void): void {
    // sockjs reports no close code; 1000 says only that the session is gone.
    this.raw.once('close', () => handler(1000, ''));
  }
}

/** The socket peer, or the N-th right-most `X-Forwarded-For` entry when configured. */
function forwardedAddress(peer: string, header: string | undefined, forwardedCount: number): string {
  if (forwardedCount <= 0 || !header) return peer;
  const entries = header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return entries[entries.length - forwardedCount] ?? peer;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
