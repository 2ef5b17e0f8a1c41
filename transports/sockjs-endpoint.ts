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
 *
 * Hardening in front of sockjs: request bodies are limited to `maxBodyBytes` and unknown sessions refused before a
 * body is read (sockjs-request-guard.ts); the page of the iframe transports (`<prefix>/iframe.html`) loads
 * sockjs-client from this server (`<prefix>/sockjs-client-1.6.1.min.js`, the npm package's own build, the version
 * Meteor's browser client vendors), never from a public CDN (sockjs's default).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import sockjs from 'sockjs';
import type { ConnectionHandler } from '../core/connection.js';
import type { Logger } from '../core/logger.js';
import {
  CappedConnection,
  ConnectionGuard,
  type TerminableConnection,
  unsentBytes,
} from './connection-guard.js';
import { connectionHeaders } from './connection-headers.js';
import type { HttpHost, UpgradeEndpoint } from './http-host.js';
import { SockJsRequestGuard } from './sockjs-request-guard.js';

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
  /**
   * Largest HTTP request body (one `xhr_send`/`jsonp_send` batch), in bytes: above it `413` at once, without
   * reading the rest. Default 1 MiB.
   */
  readonly maxBodyBytes?: number;
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
    readonly send_buffer?: string[];
    readonly to_tref?: NodeJS.Timeout | null;
    /** 1 (OPEN) while messages may be sent. */
    readonly readyState?: number;
    /** The receiver currently attached, if any; `thingy` is its TCP socket. */
    readonly recv?: { readonly thingy?: (Duplex & { readonly writableLength: number }) | null } | null;
    /** Sends the whole buffer to the receiver as one frame. */
    tryFlush?(): void;
  };
}

/** Serves SockJS under a prefix and hands each session to `handler`. */
export class SockJsEndpoint implements UpgradeEndpoint {
  readonly #handler: SockJsHandler;
  readonly #transportPath: RegExp;
  readonly #websocket: boolean;
  readonly #connections = new Set<SockJsConnection>();
  readonly #forwardedCount: number;
  readonly #prefix: string;
  readonly #requestGuard: SockJsRequestGuard;
  /** Where the iframe page loads sockjs-client from (served by {@link #serveClient}). */
  readonly #clientPath: string;
  /** Origin, per-address and outbound-buffer limits: the host's once attached, else the defaults. */
  #guard = new ConnectionGuard();

  constructor(
    private readonly connectionHandler: ConnectionHandler,
    options: SockJsEndpointOptions,
  ) {
    const prefix = options.prefix.replace(/\/+$/, '');
    this.#websocket = options.websocket ?? true;
    const logger = options.logger;
    const cors = options.cors ?? true;
    this.#clientPath = `${prefix}/${CLIENT_FILE}`;
    const server = sockjs.createServer({
      prefix: escapeRegExp(prefix),
      sockjs_url: this.#clientPath,
      websocket: this.#websocket,
      heartbeat_delay: options.heartbeatDelay ?? 45_000,
      disconnect_delay: options.disconnectDelay ?? 60_000,
      jsessionid: options.jsessionid ?? false,
      log: (severity: string, line: string) => {
        if (severity === 'error') logger?.warn({ sockjs: line }, 'sockjs error');
        else logger?.debug({ sockjs: line }, 'sockjs');
      },
      ...{
        disable_cors: !cors,
        faye_server_options: {
          maxLength: options.maxFrameBytes ?? 16 * 1024 * 1024,
          ...(options.extensions ? { extensions: [...options.extensions] } : {}),
        },
      },
    }) as unknown as SockJsServer;
    this.#forwardedCount = options.forwardedCount ?? 0;
    this.#prefix = prefix;
    this.#requestGuard = new SockJsRequestGuard({
      prefix,
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      cors,
    });
    server.on('connection', (raw) => {
      const connection = this.#guard.admit(new SockJsConnection(raw, this.#forwardedCount));
      if (!connection) return;
      this.#connections.add(connection);
      connection.onClose(() => this.#connections.delete(connection));
      this.connectionHandler.handleConnection(connection);
    });
    this.#handler = server.listener().getHandler();
    this.#transportPath = new RegExp(`^${escapeRegExp(prefix)}/[^/.]+/[^/.]+/websocket/?$`);
  }

  /** Registers the endpoint's request handler and upgrade route on `host`. */
  attach(host: HttpHost): void {
    this.#guard = host.guard;
    host.addRequestHandler((request, response, pathname) => this.#request(request, response, pathname));
    host.addEndpoint(this);
  }

  /**
   * Plain requests under the prefix: refused with 403 when their `Origin` is not allowed; the iframe page's
   * sockjs-client served here; everything else screened by the request guard, then answered by sockjs.
   */
  #request(request: IncomingMessage, response: ServerResponse, pathname: string): boolean {
    const ours = pathname === this.#prefix || pathname.startsWith(`${this.#prefix}/`);
    if (!ours) return false;
    if (!this.#guard.originAllowed(request)) {
      response.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      response.end('Origin not allowed\n');
      return true;
    }
    if (pathname === this.#clientPath && (request.method === 'GET' || request.method === 'HEAD')) {
      serveClient(request, response);
      return true;
    }
    this.#requestGuard.handle(request, response, pathname, (screened) => this.#handler(screened, response));
    return true;
  }

  useGuard(guard: ConnectionGuard): void {
    this.#guard = guard;
  }

  /** Only the websocket transport path, and only when the transport is enabled. */
  matches(pathname: string): boolean {
    return this.#websocket && this.#transportPath.test(pathname);
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const header = request.headers['x-forwarded-for'];
    const address = forwardedAddress(
      request.socket.remoteAddress ?? '',
      Array.isArray(header) ? header.join(',') : header,
      this.#forwardedCount,
    );
    if (!this.#guard.admitUpgrade(request, socket, address)) return;
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
export class SockJsConnection extends CappedConnection implements TerminableConnection {
  readonly remoteAddress: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `''`: SockJS negotiates no subprotocol. */
  readonly protocol = '';
  /** The SockJS transport carrying the session (`websocket`, `xhr-polling`, …). */
  readonly transport: string;
  #closed = false;
  /** Open `cork()` calls; while > 0, sends wait in `#held`. */
  #corks = 0;
  #held: string[] | undefined;

  constructor(
    private readonly raw: sockjs.Connection,
    forwardedCount: number,
  ) {
    super();
    this.headers = connectionHeaders(raw.headers);
    this.transport = raw.protocol;
    this.remoteAddress = forwardedAddress(
      raw.remoteAddress ?? '',
      raw.headers['x-forwarded-for'],
      forwardedCount,
    );
    raw.on('data', (message: string) => this.listener?.receive(message));
    raw.once('close', () => {
      this.#closed = true;
      // sockjs reports no close code; 1000 says only that the session is gone.
      this.closed(1000, '');
    });
  }

  /**
   * Text waiting for a receiving request (HTTP transports) or not yet framed, plus bytes queued on the
   * receiver's socket but not yet written (a websocket-transport peer that stopped reading).
   */
  override get bufferedAmount(): number {
    const session = (this.raw as unknown as SockJsSessionInternals)._session;
    const socket = session?.recv?.thingy;
    let bytes = socket ? unsentBytes(socket) : 0;
    for (const message of session?.send_buffer ?? []) bytes += message.length;
    return bytes;
  }

  /**
   * Drops the session now: discards what is queued, closes the session and destroys the receiver's socket (a
   * websocket transport's TCP connection); an HTTP-transport session without a receiver ends at sockjs's
   * disconnect delay, holding nothing.
   */
  override terminate(): void {
    if (this.#closed) return;
    const session = (this.raw as unknown as SockJsSessionInternals)._session;
    const socket = session?.recv?.thingy;
    if (session?.send_buffer) session.send_buffer.length = 0;
    this.#held = undefined;
    this.#corks = 0;
    this.close(1013, 'outbound buffer full');
    socket?.destroy();
  }

  send(data: string | Uint8Array): void {
    if (this.#closed || this.overflowed) return;
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    if (this.#corks === 0) {
      this.raw.write(text);
      this.checkOutbound();
      return;
    }
    if (this.#held) this.#held.push(text);
    else this.#held = [text];
  }

  /** Holds sends until the matching {@link uncork}; they then go out as one `a[…]` frame (several messages). */
  cork(): void {
    this.#corks++;
  }

  /**
   * Ends one cork; at the outermost, queues the held messages in sockjs's send buffer and flushes once, so a
   * receiving transport gets them in one frame (sockjs frames its whole buffer as one `a[…]`).
   */
  uncork(): void {
    if (this.#corks === 0 || --this.#corks > 0) return;
    const held = this.#held;
    this.#held = undefined;
    if (!held || this.#closed) return;
    const session = (this.raw as unknown as SockJsSessionInternals)._session;
    if (held.length === 1 || !session?.send_buffer || !session.tryFlush || session.readyState !== 1) {
      for (const text of held) this.raw.write(text);
    } else {
      session.send_buffer.push(...held);
      if (session.recv) session.tryFlush();
    }
    this.checkOutbound();
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    if (this.#corks > 0) {
      this.#corks = 1;
      this.uncork();
    }
    // sockjs flushes queued messages before the close frame; its types say string, the code is a number.
    const close = this.raw.close as unknown as (code: number, reason: string) => boolean;
    close.call(this.raw, code, reason || 'Normal closure');
    (this.raw as unknown as SockJsSessionInternals)._session?.to_tref?.unref();
  }
}

/** The file name the iframe page loads sockjs-client from, under the prefix (the version the page must match). */
const CLIENT_FILE = 'sockjs-client-1.6.1.min.js';

/** sockjs-client's minified build, read on first request. */
let clientScript: Buffer | undefined;

/** Serves sockjs-client's build (immutable: its name carries its version). */
function serveClient(request: IncomingMessage, response: ServerResponse): void {
  clientScript ??= readFileSync(createRequire(import.meta.url).resolve('sockjs-client/dist/sockjs.min.js'));
  response.writeHead(200, {
    'content-type': 'application/javascript; charset=UTF-8',
    'content-length': clientScript.length,
    'cache-control': 'public, max-age=31536000, immutable',
  });
  response.end(request.method === 'HEAD' ? undefined : clientScript);
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
