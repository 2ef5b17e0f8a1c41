/**
 * WAMP RawSocket (wamp-proto rfc/text/advanced/transport_rawsocket.md; reference/wamp.md §1) on its own TCP port
 * or Unix socket, as Crossbar's `rawsocket` transport: what backend components (Autobahn|Python, Autobahn|JS on
 * Node, Java, C++) use without the WebSocket layer.
 *
 * Handshake: the client sends `7F`, `LLLL SSSS`, `00 00` (it accepts messages up to 2^(9+L) bytes, serializer S);
 * the router answers `7F`, its own length exponent and the echoed serializer, `00 00`, or an error `7F E0 00 00`
 * and closes: E = 1 serializer unsupported, 3 reserved octets used, 4 connection limit reached. A first octet other
 * than `7F` drops the connection (this port speaks nothing else); so does a handshake not complete in time.
 *
 * Frames: a 4-octet prefix `RRRR XTTT` + 24-bit length (X: the 25th length bit), then the payload. Type 0 is a
 * WAMP message, 1 a PING (answered by one PONG echoing its payload), 2 a PONG. Reserved bits, an unknown type or a
 * frame longer than the router advertised fail the connection (the spec's MUST); a message longer than the client
 * accepts is never sent: the connection is failed instead.
 *
 * Connections are the same neutral {@link Connection}s as WebSocket ones (`protocol` is the serializer's
 * WebSocket subprotocol name, so the adapter picks its serializer the same way) and pass the host's
 * {@link ConnectionGuard}: connections per address and the outbound buffer cap. There is no close handshake:
 * `close` ends the stream after what is queued, except at shutdown (see {@link RawSocketConnection.close}).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ConnectionHandler } from '../core/connection.js';
import { type Logger, silentLogger } from '../core/logger.js';
import {
  CappedConnection,
  ConnectionGuard,
  type TerminableConnection,
  unsentBytes,
} from './connection-guard.js';

/** A serializer the router accepts on RawSocket. */
export interface RawSocketSerializer {
  /** Its RawSocket id: 1 JSON, 2 MessagePack, 3 CBOR. */
  readonly id: number;
  /** The WebSocket subprotocol name connections report as `protocol`, e.g. `wamp.2.json`. */
  readonly protocol: string;
  /** Whether its messages are text (JSON): then they reach the adapter as strings. */
  readonly text: boolean;
}

/** Options of {@link RawSocketEndpoint}. */
export interface RawSocketEndpointOptions {
  /** TCP port (0: any free one); ignored when `path` is given. */
  readonly port?: number;
  /** Bind address (default `0.0.0.0`). */
  readonly host?: string;
  /** A Unix socket path instead of TCP. */
  readonly path?: string;
  /** TLS: PEM certificate chain and key (every connection is a TLS connection; RawSocket over TLS). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  /** Accepted serializers. */
  readonly serializers: readonly RawSocketSerializer[];
  /**
   * Largest incoming message in bytes. The router advertises the smallest power of two at least this large
   * (2^9 to 2^24); a longer frame fails the connection.
   */
  readonly maxMessageBytes: number;
  /** A client that has not sent its handshake this many ms after connecting is dropped (default 10000). */
  readonly handshakeTimeoutMs?: number;
  /** Connections per address and the outbound buffer cap (the HTTP host's guard). */
  readonly guard?: ConnectionGuard;
  readonly logger?: Logger;
}

/** Message types of the frame prefix. */
const MESSAGE = 0;
const PING = 1;
const PONG = 2;

/** After `close` ended the stream, a peer still holding its side open is let go of this many ms later. */
const CLOSE_GRACE_MS = 2000;

/** The WebSocket close code for a server going away (shutdown), which `close` turns into a reset. */
const GOING_AWAY = 1001;

/** Handshake error codes (the reply's high nibble). */
const SERIALIZER_UNSUPPORTED = 1;
const RESERVED_BITS_USED = 3;
const CONNECTION_LIMIT_REACHED = 4;

/** The length exponent L (2^(9+L) bytes) advertised for a limit of `bytes`. */
export function lengthExponent(bytes: number): number {
  let exponent = 0;
  while (exponent < 15 && 2 ** (9 + exponent) < bytes) exponent++;
  return exponent;
}

/** Accepts RawSocket connections on its own listening socket and hands them to a protocol adapter. */
export class RawSocketEndpoint {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #serializers: ReadonlyMap<number, RawSocketSerializer>;
  readonly #exponent: number;
  readonly #maxFrameBytes: number;
  readonly #guard: ConnectionGuard;
  readonly #logger: Logger;

  constructor(
    private readonly handler: ConnectionHandler,
    private readonly options: RawSocketEndpointOptions,
  ) {
    this.#serializers = new Map(options.serializers.map((s) => [s.id, s]));
    this.#exponent = lengthExponent(options.maxMessageBytes);
    this.#maxFrameBytes = 2 ** (9 + this.#exponent);
    this.#guard = options.guard ?? new ConnectionGuard();
    this.#logger = options.logger ?? silentLogger;
    const tls = options.tls;
    this.#server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => this.#accept(socket))
      : createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the bound port (TCP) or path (Unix socket). */
  listen(): Promise<number | string> {
    const { path, port = 0, host = '0.0.0.0' } = this.options;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      const listening = (): void => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        resolve(typeof address === 'string' || address === null ? (path ?? '') : address.port);
      };
      if (path !== undefined) this.#server.listen(path, listening);
      else this.#server.listen(port, host, listening);
    });
  }

  /**
   * Stops accepting; resolves once every connection closed, or after `timeoutMs`, when the rest are dropped
   * (the adapter has asked them to close before: `closeAll`).
   */
  async close(timeoutMs: number): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const timer = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, timeoutMs);
    await stopped;
    clearTimeout(timer);
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(), this.options.handshakeTimeoutMs ?? 10_000);
    let head: Buffer = Buffer.alloc(0);
    const onHandshake = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      if (head[0] !== 0x7f) {
        clearTimeout(timer);
        socket.destroy();
        return;
      }
      if (head.length < 4) return;
      clearTimeout(timer);
      socket.off('data', onHandshake);
      this.#handshake(socket, head);
    };
    socket.on('data', onHandshake);
    socket.once('close', () => clearTimeout(timer));
  }

  #handshake(socket: Socket, head: Buffer): void {
    const serializer = this.#serializers.get((head[1] as number) & 0x0f);
    const address = socket.remoteAddress ?? '';
    const error =
      head[2] !== 0 || head[3] !== 0
        ? RESERVED_BITS_USED
        : serializer === undefined
          ? SERIALIZER_UNSUPPORTED
          : this.#guard.atLimit(address)
            ? CONNECTION_LIMIT_REACHED
            : 0;
    if (error !== 0 || serializer === undefined) {
      socket.end(Buffer.from([0x7f, error << 4, 0, 0]));
      // A client that never closes its side must not hold the socket.
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    socket.write(Buffer.from([0x7f, (this.#exponent << 4) | serializer.id, 0, 0]));
    const clientMaxBytes = 2 ** (9 + ((head[1] as number) >> 4));
    const raw = new RawSocketConnection(socket, address, serializer, this.#maxFrameBytes, clientMaxBytes);
    const connection = this.#guard.admit(raw);
    if (!connection) return;
    raw.onFailure = (reason) => this.#logger.debug({ address, reason }, 'rawsocket connection failed');
    this.handler.handleConnection(connection);
    // Bytes that came with the handshake are the first frames; they wait for the adapter to attach.
    if (head.length > 4) raw.feed(head.subarray(4));
    socket.on('data', (chunk: Buffer) => raw.feed(chunk));
  }
}

/** A {@link Connection} over one RawSocket. */
class RawSocketConnection extends CappedConnection implements TerminableConnection {
  readonly headers: Readonly<Record<string, string | string[] | undefined>> = {};
  readonly transportKind = 'rawsocket' as const;
  /** Why the connection was failed (a protocol error on either side), for the log. */
  onFailure: ((reason: string) => void) | undefined;
  /** Received bytes not yet a whole frame. */
  #pending: Buffer | undefined;
  #corks = 0;
  #closing = false;

  constructor(
    private readonly socket: Socket,
    readonly remoteAddress: string,
    private readonly serializer: RawSocketSerializer,
    private readonly maxFrameBytes: number,
    private readonly clientMaxBytes: number,
  ) {
    super();
    socket.once('close', (hadError: boolean) => {
      this.closed(hadError ? 1006 : 1000, '');
    });
  }

  get protocol(): string {
    return this.serializer.protocol;
  }

  /** Bytes the kernel has not accepted yet (corked ones included). */
  override get bufferedAmount(): number {
    return unsentBytes(this.socket);
  }

  /** Parses frames out of `chunk` (with what is left of earlier chunks) and delivers them. */
  feed(chunk: Buffer): void {
    let data = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    while (data.length >= 4) {
      const prefix = data[0] as number;
      const type = prefix & 0x07;
      const length = ((prefix & 0x08) << 21) | data.readUIntBE(1, 3);
      if (prefix & 0xf0 || type > PONG || length > this.maxFrameBytes) {
        this.#fail(
          length > this.maxFrameBytes ? `a ${length}-byte frame` : 'reserved bits or an unknown type',
        );
        return;
      }
      if (data.length < 4 + length) break;
      const payload = data.subarray(4, 4 + length);
      data = data.subarray(4 + length);
      if (type === PING) this.#write(PONG, payload);
      else if (type === MESSAGE) {
        const listener = this.listener;
        if (!listener) return;
        // A copy: `payload` is a view of a socket chunk the adapter might keep.
        listener.receive(this.serializer.text ? payload.toString('utf8') : new Uint8Array(payload));
      }
    }
    if (data.length > 0) this.#pending = Buffer.from(data);
  }

  send(data: string | Uint8Array): void {
    if (this.overflowed || this.#closing || this.socket.destroyed) return;
    this.#write(MESSAGE, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    this.checkOutbound();
  }

  cork(): void {
    if (this.#corks++ === 0) this.socket.cork();
  }

  uncork(): void {
    if (this.#corks > 0 && --this.#corks === 0) this.socket.uncork();
    this.checkOutbound();
  }

  /**
   * `1001` (going away: the server shuts down) resets the connection at once. Autobahn|JS keeps its RawSocket
   * half-open (`allowHalfOpen`) and ignores the end of the stream, and a reset arriving after the end goes
   * unread, so only a reset without an end makes it notice and reconnect. Any other code ends the stream after
   * what is queued (an ABORT, say: such peers close their side themselves) and frees the socket a little later.
   */
  close(code?: number): void {
    if (this.#closing) return;
    this.#closing = true;
    if (code === GOING_AWAY) {
      this.terminate();
      return;
    }
    while (this.#corks > 0) this.uncork();
    this.socket.end();
    const release = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    release.unref();
    this.socket.once('close', () => clearTimeout(release));
  }

  /** Drops the connection at once with a TCP reset, so the peer sees it even if it is not reading. */
  override terminate(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  #write(type: number, payload: Uint8Array): void {
    const length = payload.byteLength;
    if (length > this.clientMaxBytes) {
      this.#fail(`a ${length}-byte message is over the client's maximum of ${this.clientMaxBytes}`);
      return;
    }
    const header = Buffer.from([
      type | ((length >> 21) & 0x08),
      (length >> 16) & 0xff,
      (length >> 8) & 0xff,
      length & 0xff,
    ]);
    this.socket.write(Buffer.concat([header, payload], 4 + length));
  }

  #fail(reason: string): void {
    this.onFailure?.(reason);
    this.socket.destroy();
  }
}
