/**
 * The transport-neutral core of a pgrt server: the app's registry bound to the database, the change bus feeding
 * the shared observers, write fences, and the sessions adapters open. Nothing here knows which protocol a
 * session speaks.
 *
 * Start-up (`start()`): under the start-up advisory lock, apply pgrt's migrations, the app's and plug-ins' migration
 * sets and the app's `migrate` function; run start hooks; introspect every registered collection's table, install
 * its capture (idempotent), then start the bus. Data flow afterwards: a commit's notifications
 * arrive on the bus in commit order → the pool matches them to observers → observers diff → subscriptions feed
 * their sessions' merge boxes → adapters encode. Fences ride the same stream (see write-fence.ts).
 *
 * Capture mode (`capture`, core/capture/capture-mode.ts, docs/reference.md "Capture modes"): the mode installs each
 * table's capture (triggers, or the logical publication), writes fences, and — for the modes that fill
 * `pgrt.outbox` — gives this process's candidate {@link OutboxPump} its source (one pump per database leads). Every
 * process on a database must use the same mode, and its bus must replay gaps from the outbox when the mode's
 * `outbox` is true (PgNotificationBus `outbox: true`).
 */
import type { App, PluginHost } from './app.js';
import { type BusEvent, type ChangeBus, DEFAULT_CHANGE_CHANNEL } from './bus/change-bus.js';
import { publishMessage } from './bus/messages.js';
import type { CaptureMode, CaptureModeName } from './capture/capture-mode.js';
import { captureMode } from './capture/capture-modes.js';
import { OutboxPump, type OutboxPumpOptions } from './capture/outbox-pump.js';
import type { ConnectionInfo } from './contexts.js';
import type { Database, Queryable } from './database/database.js';
import { DatabaseProbe } from './database/database-probe.js';
import { introspectTable } from './database/introspect.js';
import { ensureSchema, installCapture } from './database/schema.js';
import { ConfigurationError } from './errors.js';
import { CollectionBinding } from './live/collection-binding.js';
import { ObserverPool } from './live/observer-pool.js';
import { type Logger, silentLogger } from './logger.js';
import type { PublicationStrategy } from './merge-box.js';
import { type RateLimiter, type RateLimitOptions, rateLimiterFor } from './rate-limit.js';
import { Session, type SessionOutput } from './session.js';
import { SubscriptionCounter, type SubscriptionLimits } from './subscription-limits.js';
import { WriteFences } from './write-fence.js';

/** Options of {@link RealtimeCore}. */
export interface CoreOptions {
  /** NOTIFY channel shared by every process on the database (default `pgrt_changes`). */
  readonly channel?: string;
  /** Rows whose notification would exceed this many bytes are spilled to `pgrt.spill` (default 7900). */
  readonly spillThresholdBytes?: number;
  /** Releases a write fence whose notification never arrived after this many ms (default 30000). */
  readonly fenceTimeoutMs?: number;
  /**
   * The app's unversioned migration function (an app module's `migrate(db)`): runs at every start after the
   * versioned migrations ({@link App.migrations}), under the same start-up advisory lock, so processes starting
   * together on an empty database run it one after another. Must be idempotent (`CREATE TABLE IF NOT EXISTS`).
   */
  readonly migrate?: (db: Queryable) => Promise<void>;
  /** Install capture triggers at start (default true; false when a migration step does it). */
  readonly installTriggers?: boolean;
  /**
   * `notify` (default): NOTIFY in every writer's commit; `outbox`: triggers append, one pump notifies; `logical`: no
   * triggers, one pump decodes the WAL (needs wal_level=logical) and notifies. A name, or a {@link CaptureMode}.
   */
  readonly capture?: CaptureModeName | CaptureMode;
  /** Outbox mode: rows are kept this many ms after they were notified, for replay (default 600000 = 10 min). */
  readonly outboxRetentionMs?: number;
  /** Outbox mode: whether this process may become the pump (default true), and the pump's tuning. */
  readonly outboxPump?:
    | boolean
    | Omit<OutboxPumpOptions, 'logger' | 'retentionMs' | 'spillThresholdBytes' | 'capture'>;
  /**
   * Rate limits of method calls and subscriptions, every protocol (core/rate-limit.ts; docs/reference.md "Rate
   * limiting"). Default: Meteor's accounts rule and 1000 per 10 s per connection; false: no limits at all.
   */
  readonly rateLimits?: false | RateLimitOptions;
  /** Caps on live subscriptions per connection and per client address (core/subscription-limits.ts). */
  readonly subscriptionLimits?: SubscriptionLimits;
  /** The rate limiter itself (the composition root's, swappable); absent: one made from `rateLimits`. */
  readonly rateLimiter?: RateLimiter;
  /**
   * How often a process whose bus holds no database connection (NATS) checks that PostgreSQL answers, for readiness,
   * in ms (default 1000; core/database/database-probe.ts).
   */
  readonly databaseProbeIntervalMs?: number;
  readonly logger?: Logger;
}

/** The core server. */
export class RealtimeCore implements PluginHost {
  readonly channel: string;
  readonly logger: Logger;
  readonly fences: WriteFences;
  /** The rate limits every session checks (add rules at run time with `addRule`). */
  readonly rateLimiter: RateLimiter;
  /** Live subscriptions per client address, and the caps (core/subscription-limits.ts). */
  readonly subscriptions: SubscriptionCounter;
  /** The name of this core's capture mode. */
  readonly capture: CaptureModeName;
  /** This core's capture mode (triggers or publication, fences, the pump's source). */
  readonly captureMode: CaptureMode;
  #outboxPump: OutboxPump | undefined;
  #pool: ObserverPool | undefined;
  #bindings = new Map<string, CollectionBinding>();
  readonly #sessions = new Set<Session>();
  #unsubscribe: (() => void) | undefined;
  /** What start hooks returned, called at close. */
  readonly #stopHooks: (() => Promise<void> | void)[] = [];
  #started = false;
  /** Readiness of the database when the bus does not follow it (NATS). */
  #probe: DatabaseProbe | undefined;

  constructor(
    readonly app: App,
    readonly db: Database,
    readonly bus: ChangeBus,
    private readonly options: CoreOptions = {},
  ) {
    this.channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    this.logger = options.logger ?? silentLogger;
    this.captureMode = captureMode(options.capture ?? 'notify');
    this.capture = this.captureMode.name;
    this.rateLimiter = options.rateLimiter ?? rateLimiterFor(options.rateLimits);
    this.subscriptions = new SubscriptionCounter(options.subscriptionLimits);
    this.fences = new WriteFences((seq) => this.pool.settled(seq), this.logger, options.fenceTimeoutMs);
  }

  /** False with `rateLimits: false` ({@link PluginHost.rateLimited}). */
  get rateLimited(): boolean {
    return this.options.rateLimits !== false;
  }

  /** The observer pool (available after start). */
  get pool(): ObserverPool {
    if (!this.#pool) throw new ConfigurationError('RealtimeCore.start() has not completed');
    return this.#pool;
  }

  /** This process's candidate outbox pump (outbox mode, after start; undefined if `outboxPump: false`). */
  get outboxPump(): OutboxPump | undefined {
    return this.#outboxPump;
  }

  /** Open sessions. */
  get sessions(): ReadonlySet<Session> {
    return this.#sessions;
  }

  /** True when the bus is listening and the database answers (readiness). */
  get ready(): boolean {
    return this.readiness === true;
  }

  /** True when ready, else why not (`/readyz`'s 503 says it): not started, the bus down, the database unreachable. */
  get readiness(): true | string {
    if (!this.#started) return 'not started';
    if (!this.bus.connected)
      return this.bus.followsDatabase ? 'database unreachable' : 'change bus unreachable';
    const failure = this.#probe?.failure;
    return failure === undefined ? true : `database unreachable: ${failure}`;
  }

  /** Prepares the database, binds collections and starts the bus. */
  async start(): Promise<void> {
    if (this.#started) return;
    // pgrt's schema, then the plug-ins' and the app's migrations, under the start-up lock: their tables exist before
    // collections bound to them are introspected.
    await ensureSchema(this.db, {
      sets: this.app.migrationSets,
      ...(this.options.migrate ? { migrate: this.options.migrate } : {}),
      logger: this.logger,
    });
    for (const hook of this.app.startHooks) {
      const stop = await hook(this.db, this);
      if (stop) this.#stopHooks.push(stop);
    }
    const mode = this.captureMode;
    if (this.options.installTriggers !== false) await mode.check(this.db);
    const bindings = new Map<string, CollectionBinding>();
    for (const definition of this.app.collections.values()) {
      const table = await introspectTable(this.db, definition.table);
      if (this.options.installTriggers !== false) {
        await installCapture(this.db, table, {
          channel: this.channel,
          spillThresholdBytes: this.options.spillThresholdBytes ?? 7900,
          mode,
        });
      }
      bindings.set(definition.name, new CollectionBinding(definition, table));
    }
    // E.g. the logical slot: it must exist before anything is read, or changes committed meanwhile would be missed.
    await mode.prepare(this.db, this.logger);
    this.#bindings = bindings;
    // A bus that filters tables (NATS) consumes those of the live observers, as they come and go.
    const watch = this.bus.watch?.bind(this.bus);
    this.#pool = new ObserverPool(this.db, bindings, () => this.bus.lastSeq, this.logger, watch);
    this.#unsubscribe = this.bus.subscribe((event) => this.#dispatch(event));
    await this.bus.start();
    const pump = this.options.outboxPump ?? true;
    if (mode.outbox && pump !== false) {
      this.#outboxPump = new OutboxPump(this.db, {
        ...(pump === true ? {} : pump),
        capture: mode,
        logger: this.logger,
        ...(this.bus.pumpRelay ? { relay: this.bus.pumpRelay() } : {}),
        spillThresholdBytes: this.options.spillThresholdBytes ?? 7900,
        ...(this.options.outboxRetentionMs === undefined
          ? {}
          : { retentionMs: this.options.outboxRetentionMs }),
      });
      this.#outboxPump.start();
    }
    if (!this.bus.followsDatabase) {
      this.#probe = new DatabaseProbe(this.db, {
        logger: this.logger,
        ...(this.options.databaseProbeIntervalMs === undefined
          ? {}
          : { intervalMs: this.options.databaseProbeIntervalMs }),
      });
      this.#probe.start();
    }
    this.#started = true;
    this.logger.info({ collections: [...bindings.keys()], channel: this.channel }, 'core started');
  }

  /**
   * Opens a session for a connected client; the adapter owns its lifetime (call `session.close()`). `userId`: a
   * user the protocol already authenticated (WAMP ticket/CRA), default anonymous.
   */
  openSession(connection: ConnectionInfo, output: SessionOutput, userId: string | null = null): Session {
    const session = new Session(this, connection, output, userId);
    this.#sessions.add(session);
    return session;
  }

  /** Called by a session when it closes. */
  sessionClosed(session: Session): void {
    this.#sessions.delete(session);
  }

  /** The merge strategy of a collection (unregistered names, used by low-level publications: SERVER_MERGE). */
  strategyFor(collection: string): PublicationStrategy {
    return this.#bindings.get(collection)?.strategy ?? 'SERVER_MERGE';
  }

  /** {@link strategyFor} as one function shared by every session's merge box. */
  readonly strategyResolver = (collection: string): PublicationStrategy => this.strategyFor(collection);

  /**
   * Last statement of a method's transaction: notifies fence `id` if the transaction wrote (outbox mode: appends it
   * after the transaction's changes); returns whether.
   */
  async fenceInTransaction(client: Queryable, id: string): Promise<boolean> {
    return await this.captureMode.fenceInTransaction(client, this.channel, id);
  }

  /**
   * Fence for a method that ran without a transaction: always notified, after its autocommitted writes (outbox
   * mode: appended to the outbox, so it follows them through the pump).
   */
  async fenceAfterAutocommit(id: string): Promise<void> {
    await this.captureMode.emit(this.db, this.channel, JSON.stringify({ f: id }));
  }

  /**
   * Publishes an application message on `topic` to every process on the database, this one included, as a
   * `message` bus event (core/bus/messages.ts). Through `client` (a transaction's) it is delivered on commit;
   * by default through the pool, at once.
   */
  async publish(topic: string, data: unknown, client: Queryable = this.db): Promise<void> {
    await publishMessage(client, topic, data, {
      channel: this.channel,
      spillThresholdBytes: this.options.spillThresholdBytes ?? 7900,
      mode: this.captureMode,
    });
  }

  /** Stops sessions, plug-ins (their start hooks' stop functions), observers and the bus (not the database). */
  async close(): Promise<void> {
    for (const session of [...this.#sessions]) session.close();
    for (const stop of this.#stopHooks.splice(0)) {
      try {
        await stop();
      } catch (error) {
        this.logger.error({ err: error }, 'a plug-in failed to stop');
      }
    }
    this.#unsubscribe?.();
    this.#probe?.close();
    this.#probe = undefined;
    this.fences.close();
    this.#pool?.close();
    await this.#outboxPump?.close();
    await this.bus.close();
    this.#started = false;
  }

  #dispatch(event: BusEvent): void {
    const pool = this.#pool;
    if (!pool) return;
    pool.handle(event);
    if (event.kind === 'fence') this.fences.arrived(event.id, event.seq);
    else if (event.kind === 'resync') this.fences.resync(event.seq);
  }
}
