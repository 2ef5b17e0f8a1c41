/**
 * The neutral connection between transports and protocol adapters: a message-oriented, bidirectional channel
 * (a WebSocket, a SockJS session, a RawSocket). Transports create them; adapters speak a protocol over them.
 * Neither side knows the other's concrete type.
 */

/** A client connection as an adapter sees it. */
export interface Connection {
  /** Sends one message (text or binary). Dropped silently once closed. */
  send(data: string | Uint8Array): void;
  /** Closes with a WebSocket-style code and reason; pending sends are flushed first. */
  close(code?: number, reason?: string): void;
  /** Registers the message handler (one per connection). */
  onMessage(handler: (data: string | Uint8Array) => void): void;
  /** Registers the close handler (called once). */
  onClose(handler: (code: number, reason: string) => void): void;
  /** Client address (the socket peer, or X-Forwarded-For when the transport is configured to trust it). */
  readonly remoteAddress: string;
  /** Upgrade request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Negotiated subprotocol ('' when none). */
  readonly protocol: string;
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
}

/** Receives new connections for one endpoint (an adapter implements it). */
export interface ConnectionHandler {
  handleConnection(connection: Connection): void;
}
