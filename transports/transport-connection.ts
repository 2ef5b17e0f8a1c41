/**
 * What every transport's connection class shares (raw WebSocket, SockJS): the attached protocol adapter and the
 * close handlers of the {@link Connection} contract, kept as fields so that an idle connection holds no closure
 * of its own. Transports hand incoming messages to {@link TransportConnection.listener} and call
 * {@link TransportConnection.closed} once their socket or session is gone.
 */
import type { Connection, ConnectionListener } from '../core/connection.js';

type CloseHandler = (code: number, reason: string) => void;

/** The adapter and close bookkeeping of a transport connection. */
export abstract class TransportConnection implements Pick<Connection, 'attach' | 'onClose'> {
  #listener: ConnectionListener | undefined;
  /** Close handlers in registration order; a single one is kept without an array (the usual case). */
  #closeHandlers: CloseHandler | CloseHandler[] | undefined;

  attach(listener: ConnectionListener): void {
    this.#listener = listener;
  }

  onClose(handler: CloseHandler): void {
    const handlers = this.#closeHandlers;
    if (handlers === undefined) this.#closeHandlers = handler;
    else if (typeof handlers === 'function') this.#closeHandlers = [handlers, handler];
    else handlers.push(handler);
  }

  /** The attached adapter, which gets every incoming message; undefined before `attach` and after the close. */
  protected get listener(): ConnectionListener | undefined {
    return this.#listener;
  }

  /**
   * Called by the transport when the connection is gone: runs the close handlers in registration order, then
   * the adapter's `connectionClosed`. Later calls do nothing.
   */
  closed(code: number, reason: string): void {
    const handlers = this.#closeHandlers;
    const listener = this.#listener;
    this.#closeHandlers = undefined;
    this.#listener = undefined;
    if (typeof handlers === 'function') handlers(code, reason);
    else if (handlers) for (const handler of handlers) handler(code, reason);
    listener?.connectionClosed(code, reason);
  }
}
