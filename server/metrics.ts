/**
 * Prometheus metrics of a pgrt server (prom-client), served at `/metrics` when the server is created with
 * `metrics: true`. Off by default.
 *
 * Server-level figures are read when Prometheus scrapes: sessions by protocol, subscriptions and observers from the
 * core, the bus's state, its round trip and the spilled payloads through core/diagnostics.ts; bus events are counted
 * through `ChangeBus.subscribe`. Connection traffic is counted by transports/connection-metrics.ts, fed by a
 * decorator the server puts between each transport and its protocol adapter, with the protocol's classifier.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import promClient from 'prom-client';
import type { Connection } from '../core/connection.js';
import { busRoundTripSeconds, spilledPayloadCount } from '../core/diagnostics.js';
import type { Logger } from '../core/logger.js';
import type { RealtimeCore } from '../core/realtime-core.js';
import { ConnectionMetrics } from '../transports/connection-metrics.js';
import type { Classifier } from '../transports/frame-classifier.js';
import type { RequestHandler } from '../transports/http-host.js';

/** Path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';

/** How long a scrape waits for its bus round-trip probe. */
const PROBE_TIMEOUT_MS = 2000;

/** Options of {@link ServerMetrics}. */
export interface ServerMetricsOptions {
  /** Registry to use (default: a new one, so several servers in a process do not collide). */
  readonly registry?: promClient.Registry;
  /** Also collect prom-client's default process and Node.js metrics (default true). */
  readonly processMetrics?: boolean;
}

/** The metric families of one server and the hooks that feed them. */
export class ServerMetrics {
  readonly registry: promClient.Registry;
  readonly #busEvents: promClient.Counter<'kind'>;
  readonly #connections: ConnectionMetrics;
  #core: RealtimeCore | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: ServerMetricsOptions = {}) {
    this.registry = options.registry ?? new promClient.Registry();
    const registers = [this.registry];
    if (options.processMetrics ?? true) promClient.collectDefaultMetrics({ register: this.registry });
    this.#connections = new ConnectionMetrics(this.registry, {
      isMethod: (name) => this.#core?.app.methods.has(name) === true,
    });
    this.#busEvents = new promClient.Counter({
      name: 'pgrt_bus_events_total',
      help: 'Change-bus events delivered to this process, by kind (change, truncate, fence, resync).',
      labelNames: ['kind'],
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
        const core = self.#core;
        this.set(core && self.#unsubscribe ? await busRoundTripSeconds(core, PROBE_TIMEOUT_MS) : Number.NaN);
      },
    });
    new promClient.Gauge({
      name: 'pgrt_spilled_payloads_total',
      help: 'Change payloads spilled to pgrt.spill since the schema was created (whole database, every process).',
      registers,
      async collect() {
        const core = self.#core;
        this.set(core ? await spilledPayloadCount(core.db) : 0);
      },
    });
  }

  /** Starts reading `core` (call once, before `core.start()` so no bus event is missed). */
  observe(core: RealtimeCore): void {
    this.#core = core;
    this.#unsubscribe = core.bus.subscribe((event) => {
      this.#busEvents.inc({ kind: event.kind });
    });
  }

  /** Makes every per-protocol counter visible at 0 for the protocols a server attached (before any traffic). */
  protocolsAttached(protocols: readonly string[]): void {
    this.#connections.protocolsAttached(protocols);
  }

  /** Stops reading the core (server close). Metric values stay readable. */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
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
   * Wraps a connection so its traffic is counted (when `withMetrics`) and its open and close are logged at debug
   * (transports/connection-metrics.ts). `classifier` is its protocol's.
   */
  instrument(
    connection: Connection,
    protocol: string,
    logger: Logger,
    withMetrics = true,
    classifier: ((subprotocol: string) => Classifier) | undefined = undefined,
  ): Connection {
    return this.#connections.instrument(connection, protocol, logger, withMetrics, classifier);
  }

  #observerCount(): number {
    try {
      return this.#core?.pool.size ?? 0;
    } catch {
      return 0; // not started yet
    }
  }
}
