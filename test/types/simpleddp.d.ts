/**
 * The parts of npm `simpleddp` (Gregivy, 2.2.x, `lib/simpleddp.js` over `simpleddp-core`) the wire tests use.
 * CommonJS with `module.exports = simpleDDP`. Messages are EJSON-decoded (npm `ejson`): dates are `Date`s.
 */
declare module 'simpleddp' {
  namespace simpleDDP {
    interface Options {
      endpoint: string;
      /** A WebSocket-compatible constructor (`ws`'s `WebSocket` in Node). */
      SocketConstructor: new (
        url: string,
      ) => unknown;
      reconnectInterval?: number;
      autoConnect?: boolean;
      autoReconnect?: boolean;
      /** Rejects method calls after this many ms. */
      maxTimeout?: number;
      clearDataOnReconnection?: boolean;
    }

    /** A document as simpleddp stores it: `{ id, ...fields }`. */
    type Document = Record<string, unknown> & { id: string };

    /** Argument of a collection's `onChange` callback (no filter). */
    interface Change {
      added: Document | false;
      removed: Document | false;
      changed:
        | {
            prev: Document;
            next: Document;
            /** Changed fields: 1 = set, 0 = cleared. */
            fields: Record<string, 0 | 1>;
            fieldsChanged: Record<string, unknown>;
            fieldsRemoved: string[];
          }
        | false;
    }

    interface Listener {
      start(): void;
      stop(): void;
    }

    interface Subscription {
      /** Resolves on `ready`; rejects on `nosub`. */
      ready(): Promise<void>;
      isReady(): boolean;
      stop(): Promise<void>;
      remove(): void;
    }

    interface Collection {
      fetch(): Document[];
      onChange(callback: (change: Change) => void): Listener;
    }
  }

  class simpleDDP {
    constructor(options: simpleDDP.Options, plugins?: unknown[]);
    connected: boolean;
    /** collection → documents. */
    collections: Record<string, simpleDDP.Document[]>;
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    /** Resolves to the result; rejects with the wire error object (or an Error after `maxTimeout`). */
    call(method: string, ...params: unknown[]): Promise<unknown>;
    apply(method: string, params?: unknown[]): Promise<unknown>;
    subscribe(name: string, ...params: unknown[]): simpleDDP.Subscription;
    collection(name: string): simpleDDP.Collection;
    on(event: string, callback: (message: Record<string, unknown>) => void): simpleDDP.Listener;
  }

  export = simpleDDP;
}
