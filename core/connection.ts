/**
 * The neutral connection between transports and protocol adapters: a message-oriented, bidirectional channel
 * (a WebSocket, a SockJS session, a RawSocket). Transports create them; adapters speak a protocol over them.
 * Neither side knows the other's concrete type.
 */

/**
 * The protocol adapter's side of one connection ({@link Connection.attach}). An object with methods rather than
 * a pair of closures: an adapter's per-connection object implements it itself, so an idle connection holds no
 * function per listener.
 */
export interface ConnectionListener {
  /** One incoming message; messages arrive in order. */
  receive(data: string | Uint8Array): void;
  /** The connection closed; called once, after the {@link Connection.onClose} handlers. */
  connectionClosed(code: number, reason: string): void;
}

/** A client connection as an adapter sees it. */
export interface Connection {
  /** Sends one message (text or binary). Dropped silently once closed. */
  send(data: string | Uint8Array): void;
  /** Closes with a WebSocket-style code and reason; pending sends are flushed first. */
  close(code?: number, reason?: string): void;
  /** Attaches the protocol adapter (one per connection): it receives every message, then the close. */
  attach(listener: ConnectionListener): void;
  /** Registers a close handler (called once, in registration order, before the attached listener's). */
  onClose(handler: (code: number, reason: string) => void): void;
  /** Client address (the socket peer, or X-Forwarded-For when the transport is configured to trust it). */
  readonly remoteAddress: string;
  /** Upgrade request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Negotiated subprotocol ('' when none). */
  readonly protocol: string;
  /** The transport when it is not a WebSocket or SockJS: `rawsocket` (WAMP RawSocket). */
  readonly transportKind?: 'rawsocket' | undefined;
  /** True once the transport terminated the connection because its client did not read (a slow consumer). */
  readonly overflowed?: boolean | undefined;
  /** Bytes queued but not yet written to the socket (for backpressure). */
  readonly bufferedAmount: number;
  /**
   * Optional write coalescing: after `cork()`, sends are held (in order) until the matching `uncork()`, which
   * writes them together — several WebSocket frames in one socket write, several SockJS messages in one `a[…]`
   * frame. Each message stays its own message on the wire. Calls nest; every `cork()` needs one `uncork()`.
   */
  cork?(): void;
  /** Ends one `cork()`; the held sends go out when the outermost one ends. */
  uncork?(): void;
  /**
   * Optional inbound flow control: stop reading from the client (TCP backpressure; nothing is lost) until
   * `resume()`. A transport without it cannot hold a client back.
   */
  readonly pause?: (() => void) | undefined;
  /** Reads from the client again after `pause()`. */
  readonly resume?: (() => void) | undefined;
}

/** Receives new connections for one endpoint (an adapter implements it). */
export interface ConnectionHandler {
  handleConnection(connection: Connection): void;
}
