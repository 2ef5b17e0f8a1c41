/**
 * The `ws` WebSocket class our endpoints accept upgrades with (ws's `WebSocket` server option): it hands its
 * events straight to one owner, the transport connection, instead of to listeners. Idle connections must stay
 * small (issue 16: ≤ 3 KB of heap each), and an emitter's listener table is a dictionary of about 200 bytes even
 * when empty, 280 with four listeners; the owner is one field.
 *
 * Server side, ws emits `message`, `ping`, `pong`, `close` and `error` on the socket (and `open` while it sets
 * it up, before any owner exists). The owner gets messages, pings and the close; an error terminates the socket
 * (whose close then reaches the owner); `pong` and `open` go to listeners, if any were added with `on`.
 *
 * Two more per-connection costs are cut here, both of ws's (checked against ws 8.23; package.json pins `~8.23.0` for
 * that reason: check these internals before widening it):
 * - the extension table (`_extensions`, an empty object per socket unless permessage-deflate was negotiated, in
 *   which case ws replaces it) starts as one frozen empty object shared by every socket;
 * - the receiver's chunk list keeps the capacity it grew to (about 150 bytes) once it has handed its last chunk
 *   on; it is given back after each message that leaves the list empty.
 */
import { type RawData, WebSocket } from 'ws';

/** What an {@link OwnedWebSocket} reports to. */
export interface WebSocketOwner {
  /** One incoming message (ws's `message`: text unless `isBinary`). */
  received(data: RawData, isBinary: boolean): void;
  /** A client's ping (ws answers none: the server runs with `autoPong: false`). */
  pinged(data: Buffer): void;
  /** The socket closed; once. */
  closed(code: number, reason: string): void;
}

/** The ws internals touched (see the module header). */
interface WsInternals {
  _events: unknown;
  _extensions: object;
  readonly _receiver: { readonly _buffers?: unknown[] } | null;
}

/** The extensions of every socket that negotiated none: ws only reads it (it replaces it when one is negotiated). */
const NO_EXTENSIONS: object = Object.freeze({});

/** A server-side ws socket that reports to its {@link owner}. */
export class OwnedWebSocket extends WebSocket {
  /** Set by the transport connection as soon as ws hands the socket over; events before it are dropped. */
  owner: WebSocketOwner | undefined = undefined;

  /** ws makes it as `new (null, undefined, serverOptions)`: a server-side socket, set up by ws after. */
  constructor(...args: unknown[]) {
    super(...(args as [null]));
    const internals = this as unknown as WsInternals;
    // No listener table until someone calls `on` (EventEmitter makes one then): every event ws emits on a server
    // socket goes to emit() below.
    internals._events = undefined;
    internals._extensions = NO_EXTENSIONS;
  }

  /** ws's events, to the owner (see the module header); `first`, `second`: the event's arguments. */
  override emit(event: string | symbol, first?: unknown, second?: unknown): boolean {
    const owner = this.owner;
    switch (event) {
      case 'message':
        owner?.received(first as RawData, second as boolean);
        this.#releaseChunkList();
        return true;
      case 'ping':
        owner?.pinged(first as Buffer);
        return true;
      case 'close':
        owner?.closed(first as number, (second as Buffer).toString('utf8'));
        return true;
      case 'error':
        this.terminate();
        return true;
      default:
        return super.emit(event, first, second);
    }
  }

  /** Gives back the capacity of the receiver's emptied chunk list (an array keeps what it grew to). */
  #releaseChunkList(): void {
    const buffers = (this as unknown as WsInternals)._receiver?._buffers;
    if (buffers !== undefined && buffers.length === 0) buffers.length = 0;
  }
}
