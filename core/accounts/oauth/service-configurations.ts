/**
 * Login service configuration, as Meteor's `ServiceConfiguration.configurations` (service-configuration package):
 * one configuration per service, stored in PostgreSQL (migrations/0001_oauth_tables.sql), so every process sees
 * the same and an admin tool can change it on a running cluster. The `meteor.loginServiceConfiguration`
 * publication sends each configured service to clients as Meteor does — `{service, clientId, loginStyle, …}` in the collection
 * `meteor_accounts_loginServiceConfiguration`, without `secret` — and keeps it live: a change made by any process
 * (or by SQL on `pgrt.login_service_configurations`) reaches subscribed clients through the change bus.
 */
import type { BusEvent } from '../../bus/change-bus.js';
import type { Fields, PublicationContext } from '../../contexts.js';
import type { Database, Queryable } from '../../database/database.js';
import { ConfigurationError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { isServiceName, type LoginServiceConfiguration } from './service.js';

/** The collection Meteor's client reads service configurations from. */
export const SERVICE_CONFIGURATION_COLLECTION = 'meteor_accounts_loginServiceConfiguration';
/** The table behind it, as the change bus names it. */
export const SERVICE_CONFIGURATION_TABLE = 'pgrt.login_service_configurations';

/** One subscription of the publication: what its client holds. */
interface Subscriber {
  readonly ctx: PublicationContext;
  /** Documents sent, by service, as sent. */
  readonly sent: Map<string, Fields>;
  /** The refresh whose rows were applied last (an older query finishing later is ignored). */
  applied: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Stores, reads and publishes login service configurations. */
export class ServiceConfigurations {
  readonly #db: () => Database;
  readonly #subscribers = new Set<Subscriber>();
  #refreshes = 0;
  #logger: Logger | undefined;

  constructor(db: () => Database) {
    this.#db = db;
  }

  /**
   * Sets fields of a service's configuration, creating it if missing (Meteor's
   * `configurations.upsertAsync({service}, {$set: config})`): given fields replace stored ones, others stay;
   * `secret` goes to its own table. Runs in `db` when given (a method's `ctx`), else in its own transaction.
   */
  async configure(
    service: string,
    config: Omit<LoginServiceConfiguration, 'service'>,
    db?: Queryable,
  ): Promise<void> {
    if (!isServiceName(service))
      throw new ConfigurationError(`login service name '${service}' must be letters, digits, - or _`);
    const { secret, ...rest } = config as Record<string, unknown>;
    if ('service' in rest) throw new ConfigurationError('a configuration names its service once');
    if (secret !== undefined && typeof secret !== 'string')
      throw new ConfigurationError(`the ${service} secret must be a string`);
    const write = async (q: Queryable): Promise<void> => {
      await q.query(
        `INSERT INTO pgrt.login_service_configurations (service, config) VALUES ($1, $2)
         ON CONFLICT (service) DO UPDATE SET config = pgrt.login_service_configurations.config || EXCLUDED.config`,
        [service, JSON.stringify(rest)],
      );
      if (secret !== undefined)
        await q.query(
          `INSERT INTO pgrt.login_service_secrets (service, secret) VALUES ($1, $2)
           ON CONFLICT (service) DO UPDATE SET secret = EXCLUDED.secret`,
          [service, secret],
        );
    };
    if (db) await write(db);
    else await this.#db().transaction(write);
  }

  /** Removes a service's configuration (and secret); its logins then fail as "Service not configured". */
  async remove(service: string, db?: Queryable): Promise<boolean> {
    const removed = await (db ?? this.#db()).query(
      'DELETE FROM pgrt.login_service_configurations WHERE service = $1',
      [service],
    );
    return (removed.rowCount ?? 0) > 0;
  }

  /** A service's whole configuration, secret included (server-side use only), or undefined. */
  async get(service: string, db?: Queryable): Promise<LoginServiceConfiguration | undefined> {
    const found = await (db ?? this.#db()).query<{ config: unknown; secret: string | null }>(
      `SELECT c.config, s.secret FROM pgrt.login_service_configurations c
         LEFT JOIN pgrt.login_service_secrets s ON s.service = c.service
        WHERE c.service = $1`,
      [service],
    );
    const row = found.rows[0];
    if (!row) return undefined;
    return {
      ...(isRecord(row.config) ? row.config : {}),
      service,
      ...(row.secret === null ? {} : { secret: row.secret }),
    };
  }

  // ---- the publication -----------------------------------------------------------------------------------

  /** Starts following the bus (the plug-in's start hook); returns the stop. */
  watch(subscribe: (handler: (event: BusEvent) => void) => () => void, logger: Logger): () => void {
    this.#logger = logger;
    const unsubscribe = subscribe((event) => {
      if (
        event.kind === 'resync' ||
        ((event.kind === 'change' || event.kind === 'truncate') &&
          event.table === SERVICE_CONFIGURATION_TABLE)
      )
        this.#refresh([...this.#subscribers]);
    });
    return () => {
      unsubscribe();
      this.#subscribers.clear();
    };
  }

  /** The `meteor.loginServiceConfiguration` handler: every configured service without its secret, live. */
  publish(ctx: PublicationContext): undefined {
    const subscriber: Subscriber = { ctx, sent: new Map(), applied: 0 };
    this.#subscribers.add(subscriber);
    ctx.onStop(() => {
      this.#subscribers.delete(subscriber);
    });
    this.#refresh([subscriber], () => ctx.ready());
    return undefined;
  }

  /** Re-reads every configuration and sends each subscriber the differences. */
  #refresh(subscribers: readonly Subscriber[], then?: () => void): void {
    if (subscribers.length === 0) return;
    const refresh = ++this.#refreshes;
    this.#db()
      .query<{ service: string; config: unknown }>(
        'SELECT service, config FROM pgrt.login_service_configurations ORDER BY service',
      )
      .then((result) => {
        const docs = new Map<string, Fields>();
        for (const row of result.rows)
          docs.set(row.service, { ...(isRecord(row.config) ? row.config : {}), service: row.service });
        for (const subscriber of subscribers) {
          if (!this.#subscribers.has(subscriber) || subscriber.applied > refresh) continue;
          subscriber.applied = refresh;
          applyDifferences(subscriber, docs);
        }
        then?.();
      })
      .catch((error: unknown) => {
        this.#logger?.error({ err: error }, 'oauth: reading the login service configurations failed');
        // A starting subscription fails (nosub with the error); live ones keep what they have until the next event.
        if (then) for (const subscriber of subscribers) subscriber.ctx.error(error);
      });
  }
}

/** Sends `added`/`changed`/`removed` so that the subscriber's client holds exactly `docs`. */
function applyDifferences(subscriber: Subscriber, docs: ReadonlyMap<string, Fields>): void {
  const { ctx, sent } = subscriber;
  for (const id of sent.keys()) {
    if (docs.has(id)) continue;
    sent.delete(id);
    ctx.removed(SERVICE_CONFIGURATION_COLLECTION, id);
  }
  for (const [id, fields] of docs) {
    const previous = sent.get(id);
    sent.set(id, fields);
    if (!previous) {
      ctx.added(SERVICE_CONFIGURATION_COLLECTION, id, fields);
      continue;
    }
    const changed: Fields = {};
    let any = false;
    for (const key of new Set([...Object.keys(previous), ...Object.keys(fields)])) {
      if (JSON.stringify(previous[key]) === JSON.stringify(fields[key])) continue;
      changed[key] = fields[key];
      any = true;
    }
    if (any) ctx.changed(SERVICE_CONFIGURATION_COLLECTION, id, changed);
  }
}
