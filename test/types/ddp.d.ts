/**
 * The parts of npm `ddp` (oortcloud/node-ddp-client 0.12, `lib/ddp-client.js`) the wire tests use. The package is
 * untyped CommonJS (`module.exports = DDPClient`).
 */
declare module 'ddp' {
  import type { EventEmitter } from 'node:events';

  namespace DDPClient {
    interface Options {
      host?: string;
      port?: number;
      path?: string;
      /** Full WebSocket URL; used as is when `useSockJs` is false. */
      url?: string;
      ssl?: boolean;
      useSockJs?: boolean;
      autoReconnect?: boolean;
      autoReconnectTimer?: number;
      maintainCollections?: boolean;
      ddpVersion?: string;
    }

    /** The wire error object (`msg: result`'s `error`), EJSON-decoded. */
    type WireError = Record<string, unknown>;

    interface Observer {
      readonly name: string;
      added: (id: string) => void;
      changed: (
        id: string,
        oldFields: Record<string, unknown>,
        clearedFields: string[],
        newFields: Record<string, unknown>,
      ) => void;
      removed: (id: string, oldValue: Record<string, unknown>) => void;
      stop(): void;
    }
  }

  class DDPClient extends EventEmitter {
    constructor(options?: DDPClient.Options);
    /** collection → id → document (with `_id`), when `maintainCollections`. */
    collections: Record<string, Record<string, Record<string, unknown>>>;
    session?: string;
    /** `error` is a socket or negotiation failure; `wasReconnect` tells a reconnection. */
    connect(callback?: (error: unknown, wasReconnect: boolean) => void): void;
    close(): void;
    call(
      name: string,
      params: unknown[],
      callback?: (error: DDPClient.WireError | Error | undefined, result: unknown) => void,
      updatedCallback?: () => void,
    ): void;
    /** `callback` runs on `ready` (no argument) or `nosub` (its error). */
    subscribe(name: string, params: unknown[], callback?: (error?: DDPClient.WireError) => void): string;
    unsubscribe(id: string): void;
    observe(
      name: string,
      added?: DDPClient.Observer['added'],
      changed?: DDPClient.Observer['changed'],
      removed?: DDPClient.Observer['removed'],
    ): DDPClient.Observer;
  }

  export = DDPClient;
}
