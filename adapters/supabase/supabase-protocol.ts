/**
 * The Supabase Realtime protocol attached to a server: the Phoenix socket endpoint at `path` (default
 * `/realtime/v1/websocket`, where supabase-js connects for a project URL), the sockets, and what their channels
 * share (authorization, the token verifier, postgres_changes, the channel features).
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Connection, ConnectionHandler } from '../../core/connection.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import type { Queryable } from '../../core/database/database.js';
import type { Logger } from '../../core/logger.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { ConnectionGuard } from '../../transports/connection-guard.js';
import type { HttpHost, UpgradeEndpoint } from '../../transports/http-host.js';
import { WebSocketEndpoint } from '../../transports/websocket-endpoint.js';
import { WriteCoalescer } from '../../transports/write-coalescer.js';
import type { Endpoint, EndpointBase, ProtocolHandle } from '../protocol-adapter.js';
import { qualifiedName, type SupabaseAccess, tableRules } from './access.js';
import { BroadcastFeature } from './broadcast-feature.js';
import type { ChannelServices } from './channel.js';
import type { ChannelFeature } from './channel-feature.js';
import type { TokenVerifier } from './identity.js';
import { PostgresChanges } from './postgres-changes.js';
import type { Vsn } from './serializer.js';
import { SupabaseSocket } from './supabase-socket.js';
import { TableCatalog } from './table-catalog.js';

/** Options of the Supabase Realtime adapter. */
export interface SupabaseOptions {
  /** WebSocket path (default `/realtime/v1/websocket`). */
  readonly path?: string;
  /** Which tables clients may receive changes of, and per-user rules (closed by default: access.ts). */
  readonly access?: SupabaseAccess;
  /** HS256 secret of the JWTs clients send (`sub` = user id); absent: JWTs are refused. */
  readonly jwtSecret?: string;
  /** Larger incoming frames close the connection with 1009 (default 1 MiB). */
  readonly maxMessageBytes?: number;
  /** Channels one socket may have joined at once (default 100). */
  readonly maxChannels?: number;
  /** Rows whose JSON is larger are sent with their small values only and an error (default 1 MiB). */
  readonly maxRecordBytes?: number;
  /**
   * The channel features (broadcast, presence); default: the built-in ones (features.ts). `[]`: postgres_changes
   * only.
   */
  readonly features?: readonly ChannelFeature[];
  /** Trusted X-Forwarded-For hops. */
  readonly forwardedCount?: number;
  /**
   * Sockets that send nothing (not even a heartbeat, which realtime-js sends every 25 s) for this many ms are
   * closed, as Phoenix's 60-s socket timeout does (default 60000; 0: never).
   */
  readonly idleTimeoutMs?: number;
  /** Largest client broadcast or tracked presence payload, in bytes of its JSON (default 256 KiB). */
  readonly maxBroadcastBytes?: number;
  /** How often each process refreshes its presence heartbeat and expires dead processes, in ms (default 5000). */
  readonly presenceHeartbeatMs?: number;
  /** A process whose heartbeat is older than this is dead and its presences leave, in ms (default 3 × heartbeat). */
  readonly presenceTtlMs?: number;
  /**
   * Outbound coalescing, as DDP's and WAMP's: a socket's frames are held for a window and written together
   * (several WebSocket messages in one socket write). `0` (default): until the end of the current event-loop turn,
   * no timer delay; `n > 0`: up to n ms; `false`: one socket write per frame.
   */
  readonly coalesceMs?: number | false;
}

/** The protocol on a server. */
export class SupabaseProtocol implements ConnectionHandler, ProtocolHandle {
  readonly #sockets = new Set<SupabaseSocket>();
  readonly #services: ChannelServices;
  readonly changes: PostgresChanges;
  #endpoint: QueryEndpoint | undefined;
  /** Closes idle sockets (one timer for all; made with the first socket). */
  #idleTimer: NodeJS.Timeout | undefined;
  readonly #coalescer: WriteCoalescer | undefined;

  constructor(
    private readonly core: RealtimeCore,
    private readonly options: SupabaseOptions,
    verifier: TokenVerifier,
    features: readonly ChannelFeature[],
    private readonly logger: Logger,
  ) {
    const captured = new Set<string>();
    for (const collection of core.app.collections.values()) captured.add(qualifiedName(collection.table));
    const rules = tableRules(options.access);
    for (const name of rules.keys())
      if (!captured.has(name))
        logger.warn(
          { table: name },
          'supabase: opted-in table is not a registered collection: its changes are not captured',
        );
    const catalog = new TableCatalog(core.db, rules, captured);
    this.changes = new PostgresChanges(
      core,
      catalog,
      { maxRecordBytes: options.maxRecordBytes ?? 1024 * 1024 },
      logger,
    );
    this.#services = { access: options.access, features, changes: this.changes, verifier, logger };
    this.#coalescer = options.coalesceMs === false ? undefined : new WriteCoalescer(options.coalesceMs ?? 0);
    for (const feature of features) feature.attach?.({ core, logger });
  }

  /** Registers the WebSocket endpoint, every connection through `accept`. */
  attach(host: HttpHost, accept: (handler: ConnectionHandler) => ConnectionHandler): void {
    const path = this.#path;
    this.#endpoint = new QueryEndpoint(
      new WebSocketEndpoint(accept(this), {
        matches: (pathname) => pathname === path,
        maxPayload: this.options.maxMessageBytes ?? 1024 * 1024,
        forwardedCount: this.options.forwardedCount ?? 0,
      }),
    );
    host.addEndpoint(this.#endpoint);
  }

  get #path(): string {
    return this.options.path ?? '/realtime/v1/websocket';
  }

  /** Open sockets. */
  get connectionCount(): number {
    return this.#sockets.size;
  }

  handleConnection(connection: Connection): void {
    const query = this.#endpoint?.query;
    const info: ConnectionInfo = {
      id: cryptoRandom.id(),
      protocol: 'supabase',
      clientAddress: connection.remoteAddress,
      httpHeaders: connection.headers,
    };
    const socket = new SupabaseSocket(
      this.core,
      connection,
      info,
      this.#services,
      {
        maxChannels: this.options.maxChannels ?? 100,
        apikey: query?.get('apikey') ?? undefined,
        vsn: vsnOf(query?.get('vsn')),
        coalescer: this.#coalescer,
      },
      this.logger,
    );
    this.#sockets.add(socket);
    connection.onClose(() => this.#sockets.delete(socket));
    this.#watchIdle();
  }

  /** Starts the idle sweep: every half timeout, sockets silent for longer than the timeout are closed (1000). */
  #watchIdle(): void {
    const timeout = this.options.idleTimeoutMs ?? 60_000;
    if (timeout <= 0 || this.#idleTimer) return;
    this.#idleTimer = setInterval(
      () => {
        const before = Date.now() - timeout;
        for (const socket of this.#sockets) if (socket.lastSeen < before) socket.close(1000, 'idle timeout');
      },
      Math.max(10, Math.floor(timeout / 2)),
    );
    this.#idleTimer.unref();
  }

  closeAll(): void {
    clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#coalescer?.flush();
    for (const socket of this.#sockets) socket.close(1001, 'server shutting down');
    this.changes.close();
    for (const feature of this.#services.features) {
      Promise.resolve(feature.close?.()).catch((error: unknown) => {
        this.logger.error({ err: error, feature: feature.name }, 'supabase feature failed to close');
      });
    }
  }

  /** The server-side broadcast (index.ts SupabaseHandle.broadcast): through the broadcast feature. */
  async broadcast(
    topic: string,
    event: string,
    payload: unknown,
    options: { readonly private?: boolean; readonly client?: Queryable } = {},
  ): Promise<void> {
    const feature = this.#services.features.find((f) => f instanceof BroadcastFeature);
    if (!feature) throw new Error('supabase: no broadcast feature is served (features option)');
    await feature.broadcast(topic, event, payload, options);
  }

  endpoints(base: EndpointBase): Endpoint[] {
    return [{ name: 'Supabase Realtime', url: `${base.ws}${this.#path}` }];
  }
}

/** The `vsn` URL parameter when it names a serializer this adapter speaks. */
function vsnOf(value: string | null | undefined): Vsn | undefined {
  return value === '1.0.0' || value === '2.0.0' ? value : undefined;
}

/**
 * The WebSocket endpoint, keeping the upgrade request's query string while its connection is handed over:
 * realtime-js puts `apikey` (the token joins without `access_token` use, as Supabase's socket token) and `vsn` in
 * the URL, and a transport connection carries no URL. The WebSocket server completes an upgrade and hands the
 * connection to the protocol synchronously within `handleUpgrade` (ws without `verifyClient`), so the query read
 * in `handleConnection` is that request's; were it ever not, the socket would simply have no apikey.
 */
class QueryEndpoint implements UpgradeEndpoint {
  /** The query of the upgrade being handled, during `handleUpgrade` only. */
  query: URLSearchParams | undefined;

  constructor(private readonly inner: WebSocketEndpoint) {}

  matches(pathname: string): boolean {
    return this.inner.matches(pathname);
  }

  useGuard(guard: ConnectionGuard): void {
    this.inner.useGuard(guard);
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = request.url ?? '';
    const at = url.indexOf('?');
    this.query = at < 0 ? undefined : new URLSearchParams(url.slice(at + 1));
    try {
      this.inner.handleUpgrade(request, socket, head);
    } finally {
      this.query = undefined;
    }
  }
}
