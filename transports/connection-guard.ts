/**
 * Transport-level hardening shared by every endpoint of a host (raw WebSocket, SockJS, WAMP), so every protocol
 * gets it without knowing:
 *
 * - **Origin allow-list** (`allowedOrigins`): an upgrade or SockJS request whose `Origin` header is present and
 *   not allowed gets `403 Forbidden`. Requests without `Origin` (non-browser clients) pass: the list protects
 *   against cross-site WebSocket hijacking by browsers, which always send it.
 * - **Connections per client address** (`maxConnectionsPerAddress`): at the limit, a WebSocket upgrade gets
 *   `503 Service Unavailable` (with `Retry-After`); a connection that arrives another way (SockJS HTTP
 *   transports) is closed with 1013 "too many connections". The address is the one the endpoint computed
 *   (X-Forwarded-For only when `forwardedCount` is configured).
 * - **Outbound buffer cap** (`maxBufferedBytes`): every connection gets the cap ({@link ConnectionGuard.admit}).
 *   What counts is what the client has not taken: bytes still unsent once the kernel accepted what it could
 *   (plus, during a write window, the messages held for it). A connection over the cap gets
 *   {@link DRAIN_GRACE_MS} to drain; if it is still over then and its queue has not shrunk, it is a slow
 *   consumer and is terminated: the socket is destroyed without a close handshake or protocol goodbye, since a
 *   peer that does not read would not see one. The adapter sees an ordinary close. A queue that shrinks but is
 *   still over gets another grace period. So one turn's burst (a subscription's initial documents, written at the
 *   end of the turn by write coalescing) may exceed the cap for a client that reads it; a client that stops
 *   reading holds at most the cap plus what is sent to it during one grace period, and never more than
 *   {@link BURST_CEILING} times the cap: past that it is terminated at once.
 *
 * Options and defaults: docs/reference.md "Limits".
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Connection } from '../core/connection.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { TransportConnection } from './transport-connection.js';

/** Transport limits of a host (server option `limits`). */
export interface TransportLimits {
  /** Concurrent connections allowed per client address; default 0: unlimited. */
  readonly maxConnectionsPerAddress?: number;
  /**
   * Origins allowed to open WebSocket and SockJS connections, e.g. `['https://app.example.com']` (exact match of
   * the `Origin` header), or a predicate; absent: every origin.
   */
  readonly allowedOrigins?: readonly string[] | ((origin: string) => boolean);
  /**
   * A connection with more bytes unsent than this that does not drain within {@link DRAIN_GRACE_MS} is
   * terminated (default 16 MiB).
   */
  readonly maxBufferedBytes?: number;
  /** Incoming messages nested deeper are refused by the protocol adapters (default 64; see core/nesting-depth.ts). */
  readonly maxNestingDepth?: number;
}

/** Default {@link TransportLimits.maxBufferedBytes}: 16 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * How long a connection may stay over `maxBufferedBytes` without its unsent bytes shrinking before it is
 * terminated as a slow consumer. Long enough for a client that reads to take a burst (and for an event loop
 * busy with other work to let it), short enough that a stalled one holds little more than the cap.
 */
export const DRAIN_GRACE_MS = 2000;

/**
 * A connection with more than this many times `maxBufferedBytes` unsent is terminated at once, grace period or
 * not: the bound on what one connection can hold (64 MiB at the default cap), whatever is sent to it during a
 * grace period. A burst of up to this many times the cap reaches a client that reads it.
 */
export const BURST_CEILING = 4;

/**
 * Bytes written to `socket` that the kernel has not accepted yet: its writable buffer, where the chunk being
 * written counts only for what libuv still holds of it (`writableLength` counts the whole chunk until the write
 * completes, though the kernel may have taken most of it at once). Streams without a libuv handle (TLS, test
 * doubles) report `writableLength`.
 */
export function unsentBytes(socket: Duplex): number {
  const queued = socket.writableLength;
  const internals = socket as unknown as SocketInternals;
  const handleQueue = internals._handle?.writeQueueSize;
  const writing = internals._writableState?.writelen;
  if (typeof handleQueue !== 'number' || typeof writing !== 'number' || writing > queued) return queued;
  return queued - writing + handleQueue;
}

/** The Node stream internals {@link unsentBytes} reads (as `ws` reads `_writableState` for `bufferedAmount`). */
interface SocketInternals {
  readonly _handle?: { readonly writeQueueSize?: unknown } | null;
  readonly _writableState?: { readonly writelen?: unknown };
}

/** A transport connection that can also be dropped at once, without flushing or a close handshake. */
export interface TerminableConnection extends Connection {
  /** Destroys the underlying socket now; the close handlers run as for any close. */
  terminate(): void;
  /**
   * From now on, a connection that stays over `cap.maxBufferedBytes` unsent without draining (see the module
   * header) is terminated, after a call of `cap.onOverflow(connection)`; later sends are dropped.
   */
  capOutbound(cap: OutboundCap): void;
}

/** The outbound cap of a guard's connections: one object shared by all of them. */
export interface OutboundCap {
  readonly maxBufferedBytes: number;
  onOverflow(connection: TerminableConnection): void;
}

/**
 * The outbound buffer cap as fields of a connection class rather than closures around each instance: idle
 * connections must stay small. Transport connections extend it and call {@link checkOutbound} after writing.
 * Its helpers are TypeScript-`private`, not `#` methods: V8 stores a class brand in every instance of a class
 * with `#` methods or accessors (8 bytes each), which classes made per connection avoid (issue 16).
 */
export abstract class CappedConnection extends TransportConnection {
  /** Undefined until capped; shared by every connection of a guard (one field, not a copy of its settings). */
  #cap: OutboundCap | undefined;
  /** Undefined while under the cap; a grace period while over it; `true` once terminated as a slow consumer. */
  #overflow: DrainWatch | true | undefined;

  /** Bytes the client has not taken yet (see the module header). */
  abstract get bufferedAmount(): number;
  abstract terminate(): void;

  capOutbound(cap: OutboundCap): void {
    this.#cap = cap;
  }

  /** True once the cap terminated the connection (a slow consumer): sends are dropped. */
  get overflowed(): boolean {
    return this.#overflow === true;
  }

  /**
   * Starts a grace period if the queue is over the cap, and terminates at once past {@link BURST_CEILING} times
   * the cap (call after every write; cheap under the cap).
   */
  protected checkOutbound(): void {
    const cap = this.#cap;
    const overflow = this.#overflow;
    if (cap === undefined || overflow === true) return;
    const queued = this.bufferedAmount;
    const max = cap.maxBufferedBytes;
    if (queued > max * BURST_CEILING) this.terminateSlowConsumer();
    else if (overflow === undefined && queued > max) this.#overflow = new DrainWatch(this, queued);
  }

  /** The end of a grace period: terminates, grants another one, or ends the watch (see the module header). */
  drainDeadline(watch: DrainWatch): void {
    if (this.#overflow !== watch) return;
    const queued = this.bufferedAmount;
    if (queued <= (this.#cap?.maxBufferedBytes ?? Number.POSITIVE_INFINITY)) {
      this.#overflow = undefined;
    } else if (queued < watch.queued) {
      this.#overflow = new DrainWatch(this, queued);
    } else {
      this.terminateSlowConsumer();
    }
  }

  private terminateSlowConsumer(): void {
    const overflow = this.#overflow;
    if (overflow !== undefined && overflow !== true) clearTimeout(overflow.timer);
    this.#overflow = true;
    this.#cap?.onOverflow(this as unknown as TerminableConnection);
    this.terminate();
  }

  override closed(code: number, reason: string): void {
    const overflow = this.#overflow;
    if (overflow !== undefined && overflow !== true) {
      clearTimeout(overflow.timer);
      this.#overflow = undefined;
    }
    super.closed(code, reason);
  }
}

/** One grace period of a connection over its cap: rare, so a timer of its own. */
class DrainWatch {
  readonly timer: NodeJS.Timeout;

  /** @param queued the connection's unsent bytes when the period began. */
  constructor(
    connection: CappedConnection,
    readonly queued: number,
  ) {
    this.timer = setTimeout(drainDeadline, DRAIN_GRACE_MS, connection, this);
    this.timer.unref();
  }
}

function drainDeadline(connection: CappedConnection, watch: DrainWatch): void {
  connection.drainDeadline(watch);
}

/** Applies a host's {@link TransportLimits} to the connections of its endpoints. */
export class ConnectionGuard {
  readonly #perAddress = new Map<string, number>();
  readonly #maxPerAddress: number;
  readonly #maxBuffered: number;
  readonly #cap: OutboundCap;
  readonly #origins: ((origin: string) => boolean) | undefined;
  readonly #logger: Logger;

  constructor(limits: TransportLimits = {}, logger: Logger = silentLogger) {
    this.#maxPerAddress = limits.maxConnectionsPerAddress ?? 0;
    this.#maxBuffered = limits.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    // The cap and the one overflow handler of every connection (no closure per connection).
    this.#cap = {
      maxBufferedBytes: this.#maxBuffered,
      onOverflow: (connection) => this.#overflowed(connection),
    };
    const allowed = limits.allowedOrigins;
    this.#origins =
      allowed === undefined
        ? undefined
        : typeof allowed === 'function'
          ? allowed
          : (origin) => allowed.includes(origin);
    this.#logger = logger;
  }

  /** Open connections counted for `address`. */
  connectionsFrom(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** True when the request carries no `Origin` or an allowed one. */
  originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (this.#origins === undefined || origin === undefined) return true;
    try {
      return this.#origins(origin);
    } catch {
      return false;
    }
  }

  /** True when `address` already has `maxConnectionsPerAddress` connections (never without that limit). */
  atLimit(address: string): boolean {
    return this.#maxPerAddress > 0 && this.connectionsFrom(address) >= this.#maxPerAddress;
  }

  /**
   * Checks an upgrade before the endpoint accepts it; when refused, answers `403` (origin) or `503` (too many
   * connections from `address`) on the raw socket and returns false.
   */
  admitUpgrade(request: IncomingMessage, socket: Duplex, address: string): boolean {
    if (!this.originAllowed(request)) {
      this.#logger.debug({ origin: request.headers.origin, address }, 'upgrade refused: origin not allowed');
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return false;
    }
    if (this.atLimit(address)) {
      this.#logger.debug({ address }, 'upgrade refused: too many connections from this address');
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
      return false;
    }
    return true;
  }

  /**
   * Counts a new connection against its address and decorates it with the outbound buffer cap. Returns undefined
   * (after closing it with 1013) when its address already has `maxConnectionsPerAddress` connections.
   */
  admit<C extends TerminableConnection>(connection: C): C | undefined {
    if (this.#maxPerAddress > 0) {
      const address = connection.remoteAddress;
      const count = this.connectionsFrom(address);
      if (count >= this.#maxPerAddress) {
        this.#logger.debug({ address }, 'connection refused: too many connections from this address');
        connection.close(1013, 'too many connections');
        return undefined;
      }
      this.#perAddress.set(address, count + 1);
      connection.onClose(() => {
        const left = this.connectionsFrom(address) - 1;
        if (left > 0) this.#perAddress.set(address, left);
        else this.#perAddress.delete(address);
      });
    }
    connection.capOutbound(this.#cap);
    return connection;
  }

  /** Logs a connection the cap terminated. */
  #overflowed(connection: TerminableConnection): void {
    this.#logger.warn(
      {
        address: connection.remoteAddress,
        bufferedBytes: connection.bufferedAmount,
        maxBufferedBytes: this.#maxBuffered,
      },
      'slow consumer: outbound buffer over the limit, connection terminated',
    );
  }
}
