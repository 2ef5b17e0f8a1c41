/**
 * A WebSocket endpoint on the shared HTTP host (ws `noServer` + `handleUpgrade`): accepts upgrades for its
 * paths, negotiates a subprotocol if asked, and hands each socket to a protocol adapter as a neutral
 * {@link Connection}.
 *
 * Limits: `maxPayload` is the hard cap on one incoming message (ws closes the socket with 1009 above it); the
 * host's {@link ConnectionGuard} checks Origin and connections per address before the upgrade and caps each
 * connection's outbound buffer.
 * Compression (permessage-deflate) is off unless `compression` is given: it costs memory per connection (see
 * docs/reference.md).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { ConnectionHandler } from '../core/connection.js';
import { CappedConnection, ConnectionGuard, type TerminableConnection } from './connection-guard.js';
import type { CompressionOptions, UpgradeEndpoint } from './http-host.js';

/** Options of {@link WebSocketEndpoint}. */
export interface WebSocketEndpointOptions {
  /** Which request paths this endpoint takes. */
  readonly matches: (pathname: string) => boolean;
  /** Hard cap on one incoming message in bytes (default 16 MiB). */
  readonly maxPayload?: number;
  /** Subprotocols offered, in server preference order; absent: none negotiated. */
  readonly protocols?: readonly string[];
  /** Trust the N-th right-most `X-Forwarded-For` entry as the client address (Meteor's HTTP_FORWARDED_COUNT). */
  readonly forwardedCount?: number;
  /** permessage-deflate with a size threshold; absent: off. */
  readonly compression?: CompressionOptions | undefined;
}

/** Accepts WebSocket upgrades and produces connections. */
export class WebSocketEndpoint implements UpgradeEndpoint {
  readonly #wss: WebSocketServer;
  /** Origin, per-address and outbound-buffer limits: the host's (see {@link useGuard}), else the defaults. */
  #guard = new ConnectionGuard();

  constructor(
    private readonly handler: ConnectionHandler,
    private readonly options: WebSocketEndpointOptions,
  ) {
    const protocols = options.protocols;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload ?? 16 * 1024 * 1024,
      perMessageDeflate: options.compression
        ? {
            threshold: options.compression.threshold ?? 1024,
            zlibDeflateOptions: { level: options.compression.level ?? 3 },
          }
        : false,
      clientTracking: false,
      ...(protocols
        ? {
            handleProtocols: (offered: Set<string>) => protocols.find((p) => offered.has(p)) ?? false,
          }
        : {}),
    });
  }

  matches(pathname: string): boolean {
    return this.options.matches(pathname);
  }

  useGuard(guard: ConnectionGuard): void {
    this.#guard = guard;
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const forwardedCount = this.options.forwardedCount ?? 0;
    if (!this.#guard.admitUpgrade(request, socket, clientAddress(request, forwardedCount))) return;
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = this.#guard.admit(new WsConnection(ws, request, socket, forwardedCount));
      if (connection) this.handler.handleConnection(connection);
    });
  }
}

/** A {@link Connection} over one `ws` socket. */
class WsConnection extends CappedConnection implements TerminableConnection {
  readonly remoteAddress: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;

  constructor(
    private readonly ws: WebSocket,
    request: IncomingMessage,
    /** The upgraded TCP/TLS socket under `ws`: corked to write several frames in one syscall. */
    private readonly socket: Duplex,
    forwardedCount: number,
  ) {
    super();
    this.headers = connectionHeaders(request.headers);
    this.remoteAddress = clientAddress(request, forwardedCount);
    // Shared listener functions (no closures per connection): idle connections must stay small. `on`, not
    // `once`, for `close` (emitted once anyway): `once` wraps the listener per socket.
    ws.on('error', terminateOnError);
    ws.on('close', closeListener);
    ws.on('message', messageListener);
    wsOwners.set(ws, this);
  }

  /** Called by the shared message listener. */
  received(data: RawData, isBinary: boolean): void {
    const listener = this.listener;
    if (!listener) return;
    const buffer = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    listener.receive(isBinary ? buffer : buffer.toString('utf8'));
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  override get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: string | Uint8Array): void {
    if (this.overflowed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data);
    this.checkOutbound();
  }

  /** Holds frames in the socket's buffer (each still its own WebSocket message) until {@link uncork}. */
  cork(): void {
    this.socket.cork();
  }

  /** Writes the held frames with one `writev` once the outermost cork ends (Node counts corks). */
  uncork(): void {
    this.socket.uncork();
    this.checkOutbound();
  }

  /** Destroys the socket now (no close frame): for peers that stopped reading. */
  override terminate(): void {
    this.ws.terminate();
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
      // A peer that never answers the close handshake must not hold the socket open.
      setTimeout(() => this.ws.terminate(), 5000).unref();
    }
  }
}

/** The connection of each socket, for the shared listeners below. */
const wsOwners = new WeakMap<WebSocket, WsConnection>();

function terminateOnError(this: WebSocket): void {
  this.terminate();
}

function closeListener(this: WebSocket, code: number, reason: Buffer): void {
  wsOwners.get(this)?.closed(code, reason.toString('utf8'));
}

function messageListener(this: WebSocket, data: RawData, isBinary: boolean): void {
  wsOwners.get(this)?.received(data, isBinary);
}

/** The client address: the socket peer, or X-Forwarded-For's N-th entry from the right when configured. */
export function clientAddress(request: IncomingMessage, forwardedCount: number): string {
  const peer = request.socket.remoteAddress ?? '';
  if (forwardedCount <= 0) return peer;
  const header = request.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return entries[entries.length - forwardedCount] ?? peer;
}

/**
 * The request headers a connection keeps (`ConnectionInfo.httpHeaders`): SockJS's whitelist, which is what Meteor
 * exposes as `connection.httpHeaders`. Keeping every header would hold a few hundred bytes of strings per idle
 * connection (cookies can be much more) for nothing.
 */
export const CONNECTION_HEADERS = [
  'referer',
  'x-client-ip',
  'x-forwarded-for',
  'x-cluster-client-ip',
  'via',
  'x-real-ip',
  'x-forwarded-proto',
  'x-ssl',
  'dnt',
  'host',
  'user-agent',
  'accept-language',
] as const;

/** Picks {@link CONNECTION_HEADERS} out of a request's headers. */
export function connectionHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | string[] | undefined> {
  const kept: Record<string, string | string[] | undefined> = {};
  for (const name of CONNECTION_HEADERS) if (headers[name] !== undefined) kept[name] = headers[name];
  return kept;
}
