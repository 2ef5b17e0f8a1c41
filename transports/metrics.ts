/**
 * Prometheus metrics of a pgrt process (prom-client), served at `/metrics` when the server is created with
 * `metrics: true`. Off by default.
 *
 * Nothing here reaches into the core or the adapters: gauges are read from state the core exposes when Prometheus
 * scrapes (sessions, subscriptions, observers, bus state), bus events are counted through `ChangeBus.subscribe`,
 * and wire traffic is counted by a {@link Connection} decorator the composition root puts between a transport and
 * its protocol adapter ({@link ServerMetrics.instrument}). The decorator also logs each connection's open and close
 * (debug) with its counts and duration, so it is applied whenever a logger is configured, with or without metrics.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import promClient from 'prom-client';
import type { Connection, ConnectionListener } from '../core/connection.js';
import type { Logger } from '../core/logger.js';
import type { RealtimeCore } from '../core/realtime-core.js';
import { type Classifier, unclassified } from './frame-classifier.js';
import type { RequestHandler } from './http-host.js';
import { SockJsConnection } from './sockjs-endpoint.js';

/** Path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';

/** Method latency buckets in seconds (1 ms … 10 s). */
const METHOD_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How long a scrape waits for its bus round-trip probe. */
const PROBE_TIMEOUT_MS = 2000;

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /** Registry to use (default: a new one, so several servers in a process do not collide). */
  readonly registry?: promClient.Registry;
  /** Also collect prom-client's default process and Node.js metrics (default true). */
  readonly processMetrics?: boolean;
}

/** The `transport` label of a connection: `websocket`, `rawsocket`, or `sockjs/<sockjs transport>`. */
export function transportOf(connection: Connection): string {
  if (connection.transportKind !== undefined) return connection.transportKind;
  return connection instanceof SockJsConnection ? `sockjs/${connection.transport}` : 'websocket';
}

/** The metric families of one server and the hooks that feed them. */
export class ServerMetrics {
  readonly registry: promClient.Registry;
  readonly #connections: promClient.Gauge<'protocol' | 'transport'>;
  readonly #connectionsOpened: promClient.Counter<'protocol' | 'transport'>;
  readonly #received: promClient.Counter<'protocol' | 'type'>;
  readonly #sent: promClient.Counter<'protocol' | 'type'>;
  readonly #bytesReceived: promClient.Counter<'protocol'>;
  readonly #bytesSent: promClient.Counter<'protocol'>;
  readonly #methodSeconds: promClient.Histogram<'protocol' | 'method' | 'outcome'>;
  readonly #resumeAttempts: promClient.Counter<'protocol'>;
  readonly #busEvents: promClient.Counter<'kind'>;
  readonly #slowConsumerCloses: promClient.Counter<'protocol'>;
  #core: RealtimeCore | undefined;
  #unsubscribe: (() => void) | undefined;
  #nextConnection = 0;
  readonly #probes = new Map<string, () => void>();
  /** The counters every {@link CountedConnection} of this instance feeds: one object for all of them. */
  readonly #traffic: Traffic;

  constructor(options: ServerMetricsOptions = {}) {
    this.registry = options.registry ?? new promClient.Registry();
    const registers = [this.registry];
    if (options.processMetrics ?? true) promClient.collectDefaultMetrics({ register: this.registry });
    this.#connections = new promClient.Gauge({
      name: 'pgrt_connections',
      help: 'Open client connections.',
      labelNames: ['protocol', 'transport'],
      registers,
    });
    this.#connectionsOpened = new promClient.Counter({
      name: 'pgrt_connections_opened_total',
      help: 'Client connections accepted.',
      labelNames: ['protocol', 'transport'],
      registers,
    });
    this.#received = new promClient.Counter({
      name: 'pgrt_messages_received_total',
      help: 'Protocol messages received from clients, by message type.',
      labelNames: ['protocol', 'type'],
      registers,
    });
    this.#sent = new promClient.Counter({
      name: 'pgrt_messages_sent_total',
      help: 'Protocol messages sent to clients, by message type.',
      labelNames: ['protocol', 'type'],
      registers,
    });
    this.#bytesReceived = new promClient.Counter({
      name: 'pgrt_message_bytes_received_total',
      help: 'Bytes of protocol messages received (after transport framing).',
      labelNames: ['protocol'],
      registers,
    });
    this.#bytesSent = new promClient.Counter({
      name: 'pgrt_message_bytes_sent_total',
      help: 'Bytes of protocol messages sent (before transport framing and compression).',
      labelNames: ['protocol'],
      registers,
    });
    this.#methodSeconds = new promClient.Histogram({
      name: 'pgrt_method_duration_seconds',
      help: "Time from a method call arriving to its result leaving (each protocol's call and reply messages).",
      labelNames: ['protocol', 'method', 'outcome'],
      buckets: METHOD_BUCKETS,
      registers,
    });
    this.#resumeAttempts = new promClient.Counter({
      name: 'pgrt_session_resume_attempts_total',
      help: 'Requests to resume an earlier session (protocols with session resumption, e.g. DDP).',
      labelNames: ['protocol'],
      registers,
    });
    this.#busEvents = new promClient.Counter({
      name: 'pgrt_bus_events_total',
      help: 'Change-bus events delivered to this process, by kind (change, truncate, fence, resync).',
      labelNames: ['kind'],
      registers,
    });
    this.#slowConsumerCloses = new promClient.Counter({
      name: 'pgrt_slow_consumer_closes_total',
      help: 'Connections closed because their client could not keep up (not enforced yet: always 0).',
      labelNames: ['protocol'],
      registers,
    });
    const self = this;
    new promClient.Gauge({
      name: 'pgrt_sessions',
      help: 'Open sessions, by protocol.',
      labelNames: ['protocol'],
      registers,
      collect() {
        this.reset();
        for (const session of self.#core?.sessions ?? []) this.inc({ protocol: session.connection.protocol });
      },
    });
    new promClient.Gauge({
      name: 'pgrt_subscriptions',
      help: 'Active subscriptions across sessions.',
      registers,
      collect() {
        let count = 0;
        for (const session of self.#core?.sessions ?? []) count += session.subscriptionCount;
        this.set(count);
      },
    });
    new promClient.Gauge({
      name: 'pgrt_observers',
      help: 'Live observers (identical queries share one).',
      registers,
      collect() {
        this.set(self.#observerCount());
      },
    });
    new promClient.Gauge({
      name: 'pgrt_bus_connected',
      help: '1 while the LISTEN connection is up.',
      registers,
      collect() {
        this.set(self.#core?.bus.connected ? 1 : 0);
      },
    });
    new promClient.Gauge({
      name: 'pgrt_bus_roundtrip_seconds',
      help: 'NOTIFY to delivery through the bus, measured at scrape time with a probe fence (NaN: timed out).',
      registers,
      async collect() {
        this.set(await self.#probe());
      },
    });
    new promClient.Gauge({
      name: 'pgrt_spilled_payloads_total',
      help: 'Change payloads spilled to pgrt.spill since the schema was created (whole database, every process).',
      registers,
      async collect() {
        this.set(await self.#spilled());
      },
    });
    this.#traffic = {
      connections: this.#connections,
      received: this.#received,
      sent: this.#sent,
      bytesReceived: this.#bytesReceived,
      bytesSent: this.#bytesSent,
      methodSeconds: this.#methodSeconds,
      resumeAttempts: this.#resumeAttempts,
      registered: (method) => this.#core?.app.methods.has(method) === true,
    };
  }

  /** Starts reading `core` (call once, before `core.start()` so no bus event is missed). */
  observe(core: RealtimeCore): void {
    this.#core = core;
    this.#unsubscribe = core.bus.subscribe((event) => {
      this.#busEvents.inc({ kind: event.kind });
      if (event.kind === 'fence') this.#probes.get(event.id)?.();
    });
  }

  /** Makes every per-protocol counter visible at 0 for the protocols a server attached (before any traffic). */
  protocolsAttached(protocols: readonly string[]): void {
    for (const protocol of protocols) this.#slowConsumerCloses.inc({ protocol }, 0);
  }

  /** Stops reading the core (server close). Metric values stay readable. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const release of this.#probes.values()) release();
  }

  /** The `/metrics` request handler for the HTTP host. */
  readonly handler: RequestHandler = (request: IncomingMessage, response: ServerResponse, pathname) => {
    if (pathname !== METRICS_PATH) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    this.registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        response.end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
    return true;
  };

  /**
   * Wraps a connection so its traffic is counted (when `withMetrics`) and its open/close are logged at debug on a
   * child logger carrying `conn`, `protocol`, `transport` and `remote`. The adapter sees an identical connection.
   * `classifier` is the protocol's (its message types and call ids); without one every frame counts as `other`.
   */
  instrument(
    connection: Connection,
    protocol: string,
    logger: Logger,
    withMetrics = true,
    classifier: ((subprotocol: string) => Classifier) | undefined = undefined,
  ): Connection {
    const transport = transportOf(connection);
    // No child logger and no per-connection state unless metrics need it: idle connections must stay small.
    const fields = { conn: ++this.#nextConnection, protocol, transport, remote: connection.remoteAddress };
    const started = performance.now();
    logger.debug(fields, 'connection opened');
    if (!withMetrics) {
      logClose(connection, logger, fields, started);
      return connection;
    }
    this.#connections.inc({ protocol, transport });
    this.#connectionsOpened.inc({ protocol, transport });
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

  #observerCount(): number {
    try {
      return this.#core?.pool.size ?? 0;
    } catch {
      return 0; // not started yet
    }
  }

  /** Sends a fence nobody waits for and resolves to the seconds until the bus delivered it (NaN on timeout). */
  async #probe(): Promise<number> {
    const core = this.#core;
    if (!core?.bus.connected || !this.#unsubscribe) return Number.NaN;
    const id = `metrics-probe-${randomUUID()}`;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      this.#probes.set(id, () => resolve(true));
      timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
    });
    try {
      await core.db.query('SELECT pg_notify($1, $2)', [core.channel, JSON.stringify({ f: id })]);
      return (await arrived) ? (performance.now() - started) / 1000 : Number.NaN;
    } catch {
      return Number.NaN;
    } finally {
      clearTimeout(timer);
      this.#probes.delete(id);
    }
  }

  async #spilled(): Promise<number> {
    const core = this.#core;
    if (!core) return 0;
    try {
      const result = await core.db.query<{ n: string }>(
        'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM pgrt.spill_id_seq',
      );
      return Number(result.rows[0]?.n ?? 0);
    } catch {
      return Number.NaN;
    }
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

/** What a {@link CountedConnection} feeds: the counter families of its {@link ServerMetrics}. */
interface Traffic {
  readonly connections: promClient.Gauge<'protocol' | 'transport'>;
  readonly received: promClient.Counter<'protocol' | 'type'>;
  readonly sent: promClient.Counter<'protocol' | 'type'>;
  readonly bytesReceived: promClient.Counter<'protocol'>;
  readonly bytesSent: promClient.Counter<'protocol'>;
  readonly methodSeconds: promClient.Histogram<'protocol' | 'method' | 'outcome'>;
  readonly resumeAttempts: promClient.Counter<'protocol'>;
  /** True for a method the app registers (others are timed as `(unregistered)`: labels stay bounded). */
  registered(method: string): boolean;
}

/**
 * The metrics decorator of one connection ({@link ServerMetrics.instrument}): counts what passes, times method
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
