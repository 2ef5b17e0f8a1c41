/**
 * The one HTTP(S) server of a pgrt process. Protocol endpoints attach to it by path: WebSocket upgrades are
 * routed to the first endpoint whose `matches(pathname)` is true; plain requests: `/healthz` and `/readyz` first,
 * then registered request handlers in registration order (e.g. SockJS), then fallback handlers (e.g. a served web
 * client that answers any page), then 404. The host owns the listening socket, not the process (no signal
 * handling here).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/logger.js';
import { ConnectionGuard, type TransportLimits } from './connection-guard.js';

/**
 * Default accept queue of the listening socket: as deep as the kernel allows (Linux caps it at
 * `net.core.somaxconn`, 4096 by default since 5.4; Node's own default is 511). Connections a storm of reconnecting
 * clients completes faster than the event loop accepts them wait there; past it the kernel drops their SYNs and
 * each such client waits 1 s, then 3 s, 7 s… to try again.
 */
export const DEFAULT_LISTEN_BACKLOG = 65_535;

/** An endpoint taking WebSocket upgrades for some paths. */
export interface UpgradeEndpoint {
  matches(pathname: string): boolean;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Receives the host's {@link ConnectionGuard} when added (endpoints without it get a default guard). */
  useGuard?(guard: ConnectionGuard): void;
}

/** A plain HTTP handler; returns true if it handled the request. */
export type RequestHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  pathname: string,
) => boolean;

/** Options of {@link HttpHost}. */
export interface HttpHostOptions {
  /** TLS: PEM certificate chain and key; when given the host serves https/wss only. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * Readiness probe for `/readyz` (default: always ready): true, false, or the reason it is not ready (the 503's
   * body says it).
   */
  readonly ready?: () => boolean | string;
  /** permessage-deflate for the WebSocket endpoints attached to this host; absent: off. */
  readonly compression?: CompressionOptions;
  /** Origin allow-list, connections per address, outbound buffer cap, nesting depth (transports/connection-guard.ts). */
  readonly limits?: TransportLimits;
  /** Where the guard logs refusals (debug) and slow consumers (warn). */
  readonly logger?: Logger;
}

/**
 * WebSocket permessage-deflate settings shared by every endpoint on a host. Off unless given: each compressed
 * connection keeps zlib contexts (tens of KB per socket, ws issues #1617, #497).
 */
export interface CompressionOptions {
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  readonly threshold?: number;
  /** zlib level 1–9 (default 3: cheap, most of the gain on JSON). */
  readonly level?: number;
}

/** The HTTP server and its routing table. */
export class HttpHost {
  readonly server: Server;
  readonly #endpoints: UpgradeEndpoint[] = [];
  readonly #handlers: RequestHandler[] = [];
  /** Handlers tried after every other one (a web client's catch-all pages). */
  readonly #fallbacks: RequestHandler[] = [];
  /** Open sockets: every TCP connection, and the TLS socket of each upgrade over https. */
  readonly #sockets = new Set<Duplex>();
  /** Sockets handed to an upgrade endpoint (WebSockets) and not closed yet. */
  readonly #upgraded = new Set<Duplex>();
  /**
   * The one `close` listener of every socket, shared (no closure per connection), added with `on`: a socket
   * closes once, and `once` would wrap it in a bound function and a state object per socket. One listener
   * rather than one per set keeps the socket's listener list short (ws adds its own).
   */
  readonly #forgetSocket = (() => {
    const sockets = this.#sockets;
    const upgraded = this.#upgraded;
    return function forget(this: Duplex): void {
      sockets.delete(this);
      upgraded.delete(this);
    };
  })();
  #closed: Promise<void> | undefined;
  readonly #ready: () => boolean | string;
  /** permessage-deflate settings for endpoints attached here (undefined: off). */
  readonly compression: CompressionOptions | undefined;
  /** The certificate and key when the host serves https/wss only (listeners of a protocol's own use them too). */
  readonly tls: HttpHostOptions['tls'];
  /** The limits of every endpoint attached here ({@link guard} applies them; adapters read `maxNestingDepth`). */
  readonly limits: TransportLimits;
  /** Applies {@link limits} to every connection of every endpoint (shared, so per-address counts are global). */
  readonly guard: ConnectionGuard;
  #draining = false;
  #unready = false;

  constructor(options: HttpHostOptions = {}) {
    const onRequest = (request: IncomingMessage, response: ServerResponse) =>
      this.#request(request, response);
    this.server = options.tls
      ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
      : createHttpServer(onRequest);
    this.#ready = options.ready ?? (() => true);
    this.compression = options.compression;
    this.tls = options.tls;
    this.limits = options.limits ?? {};
    this.guard = new ConnectionGuard(this.limits, options.logger);
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(request, socket, head),
    );
    this.server.on('connection', (socket: Socket) => this.#track(socket));
  }

  /** Routes upgrades matching `endpoint` to it (first registered wins). */
  addEndpoint(endpoint: UpgradeEndpoint): void {
    endpoint.useGuard?.(this.guard);
    this.#endpoints.push(endpoint);
  }

  /**
   * Adds a plain HTTP handler, tried in registration order; `fallback` handlers are tried after all the others,
   * whenever they were added (a catch-all must not hide a path another protocol serves).
   */
  addRequestHandler(handler: RequestHandler, options: { readonly fallback?: boolean } = {}): void {
    (options.fallback ? this.#fallbacks : this.#handlers).push(handler);
  }

  /**
   * Starts listening with an accept queue of `backlog` connections (see {@link DEFAULT_LISTEN_BACKLOG}); resolves
   * with the bound port.
   */
  async listen(port: number, host = '0.0.0.0', backlog = DEFAULT_LISTEN_BACKLOG): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** The bound port (0 before listen). */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /**
   * Shutdown, drain delay: `/readyz` answers 503 ("draining") from now on while everything else is served as
   * before, so a load balancer takes the process out of rotation (at its next health checks) while new
   * connections it still sends are accepted, not refused (Kubernetes' preStop pattern). Idempotent.
   */
  markUnready(): void {
    this.#unready = true;
  }

  /**
   * Shutdown, closing step: `/readyz` answers 503 and WebSocket upgrades are refused (503), so reconnecting
   * clients go elsewhere; the listener stays open (probes get an answer) and open sockets are left alone.
   * Idempotent.
   */
  beginDrain(): void {
    this.#unready = true;
    this.#draining = true;
  }

  /** True once {@link beginDrain} or {@link close} ran. */
  get draining(): boolean {
    return this.#draining;
  }

  /** `/readyz`'s answer: 200 `ready`, or 503 with why not. */
  #readiness(): { readonly status: number; readonly body: string } {
    if (this.#unready) return { status: 503, body: 'draining\n' };
    const ready = this.#ready();
    if (ready === true) return { status: 200, body: 'ready\n' };
    return { status: 503, body: ready === false ? 'not ready\n' : `not ready: ${ready}\n` };
  }

  /** Resolves true when every upgraded socket has closed, or false after `timeoutMs`. */
  async upgradesClosed(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.#upgraded.size > 0) {
      if (performance.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  }

  /** Stops accepting, marks `/readyz` as draining, and closes remaining sockets. */
  async close(): Promise<void> {
    this.#unready = true;
    this.#draining = true;
    this.#closed ??= new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await this.#closed;
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    const pathname = pathOf(request);
    if (this.#draining) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const endpoint = this.#endpoints.find((e) => e.matches(pathname));
    if (!endpoint) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Over https the upgrade carries the TLS socket, not the TCP one tracked on 'connection'.
    if (!this.#sockets.has(socket)) this.#track(socket);
    this.#upgraded.add(socket);
    endpoint.handleUpgrade(request, socket, head);
    // An endpoint whose socket library listens for the socket's errors itself (ws does once it has the socket)
    // needs ours no more: one listener is kept as a function, two take an array per socket.
    if (socket.listenerCount('error') > 1) socket.removeListener('error', destroyOnError);
  }

  #track(socket: Duplex): void {
    this.#sockets.add(socket);
    socket.on('close', this.#forgetSocket);
  }

  #request(request: IncomingMessage, response: ServerResponse): void {
    const pathname = pathOf(request);
    if (pathname === '/healthz') {
      sendText(response, 200, 'ok\n');
      return;
    }
    if (pathname === '/readyz') {
      const { status, body } = this.#readiness();
      sendText(response, status, body);
      return;
    }
    for (const handler of this.#handlers) if (handler(request, response, pathname)) return;
    for (const handler of this.#fallbacks) if (handler(request, response, pathname)) return;
    sendText(response, 404, 'Not found\n');
  }
}

/** The path of a request URL, without query string. */
export function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function sendText(response: ServerResponse, status: number, body: string): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(body);
}

/**
 * Shared `error` listener of upgraded sockets: a failed socket is destroyed. Node's HTTP server removes its own
 * when it hands a socket over to `upgrade`; this one stays until the endpoint has one of its own.
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}
