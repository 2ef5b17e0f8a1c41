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
 *
 * Outbound: ws parses and handshakes; on a socket without permessage-deflate we write the (unmasked, unfragmented)
 * server frames ourselves: one socket write per message, or per cork window for all its messages; a text (or a
 * window of texts) sent to many connections in a row is framed once. A deflating socket goes through ws's sender,
 * which may queue.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, type Server, WebSocket, WebSocketServer } from 'ws';
import type { ConnectionHandler } from '../core/connection.js';
import {
  CappedConnection,
  ConnectionGuard,
  type TerminableConnection,
  unsentBytes,
} from './connection-guard.js';
import { connectionHeaders } from './connection-headers.js';
import type { CompressionOptions, UpgradeEndpoint } from './http-host.js';
import { OwnedWebSocket, type WebSocketOwner } from './owned-websocket.js';
import { frameOf, framesOf, pongFrame } from './websocket-frames.js';

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
  readonly #wss: Server<typeof OwnedWebSocket>;
  /** Origin, per-address and outbound-buffer limits: the host's (see {@link useGuard}), else the defaults. */
  #guard = new ConnectionGuard();

  constructor(
    private readonly handler: ConnectionHandler,
    private readonly options: WebSocketEndpointOptions,
  ) {
    const protocols = options.protocols;
    this.#wss = new WebSocketServer<typeof OwnedWebSocket>({
      noServer: true,
      // Sockets that report to their connection rather than to listeners (owned-websocket.ts).
      WebSocket: OwnedWebSocket,
      maxPayload: options.maxPayload ?? 16 * 1024 * 1024,
      perMessageDeflate: options.compression
        ? {
            threshold: options.compression.threshold ?? 1024,
            zlibDeflateOptions: { level: options.compression.level ?? 3 },
          }
        : false,
      clientTracking: false,
      // Pings are answered by WsConnection: ws's own answer costs a closure per socket.
      autoPong: false,
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
      if (ws.extensions !== '') deflating.add(ws);
      const connection = this.#guard.admit(new WsConnection(ws, request, socket, forwardedCount));
      if (connection) this.handler.handleConnection(connection);
    });
  }
}

/**
 * A {@link Connection} over one `ws` socket, which reports to it (its owner). Its helpers are TypeScript-`private`,
 * not `#` methods: V8 stores a class brand in every instance of a class with `#` methods or accessors (8 bytes per
 * connection; issue 16).
 */
class WsConnection extends CappedConnection implements TerminableConnection, WebSocketOwner {
  readonly remoteAddress: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;

  constructor(
    private readonly ws: OwnedWebSocket,
    request: IncomingMessage,
    /** The upgraded TCP/TLS socket under `ws`: corked to write several frames in one syscall. */
    private readonly socket: Duplex,
    forwardedCount: number,
  ) {
    super();
    this.headers = connectionHeaders(request.headers);
    this.remoteAddress = clientAddress(request, forwardedCount);
    // No listeners: idle connections must stay small. An error terminates the socket (owned-websocket.ts).
    ws.owner = this;
  }

  /** Called by the socket with each message. */
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

  /**
   * A client's ping: answered with a pong carrying its payload while open (RFC 6455 §5.5.2), as ws's `autoPong`
   * would. Written at once, ahead of messages held for the window (a control frame may go between any two
   * messages); a client that pings without reading fills its queue like any other and meets the cap.
   */
  pinged(data: Buffer): void {
    if (this.overflowed || this.ws.readyState !== WebSocket.OPEN) return;
    if (deflating.has(this.ws)) this.ws.pong(data);
    else this.socket.write(pongFrame(data));
    this.checkOutbound();
  }

  /**
   * Messages sent since {@link cork}, when the socket has no permessage-deflate: the outermost {@link uncork}
   * frames them all into one buffer and writes it once. Through `ws` each message would cost a sender call, a
   * header buffer and two buffered socket writes, per connection: in a fan-out, most of a delivery's cost.
   * Made per window, so an idle connection holds nothing. Without it (deflate), corks go to the socket.
   */
  #held: HeldMessages | undefined;

  /**
   * Bytes the kernel has not accepted yet (see {@link unsentBytes}), what ws's sender queued (deflate), and while
   * corked the messages held (counted as `ws` counts a string).
   */
  override get bufferedAmount(): number {
    const socket = this.socket;
    const senderQueued = Math.max(0, this.ws.bufferedAmount - socket.writableLength);
    return unsentBytes(socket) + senderQueued + (this.#held?.size ?? 0);
  }

  send(data: string | Uint8Array): void {
    const held = this.#held;
    if (held !== undefined) {
      // Only made while open and not overflowed; a close writes them first, a termination drops them.
      held.messages.push(data);
      held.size += typeof data === 'string' ? data.length : data.byteLength;
      this.checkOutbound();
      return;
    }
    if (this.overflowed || this.ws.readyState !== WebSocket.OPEN) return;
    // One socket write of a frame made once per text (see frameOf), rather than ws's two per message.
    if (deflating.has(this.ws)) this.ws.send(data);
    else this.socket.write(frameOf(data));
    this.checkOutbound();
  }

  /** Holds messages (each still its own WebSocket message) until the matching {@link uncork}; calls nest. */
  /** Stops reading frames (ws pauses its socket: the client's writes back up in TCP). */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  cork(): void {
    const held = this.#held;
    if (held !== undefined) {
      held.corks++;
      return;
    }
    // Frames of our own can only follow ws's when ws frames plainly (a deflating sender queues and reorders).
    if (!this.overflowed && this.ws.readyState === WebSocket.OPEN && !deflating.has(this.ws)) {
      this.#held = new HeldMessages();
    } else {
      this.socket.cork();
    }
  }

  /** Ends one cork; the outermost writes the held messages as one buffer of frames. */
  uncork(): void {
    const held = this.#held;
    if (held === undefined) {
      // Corked the socket instead (or a close or termination took the held messages meanwhile: then a no-op).
      this.socket.uncork();
    } else if (--held.corks === 0) {
      this.writeHeld();
    }
    this.checkOutbound();
  }

  private writeHeld(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined || held.messages.length === 0 || this.ws.readyState !== WebSocket.OPEN) return;
    const messages = held.messages;
    this.socket.write(
      messages.length === 1 ? frameOf(messages[0] as string | Uint8Array) : framesOf(messages),
    );
  }

  /** Destroys the socket now (no close frame): for peers that stopped reading. */
  override terminate(): void {
    this.#held = undefined;
    this.ws.terminate();
  }

  close(code = 1000, reason = ''): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      // Held messages were sent before the close: they go first (the close frame follows them).
      this.writeHeld();
      this.ws.close(code, reason);
      // A peer that never answers the close handshake must not hold the socket open.
      setTimeout(() => this.ws.terminate(), 5000).unref();
    }
  }
}

/** The messages a {@link WsConnection} holds during one cork window. */
class HeldMessages {
  readonly messages: (string | Uint8Array)[] = [];
  /** Their size: UTF-16 units of a string (what `ws` counts for a string it queues), bytes of binary. */
  size = 0;
  /** Open `cork()` calls. */
  corks = 1;
}

/** Sockets that negotiated permessage-deflate (rare: compression is off unless configured). */
const deflating = new WeakSet<WebSocket>();

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
