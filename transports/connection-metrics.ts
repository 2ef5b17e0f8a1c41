/**
 * Traffic metrics of client connections (prom-client families in a given registry): connections open and opened,
 * messages and bytes each way by message type, method call durations, session resume requests, and slow-consumer
 * closes — all labelled by protocol. A {@link Connection} decorator ({@link ConnectionMetrics.instrument}) that the
 * server puts between a transport and its protocol adapter feeds them; what a frame is, is told by the protocol's
 * {@link Classifier}. The decorator also logs each connection's open and close (debug) with its counts and duration.
 *
 * Nothing here knows a protocol or the core: the server-level gauges (sessions, observers, the bus) are the
 * server's (server/metrics.ts).
 */
import type promClient from 'prom-client';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Connection, ConnectionListener } from '../core/connection.js';
import type { Logger } from '../core/logger.js';
import { type Classifier, unclassified } from './frame-classifier.js';
import { SockJsConnection } from './sockjs-endpoint.js';

/** Method latency buckets in seconds (1 ms … 10 s). */
const METHOD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The `transport` label of a connection: `websocket`, `rawsocket`, or `sockjs/<sockjs transport>`. */
export function transportOf(connection: Connection): string {
  if (connection.transportKind !== undefined) return connection.transportKind;
  return connection instanceof SockJsConnection ? `sockjs/${connection.transport}` : 'websocket';
}

/** Options of {@link ConnectionMetrics}. */
export interface ConnectionMetricsOptions {
  /** True for a method name worth its own label; others are timed as `(unregistered)` (bounded cardinality). */
  readonly isMethod?: (name: string) => boolean;
}

/** The connection families of one registry and the decorator that feeds them. */
export class ConnectionMetrics {
  readonly #traffic: Traffic;
  readonly #slowConsumerCloses: promClient.Counter<'protocol'>;
  #nextConnection = 0;

  constructor(registry: promClient.Registry, options: ConnectionMetricsOptions = {}) {
    const registers = [registry];
    this.#slowConsumerCloses = new Counter({
      name: 'pgrt_slow_consumer_closes_total',
      help: 'Connections terminated because their client could not keep up (outbound buffer over limits.maxBufferedBytes).',
      labelNames: ['protocol'],
      registers,
    });
    const isMethod = options.isMethod ?? (() => true);
    this.#traffic = {
      connections: new Gauge({
        name: 'pgrt_connections',
        help: 'Open client connections.',
        labelNames: ['protocol', 'transport'],
        registers,
      }),
      connectionsOpened: new Counter({
        name: 'pgrt_connections_opened_total',
        help: 'Client connections accepted.',
        labelNames: ['protocol', 'transport'],
        registers,
      }),
      received: new Counter({
        name: 'pgrt_messages_received_total',
        help: 'Protocol messages received from clients, by message type.',
        labelNames: ['protocol', 'type'],
        registers,
      }),
      sent: new Counter({
        name: 'pgrt_messages_sent_total',
        help: 'Protocol messages sent to clients, by message type.',
        labelNames: ['protocol', 'type'],
        registers,
      }),
      bytesReceived: new Counter({
        name: 'pgrt_message_bytes_received_total',
        help: 'Bytes of protocol messages received (after transport framing).',
        labelNames: ['protocol'],
        registers,
      }),
      bytesSent: new Counter({
        name: 'pgrt_message_bytes_sent_total',
        help: 'Bytes of protocol messages sent (before transport framing and compression).',
        labelNames: ['protocol'],
        registers,
      }),
      methodSeconds: new Histogram({
        name: 'pgrt_method_duration_seconds',
        help: "Time from a method call arriving to its result leaving (each protocol's call and reply messages).",
        labelNames: ['protocol', 'method', 'outcome'],
        buckets: METHOD_BUCKETS,
        registers,
      }),
      resumeAttempts: new Counter({
        name: 'pgrt_session_resume_attempts_total',
        help: 'Requests to resume an earlier session (protocols with session resumption, e.g. DDP).',
        labelNames: ['protocol'],
        registers,
      }),
      slowConsumerCloses: this.#slowConsumerCloses,
      registered: isMethod,
    };
  }

  /** Makes the per-protocol counters visible at 0 for the protocols a server attached (before any traffic). */
  protocolsAttached(protocols: readonly string[]): void {
    for (const protocol of protocols) this.#slowConsumerCloses.inc({ protocol }, 0);
  }

  /**
   * Wraps a connection so its traffic is counted (when `withMetrics`) and its open/close are logged at debug with
   * `conn`, `protocol`, `transport` and `remote`. The adapter sees an identical connection. `classifier` is the
   * protocol's (its message types and call ids); without one every frame counts as `other`.
   */
  instrument(
    connection: Connection,
    protocol: string,
    logger: Logger,
    withMetrics = true,
    classifier: ((subprotocol: string) => Classifier) | undefined = undefined,
  ): Connection {
    const transport = transportOf(connection);
    const conn = ++this.#nextConnection;
    // No child logger and no per-connection state unless metrics or debug lines need it: idle connections must
    // stay small (the close line's closure and fields cost about 180 bytes per connection).
    if (!withMetrics && logger.isLevelEnabled?.('debug') === false) return connection;
    const fields = { conn, protocol, transport, remote: connection.remoteAddress };
    const started = performance.now();
    logger.debug(fields, 'connection opened');
    if (!withMetrics) {
      logClose(connection, logger, fields, started);
      return connection;
    }
    this.#traffic.connections.inc({ protocol, transport });
    this.#traffic.connectionsOpened.inc({ protocol, transport });
    const classify = classifier?.(connection.protocol) ?? unclassified;
    return new CountedConnection(
      connection,
      this.#traffic,
      protocol,
      transport,
      classify,
      logger,
      fields,
      started,
    );
  }
}

/**
 * Logs the close of a connection that is not counted (debug, with its duration). Apart from `instrument`, so
 * that this closure's context holds only what it uses.
 */
function logClose(connection: Connection, logger: Logger, fields: object, started: number): void {
  connection.onClose((code, reason) => {
    logger.debug(
      { ...fields, code, reason, ms: Math.round(performance.now() - started) },
      'connection closed',
    );
  });
}

/** What a {@link CountedConnection} feeds: the families of its {@link ConnectionMetrics}. */
interface Traffic {
  readonly connections: promClient.Gauge<'protocol' | 'transport'>;
  readonly connectionsOpened: promClient.Counter<'protocol' | 'transport'>;
  readonly received: promClient.Counter<'protocol' | 'type'>;
  readonly sent: promClient.Counter<'protocol' | 'type'>;
  readonly bytesReceived: promClient.Counter<'protocol'>;
  readonly bytesSent: promClient.Counter<'protocol'>;
  readonly methodSeconds: promClient.Histogram<'protocol' | 'method' | 'outcome'>;
  readonly resumeAttempts: promClient.Counter<'protocol'>;
  readonly slowConsumerCloses: promClient.Counter<'protocol'>;
  /** True for a method the app registers (others are timed as `(unregistered)`: labels stay bounded). */
  registered(method: string): boolean;
}

/**
 * The metrics decorator of one connection ({@link ConnectionMetrics.instrument}): counts what passes, times method
 * calls, and on close decrements the gauge and logs the connection's totals. A class, not an object of closures:
 * its methods are shared, so a counted idle connection costs one object. It is the inner connection's listener
 * from the start, so a close is counted even when the adapter never attaches.
 */
class CountedConnection implements Connection, ConnectionListener {
  readonly #classify: Classifier;
  #listener: ConnectionListener | undefined;
  /** Calls waiting for their reply, by id (made on the first call). */
  #pendingCalls: Map<string, { readonly method: string; readonly started: number }> | undefined;
  #messagesIn = 0;
  #messagesOut = 0;

  constructor(
    private readonly inner: Connection,
    private readonly traffic: Traffic,
    private readonly protocolName: string,
    private readonly transport: string,
    classify: Classifier,
    private readonly logger: Logger,
    /** The `connection opened` line's fields, repeated on the close line. */
    private readonly fields: object,
    private readonly started: number,
  ) {
    this.#classify = classify;
    inner.attach(this);
  }

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.inner.headers;
  }

  get protocol(): string {
    return this.inner.protocol;
  }

  get transportKind(): 'rawsocket' | undefined {
    return this.inner.transportKind;
  }

  get overflowed(): boolean | undefined {
    return this.inner.overflowed;
  }

  get bufferedAmount(): number {
    return this.inner.bufferedAmount;
  }

  send(data: string | Uint8Array): void {
    this.#countSent(data);
    this.inner.send(data);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }

  cork(): void {
    this.inner.cork?.();
  }

  uncork(): void {
    this.inner.uncork?.();
  }

  get pause(): (() => void) | undefined {
    const inner = this.inner;
    return inner.pause && (() => inner.pause?.());
  }

  get resume(): (() => void) | undefined {
    const inner = this.inner;
    return inner.resume && (() => inner.resume?.());
  }

  attach(listener: ConnectionListener): void {
    this.#listener = listener;
  }

  onClose(handler: (code: number, reason: string) => void): void {
    this.inner.onClose(handler);
  }

  /** Called by the inner connection with each message. */
  receive(data: string | Uint8Array): void {
    this.#countReceived(data);
    this.#listener?.receive(data);
  }

  /** Called by the inner connection once it has closed. */
  connectionClosed(code: number, reason: string): void {
    const listener = this.#listener;
    this.#listener = undefined;
    this.traffic.connections.dec({ protocol: this.protocolName, transport: this.transport });
    if (this.inner.overflowed === true) this.traffic.slowConsumerCloses.inc({ protocol: this.protocolName });
    this.#pendingCalls = undefined;
    this.logger.debug(
      {
        ...this.fields,
        code,
        reason,
        ms: Math.round(performance.now() - this.started),
        messagesIn: this.#messagesIn,
        messagesOut: this.#messagesOut,
      },
      'connection closed',
    );
    listener?.connectionClosed(code, reason);
  }

  #countReceived(data: string | Uint8Array): void {
    const protocol = this.protocolName;
    this.#messagesIn++;
    this.traffic.bytesReceived.inc({ protocol }, byteLength(data));
    const kind = this.#classify(data, 'in');
    this.traffic.received.inc({ protocol, type: kind.type });
    if (kind.call) {
      this.#pendingCalls ??= new Map();
      this.#pendingCalls.set(kind.call.id, { method: kind.call.method, started: performance.now() });
    }
    if (kind.resume) this.traffic.resumeAttempts.inc({ protocol });
  }

  #countSent(data: string | Uint8Array): void {
    const protocol = this.protocolName;
    this.#messagesOut++;
    this.traffic.bytesSent.inc({ protocol }, byteLength(data));
    const kind = this.#classify(data, 'out');
    this.traffic.sent.inc({ protocol, type: kind.type });
    if (!kind.reply) return;
    const call = this.#pendingCalls?.get(kind.reply.id);
    if (!call) return;
    this.#pendingCalls?.delete(kind.reply.id);
    const method = this.traffic.registered(call.method) ? call.method : '(unregistered)';
    this.traffic.methodSeconds.observe(
      { protocol, method, outcome: kind.reply.error ? 'error' : 'ok' },
      (performance.now() - call.started) / 1000,
    );
  }
}

function byteLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}
