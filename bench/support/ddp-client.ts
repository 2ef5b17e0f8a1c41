/**
 * A minimal raw DDP client for the benchmarks: `ws` to `/websocket`, the `connect` handshake, `sub` (resolves
 * on `ready`), `method` (resolves when both `result` and `updated` arrived, which is when a Meteor client runs
 * the method's callback) and a hook for data messages. It answers server pings, so idle connections stay open.
 *
 * It is deliberately thin (no EJSON decoding, no reconnect) so that client-side cost stays small next to the
 * server's. `onFrame` sees every frame before it is parsed and may consume it, which lets a fan-out receiver
 * count data messages without paying for `JSON.parse`.
 */
import WebSocket, { type RawData } from 'ws';

/** A parsed server message. */
export interface DdpMessage {
  readonly msg: string;
  readonly [field: string]: unknown;
}

interface PendingCall {
  result: boolean;
  updated: boolean;
  value: unknown;
  error: unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface PendingSub {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Thrown for a method `result` with an `error`, or a `nosub` with one. */
export class DdpError extends Error {
  override readonly name = 'DdpError';
  constructor(
    message: string,
    readonly detail: unknown,
  ) {
    super(message);
  }
}

/** One DDP connection. */
export class DdpClient {
  /** Every frame, before parsing; return true to consume it (it is then not parsed or dispatched). */
  onFrame: ((frame: Buffer) => boolean) | undefined;
  /** Every parsed data message (`added`, `changed`, `removed`). */
  onData: ((message: DdpMessage) => void) | undefined;
  /** The session id from `connected`. */
  session = '';
  #nextId = 0;
  readonly #calls = new Map<string, PendingCall>();
  readonly #subs = new Map<string, PendingSub>();
  #onConnected: ((error?: Error) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => this.#receive(data));
    ws.on('close', () => this.#failAll(new Error('connection closed')));
    ws.on('error', (error: Error) => this.#failAll(error));
  }

  /** Opens a WebSocket to `url` and completes the DDP handshake. */
  static connect(url: string, timeoutMs = 20_000): Promise<DdpClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const client = new DdpClient(ws);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`DDP connect to ${url} timed out`));
      }, timeoutMs);
      client.#onConnected = (error) => {
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(client);
      };
      ws.once('open', () => ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] })));
    });
  }

  /** Subscribes; resolves on `ready`, rejects on `nosub`. */
  subscribe(name: string, params: readonly unknown[] = []): Promise<void> {
    const id = `s${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      this.#subs.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ msg: 'sub', id, name, params }));
    });
  }

  /** Calls a method; resolves with its result once both `result` and `updated` arrived. */
  call(method: string, params: readonly unknown[] = []): Promise<unknown> {
    const id = `m${this.#nextId++}`;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, {
        result: false,
        updated: false,
        value: undefined,
        error: undefined,
        resolve,
        reject,
      });
      this.ws.send(JSON.stringify({ msg: 'method', id, method, params }));
    });
  }

  /** Closes the socket (no DDP goodbye exists). */
  close(): void {
    this.ws.close();
  }

  /** Resolves once the socket is closed. */
  closed(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.ws.once('close', () => resolve()));
  }

  #receive(data: RawData): void {
    const frame = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    if (this.onFrame?.(frame)) return;
    const parsed = JSON.parse(frame.toString('utf8')) as DdpMessage | DdpMessage[];
    // One message per frame is DDP over raw WebSocket; an array (SockJS-style batching) is accepted too.
    if (Array.isArray(parsed)) {
      for (const message of parsed) this.#dispatch(message);
    } else {
      this.#dispatch(parsed);
    }
  }

  #dispatch(message: DdpMessage): void {
    switch (message.msg) {
      case 'added':
      case 'changed':
      case 'removed':
        this.onData?.(message);
        return;
      case 'result':
        this.#result(message);
        return;
      case 'updated': {
        // Standard: `methods: [ids]`. ddp-server-reactive sends `id` instead; accepted for the peer bench.
        const ids = Array.isArray(message.methods) ? (message.methods as string[]) : [String(message.id)];
        for (const id of ids) this.#updated(id);
        return;
      }
      case 'ready':
        for (const id of message.subs as string[]) {
          this.#subs.get(id)?.resolve();
          this.#subs.delete(id);
        }
        return;
      case 'nosub': {
        const id = message.id as string;
        this.#subs.get(id)?.reject(new DdpError(`nosub ${id}`, message.error));
        this.#subs.delete(id);
        return;
      }
      case 'ping':
        this.ws.send(
          JSON.stringify(message.id === undefined ? { msg: 'pong' } : { msg: 'pong', id: message.id }),
        );
        return;
      case 'connected':
        this.session = message.session as string;
        this.#onConnected?.();
        this.#onConnected = undefined;
        return;
      case 'failed':
        this.#onConnected?.(new Error(`DDP version negotiation failed: ${String(message.version)}`));
        this.#onConnected = undefined;
        return;
      case 'error':
        process.stderr.write(`DDP error from server: ${JSON.stringify(message)}\n`);
        return;
      default:
        return;
    }
  }

  #result(message: DdpMessage): void {
    const call = this.#calls.get(message.id as string);
    if (!call) return;
    call.result = true;
    call.value = message.result;
    call.error = message.error;
    this.#settle(message.id as string, call);
  }

  #updated(id: string): void {
    const call = this.#calls.get(id);
    if (!call) return;
    call.updated = true;
    this.#settle(id, call);
  }

  #settle(id: string, call: PendingCall): void {
    if (!call.result || !call.updated) return;
    this.#calls.delete(id);
    if (call.error === undefined) call.resolve(call.value);
    else call.reject(new DdpError(`method ${id} failed`, call.error));
  }

  #failAll(error: Error): void {
    this.#onConnected?.(error);
    this.#onConnected = undefined;
    for (const call of this.#calls.values()) call.reject(error);
    for (const sub of this.#subs.values()) sub.reject(error);
    this.#calls.clear();
    this.#subs.clear();
  }
}
