/**
 * A toy protocol, here to prove that a protocol plugs in through adapters/protocol-adapter.ts alone: JSON lines
 * over a WebSocket at `path` (default `/jsonl`). Each text frame carries one or more lines, each line one JSON
 * object; values are EJSON (dates as `{"$date": ms}`).
 *
 * Client → server: `{"op":"sub","id","name","params"?}`, `{"op":"unsub","id"}`, `{"op":"call","id","method",
 * "params"?}`. Server → client: `added`/`changed`/`removed` (`collection`, `id`, `fields`, `cleared`), `{"op":
 * "ready","subs"}`, `{"op":"stopped","sub","error"?}`, and `{"op":"result","id","result"|"error"}` — sent once
 * the call's writes reached this client (core: methodResult, then writesDelivered). Bad lines get `{"op":"error",
 * "reason"}` and the connection stays open. Errors are `{code, message}` (client errors only; others are 500).
 */

import type { Endpoint, EndpointBase, ProtocolHandle } from '../../../adapters/protocol-adapter.js';
import type { Connection, ConnectionHandler, ConnectionListener } from '../../../core/connection.js';
import type { ConnectionInfo, Fields } from '../../../core/contexts.js';
import { fromJSONValue, toJSONValue } from '../../../core/ejson.js';
import { isClientError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { cryptoRandom } from '../../../core/random/random-stream.js';
import type { RealtimeCore } from '../../../core/realtime-core.js';
import type { MethodOutcome, Session, SessionOutput } from '../../../core/session.js';
import type { HttpHost } from '../../../transports/http-host.js';
import { WebSocketEndpoint } from '../../../transports/websocket-endpoint.js';

/** Options of the toy protocol. */
export interface JsonlOptions {
  /** WebSocket path (default `/jsonl`). */
  readonly path?: string;
  /** Longer lines get an error (default 64 KiB). */
  readonly maxLineBytes?: number;
  /** Trusted X-Forwarded-For hops. */
  readonly forwardedCount?: number;
}

/** A client line, validated. */
type ClientLine =
  | { readonly op: 'sub'; readonly id: string; readonly name: string; readonly params: unknown[] }
  | { readonly op: 'unsub'; readonly id: string }
  | { readonly op: 'call'; readonly id: string; readonly method: string; readonly params: unknown[] };

/** Serves the toy protocol on a host. */
export class JsonlProtocol implements ConnectionHandler, ProtocolHandle {
  readonly #connections = new Set<JsonlConnection>();

  constructor(
    private readonly core: RealtimeCore,
    private readonly options: JsonlOptions,
    private readonly logger: Logger,
  ) {}

  /** Registers the WebSocket endpoint, every connection through `accept`. */
  attach(host: HttpHost, accept: (handler: ConnectionHandler) => ConnectionHandler): void {
    const path = this.options.path ?? '/jsonl';
    host.addEndpoint(
      new WebSocketEndpoint(accept(this), {
        matches: (pathname) => pathname === path,
        maxPayload: 4 * (this.options.maxLineBytes ?? 64 * 1024),
        forwardedCount: this.options.forwardedCount ?? 0,
      }),
    );
  }

  handleConnection(connection: Connection): void {
    const jsonl = new JsonlConnection(
      this.core,
      connection,
      this.options.maxLineBytes ?? 64 * 1024,
      this.logger,
    );
    this.#connections.add(jsonl);
    connection.onClose(() => this.#connections.delete(jsonl));
  }

  closeAll(): void {
    for (const connection of this.#connections) connection.close(1001, 'server shutting down');
  }

  endpoints(base: EndpointBase): Endpoint[] {
    return [{ name: 'JSON lines', url: `${base.ws}${this.options.path ?? '/jsonl'}` }];
  }
}

/** One client: a core session and the calls waiting for their writes. */
class JsonlConnection implements ConnectionListener, SessionOutput {
  readonly #session: Session;
  readonly #results = new Map<string, MethodOutcome>();

  constructor(
    core: RealtimeCore,
    private readonly connection: Connection,
    private readonly maxLineBytes: number,
    private readonly logger: Logger,
  ) {
    const info: ConnectionInfo = {
      id: cryptoRandom.id(),
      protocol: 'jsonl',
      clientAddress: connection.remoteAddress,
      httpHeaders: connection.headers,
    };
    this.#session = core.openSession(info, this);
    connection.attach(this);
  }

  close(code: number, reason: string): void {
    this.connection.close(code, reason);
  }

  receive(data: string | Uint8Array): void {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      if (Buffer.byteLength(line) > this.maxLineBytes) this.#send({ op: 'error', reason: 'line too long' });
      else this.#handle(line);
    }
  }

  connectionClosed(): void {
    this.#session.close();
  }

  #handle(line: string): void {
    const parsed = parseLine(line);
    if (typeof parsed === 'string') {
      this.#send({ op: 'error', reason: parsed });
      return;
    }
    switch (parsed.op) {
      case 'sub':
        this.#session.subscribe(parsed.id, parsed.name, parsed.params).catch((error: unknown) => {
          this.logger.error({ err: error }, 'jsonl subscribe failed');
        });
        return;
      case 'unsub':
        this.#session.unsubscribe(parsed.id);
        return;
      case 'call':
        this.#session.call(parsed.id, parsed.method, parsed.params).catch((error: unknown) => {
          this.logger.error({ err: error }, 'jsonl call failed');
        });
        return;
      default:
        unreachable(parsed);
    }
  }

  #send(message: Record<string, unknown>): void {
    this.connection.send(JSON.stringify(message));
  }

  // ---- SessionOutput ---------------------------------------------------------------------------------------

  added(collection: string, id: string, fields: Fields): void {
    this.#send({ op: 'added', collection, id, fields: toJSONValue(fields) });
  }

  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    this.#send({ op: 'changed', collection, id, fields: toJSONValue(fields), cleared });
  }

  removed(collection: string, id: string): void {
    this.#send({ op: 'removed', collection, id });
  }

  subscriptionsReady(subIds: readonly string[]): void {
    this.#send({ op: 'ready', subs: subIds });
  }

  subscriptionStopped(subId: string, error?: unknown): void {
    this.#send(
      error === undefined ? { op: 'stopped', sub: subId } : { op: 'stopped', sub: subId, error: wire(error) },
    );
  }

  methodResult(methodId: string, outcome: MethodOutcome): void {
    this.#results.set(methodId, outcome);
  }

  writesDelivered(methodIds: readonly string[]): void {
    for (const id of methodIds) {
      const outcome = this.#results.get(id);
      if (!outcome) continue;
      this.#results.delete(id);
      this.#send(
        outcome.ok
          ? { op: 'result', id, result: toJSONValue(outcome.value) }
          : { op: 'result', id, error: wire(outcome.error) },
      );
    }
  }
}

/** A validated line, or the reason it is refused. */
function parseLine(line: string): ClientLine | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const message = value as Record<string, unknown>;
  const { op, id } = message;
  if (typeof id !== 'string' || id === '') return 'id must be a non-empty string';
  const params = message.params ?? [];
  if (!Array.isArray(params)) return 'params must be an array';
  let decoded: unknown[];
  try {
    decoded = params.map((param) => fromJSONValue(param));
  } catch {
    return 'params are not EJSON';
  }
  if (op === 'sub' && typeof message.name === 'string')
    return { op, id, name: message.name, params: decoded };
  if (op === 'unsub') return { op, id };
  if (op === 'call' && typeof message.method === 'string')
    return { op, id, method: message.method, params: decoded };
  return `unknown or incomplete op ${JSON.stringify(op)}`;
}

/** A core error on this protocol's wire. */
function wire(error: unknown): { code: string | number; message: string } {
  if (!isClientError(error)) return { code: 500, message: 'Internal server error' };
  return { code: error.error, message: error.reason ?? String(error.error) };
}

function unreachable(value: never): never {
  throw new Error(`unhandled line ${JSON.stringify(value)}`);
}
