/**
 * The parts of npm `ddp.js` (mondora, 2.2.1, `src/ddp.js`) the wire tests use. The package is Babel-built
 * CommonJS (`exports.default = DDP` with `__esModule`): depending on the loader's interop, an ESM default import
 * yields `DDP` itself or `{ default: DDP }`.
 * Messages are plain `JSON` (no EJSON): dates arrive as `{ $date: ms }`.
 */
declare module 'ddp.js' {
  /** A raw server message as ddp.js emits it. */
  type DdpJsMessage = Record<string, unknown> & { msg: string };

  interface DdpJsOptions {
    endpoint: string;
    /** A WebSocket-compatible constructor (`onopen`/`onclose`/`onerror`/`onmessage`, `send`, `close`). */
    SocketConstructor: new (
      url: string,
    ) => unknown;
    autoConnect?: boolean;
    autoReconnect?: boolean;
    reconnectInterval?: number;
  }

  type DdpJsEvent =
    | 'connected'
    | 'disconnected'
    | 'ready'
    | 'nosub'
    | 'added'
    | 'changed'
    | 'removed'
    | 'result'
    | 'updated'
    | 'error';

  /** Events are emitted asynchronously (each on its own `setTimeout(0)`). */
  class DDP {
    constructor(options: DdpJsOptions);
    status: 'connected' | 'disconnected';
    connect(): void;
    disconnect(): void;
    /** Returns the method id ("0", "1", … per process). */
    method(name: string, params?: unknown[]): string;
    sub(name: string, params?: unknown[], id?: string | null): string;
    unsub(id: string): string;
    on(event: DdpJsEvent, listener: (message: DdpJsMessage) => void): this;
    off(event: DdpJsEvent, listener: (message: DdpJsMessage) => void): this;
  }

  const exported: typeof DDP | { readonly default: typeof DDP };
  export default exported;
  export type { DDP, DdpJsEvent, DdpJsMessage, DdpJsOptions };
}
