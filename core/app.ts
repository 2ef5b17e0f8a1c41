/**
 * The registration API an application is written against: collections (a name bound to a table), publications
 * and methods. Nothing is published or callable unless it is registered here (DESIGN.md decision 8).
 *
 * Publications and methods are plain async functions of a context and typed parameters; no callbacks:
 *
 * ```ts
 * const app = new App()
 *   .collection('presentations')
 *   .publish('presentations', (ctx) => ctx.find('presentations', {}, { sort: { title: 1 } }))
 *   .method('presentations.add', { params: [z.object({ title: z.string() })] }, async (ctx, { title }) => {
 *     const id = ctx.newId('presentations');
 *     await ctx.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [id, title]);
 *     return id;
 *   });
 * ```
 */

import type { ChangeBus } from './bus/change-bus.js';
import type { CollectionRules, WriteRules } from './collection-rules.js';
import type { ConnectionInfo, MethodContext, PublicationContext } from './contexts.js';
import type { Cursor } from './cursor.js';
import type { Database } from './database/database.js';
import { type Migration, type MigrationSet, migrationSet } from './database/migrations.js';
import { ConfigurationError } from './errors.js';
import { type Guard, guardOf, type RoleResolver } from './guards.js';
import type { HttpRoute } from './http-route.js';
import type { Logger } from './logger.js';
import type { PublicationStrategy } from './merge-box.js';
import { mutationMethods } from './mutation-methods.js';
import type { InferParams, StandardSchema } from './schema-validation.js';
import type { Session } from './session.js';

/** Options of {@link App.collection}. */
export interface CollectionOptions {
  /** Table (optionally `schema.table`) holding the documents; default: the collection name. */
  readonly table?: string;
  /** How sessions merge this collection's documents (Meteor's publication strategies). Default SERVER_MERGE. */
  readonly strategy?: PublicationStrategy;
  /**
   * Writes clients may make directly (Meteor's `Collection.allow`). Giving `allow` or `deny` opens Meteor's
   * mutation methods `/<name>/insert|update|remove` and their `…Async` forms under these rules
   * (core/collection-rules.ts, core/mutation-methods.ts); without either, those methods do not exist.
   */
  readonly allow?: WriteRules;
  /** Writes clients may not make, whatever `allow` says (Meteor's `Collection.deny`). */
  readonly deny?: WriteRules;
}

/** A registered collection. */
export interface CollectionDefinition {
  readonly name: string;
  readonly table: string;
  readonly strategy: PublicationStrategy;
  /** Allow/deny rules; undefined when clients may not write directly (no mutation methods). */
  readonly rules: CollectionRules | undefined;
}

/** What a publication handler may return: cursors to publish, or nothing when it uses the low-level API. */
export type PublishResult = Cursor | readonly Cursor[] | undefined;

/** A publication handler: `(ctx, ...params)`. */
export type PublicationHandler<A extends readonly unknown[] = unknown[]> = (
  ctx: PublicationContext,
  ...params: A
) => PublishResult | Promise<PublishResult>;

/** A method handler: `(ctx, ...params)`; its return value is the method's result (EJSON). */
export type MethodHandler<A extends readonly unknown[] = unknown[], R = unknown> = (
  ctx: MethodContext,
  ...params: A
) => R | Promise<R>;

/**
 * What a start hook may use of the running core besides the database (core/realtime-core.ts implements it). The
 * bus is not listening yet when hooks run; subscribing then misses nothing.
 */
export interface PluginHost {
  /** Every committed change of the captured tables, on every process sharing the database. */
  readonly bus: ChangeBus;
  /** This process's open sessions (live: sessions join and leave it). */
  readonly sessions: ReadonlySet<Session>;
  readonly logger: Logger;
  /**
   * False when the core runs with `rateLimits: false` ("no limits at all"): plug-ins turn their own limits off too
   * (the accounts plug-in's failed-login limits).
   */
  readonly rateLimited: boolean;
}

/**
 * Runs when the core starts, after the migrations ran and before collections are introspected: plug-ins start their
 * background work here (their tables belong in {@link App.migrations}, which run before, under the start-up lock).
 * Must be idempotent: every process runs it at every start. It may resolve to a stop function, which the core calls
 * when it closes (before the bus stops).
 */
export type StartHook = (db: Database, host: PluginHost) => Promise<void | (() => Promise<void> | void)>;

/**
 * How a logged-in session moves to another process (the DDP session hand-off, adapters/ddp/handoff.ts) and stays
 * logged in only while its login is valid; the accounts plug-in provides it ({@link App.sessionLogins}).
 */
export interface SessionLogins {
  /** The hash of the login token `connection` is logged in with (as stored in the database), if any. */
  tokenHash(connection: ConnectionInfo): string | undefined;
  /**
   * True if `userId` is still logged in by the token with hash `tokenHash` (it exists, is the user's and has not
   * expired); then `connection` is recorded as logged in with it (so its revocation logs the connection out).
   */
  adopt(connection: ConnectionInfo, userId: string, tokenHash: string): Promise<boolean>;
}

/** Something that registers itself on an app (e.g. `accounts()`), applied by {@link App.use}. */
export interface AppPlugin {
  install(app: App): void;
}

/** Options of {@link App.publish}. */
export interface PublicationOptions<P extends readonly StandardSchema[] = readonly StandardSchema[]>
  extends Guard {
  /** One schema per positional parameter; failures stop the subscription with a `validation-error`. */
  readonly params?: P;
}

/**
 * Options of {@link App.method}. `loginRequired`/`roles` (core/guards.ts) are checked before parameters are
 * validated, so an anonymous caller learns nothing about a guarded method's parameters.
 */
export interface MethodOptions<P extends readonly StandardSchema[] = readonly StandardSchema[]>
  extends Guard {
  /** One schema per positional parameter; failures become a `validation-error` result naming the field. */
  readonly params?: P;
  /**
   * Run the handler inside one database transaction (default true): its writes commit together, or not at all
   * when it throws. With false, `ctx.query` autocommits each statement.
   */
  readonly transaction?: boolean;
}

/** A registered publication. `name` is null for universal publications (started on connect, no `ready`). */
export interface PublicationDefinition {
  readonly name: string | null;
  readonly handler: PublicationHandler;
  readonly params: readonly StandardSchema[] | undefined;
  /** Who may subscribe (undefined: anyone). */
  readonly guard?: Guard | undefined;
}

/** A registered method. */
export interface MethodDefinition {
  readonly name: string;
  readonly handler: MethodHandler;
  readonly params: readonly StandardSchema[] | undefined;
  readonly transaction: boolean;
  /** Who may call (undefined: anyone). */
  readonly guard?: Guard | undefined;
}

/** The application's registry. Build it once at start-up and hand it to the server. */
export class App {
  readonly #collections = new Map<string, CollectionDefinition>();
  readonly #publications = new Map<string, PublicationDefinition>();
  readonly #universal: PublicationDefinition[] = [];
  readonly #methods = new Map<string, MethodDefinition>();
  readonly #startHooks: StartHook[] = [];
  readonly #migrationSets: MigrationSet[] = [];
  readonly #plugins = new Set<AppPlugin>();
  readonly #routes: HttpRoute[] = [];
  #roleResolver: RoleResolver | undefined;
  #sessionLogins: SessionLogins | undefined;

  /** Applies a plug-in once (a second `use` of the same plug-in does nothing). */
  use(plugin: AppPlugin): this {
    if (this.#plugins.has(plugin)) return this;
    this.#plugins.add(plugin);
    plugin.install(this);
    return this;
  }

  /** True when `plugin` was applied with {@link use}. */
  uses(plugin: AppPlugin): boolean {
    return this.#plugins.has(plugin);
  }

  /** Adds a {@link StartHook}; hooks run in registration order. */
  onStart(hook: StartHook): this {
    this.#startHooks.push(hook);
    return this;
  }

  /**
   * Registers a set of versioned schema migrations, applied in order at every start (and by `pgrt migrate`) under
   * pgrt's start-up advisory lock, after pgrt's own and before collections are introspected: `source` is a folder of
   * `<version>_<name>.sql` files (a path, or `new URL('./migrations/', import.meta.url)`) or a list of
   * {@link Migration}s. `name` keys the versions recorded in `pgrt.migrations`: an app uses one name for good
   * (e.g. `app`), a plug-in its own (`pgrt.accounts`). Sets run in registration order. See docs/reference.md
   * "Migrations".
   */
  migrations(name: string, source: readonly Migration[] | string | URL): this {
    if (this.#migrationSets.some((set) => set.name === name))
      throw new ConfigurationError(`migration set '${name}' is already registered`);
    this.#migrationSets.push(migrationSet(name, source));
    return this;
  }

  /** Sets where guards read a user's roles (one resolver per app; the accounts plug-in sets it). */
  roles(resolver: RoleResolver): this {
    if (this.#roleResolver) throw new ConfigurationError('a role resolver is already set');
    this.#roleResolver = resolver;
    return this;
  }

  /** Sets how sessions keep their login when handed off to another process (the accounts plug-in sets it). */
  sessionLogins(logins: SessionLogins): this {
    if (this.#sessionLogins) throw new ConfigurationError('session logins are already set');
    this.#sessionLogins = logins;
    return this;
  }

  /** The {@link SessionLogins}, if a plug-in set them. */
  get sessionLoginsProvider(): SessionLogins | undefined {
    return this.#sessionLogins;
  }

  /**
   * Adds a plain HTTP route served beside the protocols (core/http-route.ts), e.g. the OAuth redirect endpoint.
   * Routes are tried in registration order, after the protocols' own paths; two routes may not share a prefix.
   */
  route(route: HttpRoute): this {
    if (!route.prefix.startsWith('/') || route.prefix.endsWith('/'))
      throw new ConfigurationError(`route prefix '${route.prefix}' must start and not end with '/'`);
    if (this.#routes.some((r) => r.prefix === route.prefix))
      throw new ConfigurationError(`a route for '${route.prefix}' is already registered`);
    this.#routes.push(route);
    return this;
  }

  /** Registers collection `name`, bound to a table with a single-column primary key. */
  collection(name: string, options: CollectionOptions = {}): this {
    if (!name || typeof name !== 'string')
      throw new ConfigurationError('collection name must be a non-empty string');
    if (this.#collections.has(name))
      throw new ConfigurationError(`collection '${name}' is already registered`);
    const rules =
      options.allow || options.deny
        ? {
            ...(options.allow ? { allow: options.allow } : {}),
            ...(options.deny ? { deny: options.deny } : {}),
          }
        : undefined;
    if (rules) {
      for (const definition of mutationMethods(name, rules)) {
        if (this.#methods.has(definition.name))
          throw new ConfigurationError(`method '${definition.name}' is already registered`);
        this.#methods.set(definition.name, definition);
      }
    }
    this.#collections.set(name, {
      name,
      table: options.table ?? name,
      strategy: options.strategy ?? 'SERVER_MERGE',
      rules,
    });
    return this;
  }

  /** Registers a publication (`name` null: universal, started for every session). */
  publish(name: string | null, handler: PublicationHandler): this;
  publish<const P extends readonly StandardSchema[]>(
    name: string | null,
    options: PublicationOptions<P>,
    handler: PublicationHandler<InferParams<P>>,
  ): this;
  publish(
    name: string | null,
    a: PublicationHandler | PublicationOptions,
    b?: PublicationHandler<never>,
  ): this {
    const [options, handler] = typeof a === 'function' ? [{}, a] : [a, b as unknown as PublicationHandler];
    if (typeof handler !== 'function') throw new ConfigurationError(`publication '${name}' needs a handler`);
    const definition: PublicationDefinition = {
      name,
      handler,
      params: options.params,
      guard: guardOf(options),
    };
    if (name === null) {
      this.#universal.push(definition);
      return this;
    }
    if (this.#publications.has(name))
      throw new ConfigurationError(`publication '${name}' is already registered`);
    this.#publications.set(name, definition);
    return this;
  }

  /** Registers a method callable by every protocol under `name`. */
  method(name: string, handler: MethodHandler): this;
  method<const P extends readonly StandardSchema[]>(
    name: string,
    options: MethodOptions<P>,
    handler: MethodHandler<InferParams<P>>,
  ): this;
  method(name: string, a: MethodHandler | MethodOptions, b?: MethodHandler<never>): this {
    const [options, handler] = typeof a === 'function' ? [{}, a] : [a, b as unknown as MethodHandler];
    if (!name || typeof name !== 'string')
      throw new ConfigurationError('method name must be a non-empty string');
    if (typeof handler !== 'function') throw new ConfigurationError(`method '${name}' needs a handler`);
    if (this.#methods.has(name)) throw new ConfigurationError(`method '${name}' is already registered`);
    this.#methods.set(name, {
      name,
      handler,
      params: options.params,
      transaction: options.transaction ?? true,
      guard: guardOf(options),
    });
    return this;
  }

  /** Registered collections by name. */
  get collections(): ReadonlyMap<string, CollectionDefinition> {
    return this.#collections;
  }
  /** Registered named publications by name. */
  get publications(): ReadonlyMap<string, PublicationDefinition> {
    return this.#publications;
  }
  /** Registered universal publications, in registration order. */
  get universalPublications(): readonly PublicationDefinition[] {
    return this.#universal;
  }
  /** Registered methods by name. */
  get methods(): ReadonlyMap<string, MethodDefinition> {
    return this.#methods;
  }
  /** Migration sets, in registration order. */
  get migrationSets(): readonly MigrationSet[] {
    return this.#migrationSets;
  }
  /** Start hooks, in registration order. */
  get startHooks(): readonly StartHook[] {
    return this.#startHooks;
  }
  /** HTTP routes, in registration order. */
  get routes(): readonly HttpRoute[] {
    return this.#routes;
  }
  /** The role resolver guards use, if any. */
  get roleResolver(): RoleResolver | undefined {
    return this.#roleResolver;
  }
}
