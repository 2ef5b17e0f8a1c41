/**
 * A client session, whatever its protocol: its user, its subscriptions, its merge box, and the methods it calls.
 * Adapters drive it (`subscribe`, `unsubscribe`, `call`, `close`) and receive its output through a
 * {@link SessionOutput}; errors reach the output raw, and each adapter maps them to its wire (`toWireError`).
 *
 * Ordering contract: data messages produced by a method's writes reach the output before that method's
 * `writesDelivered` (write fence); `methodResult` when the handler has returned and its transaction committed.
 * In-order processing of a session's messages is the adapter's business (DDP needs it, WAMP does not); a
 * method's `unblock()` calls the `onUnblock` the adapter passed.
 *
 * User changes ({@link Session.setUserId}, Meteor's `_setUserId`, reference/ddp.md §1.7): every named and universal
 * subscription is stopped and rerun for the new user while the merge box withholds output (`beginRerun`), then the
 * client gets only the differences between the old and the rebuilt view (`endRerun`), then the `ready`s the reruns
 * produced, once. Changes are serialised per session. Guards (core/guards.ts) run before every handler.
 */
import type { MethodDefinition } from './app.js';
import type { ConnectionInfo, Fields } from './contexts.js';
import type { Queryable } from './database/database.js';
import { type ClientError, isClientError, NotFoundError, type TooManyRequestsError } from './errors.js';
import { checkGuard } from './guards.js';
import type { CollectionBinding } from './live/collection-binding.js';
import type { Logger } from './logger.js';
import { MergeBox, type MergeBoxOptions, type Snapshot } from './merge-box.js';
import { MethodDatabase } from './method-database.js';
import { MethodInvocation } from './method-invocation.js';
import { RandomStream } from './random/random-stream.js';
import type { RealtimeCore } from './realtime-core.js';
import { validateParams } from './schema-validation.js';
import { unstorableParam } from './storable-strings.js';
import { Subscription } from './subscription.js';

/** Outputs encode synchronously and keep nothing; subscriptions never mutate what they publish. */
const MERGE_BOX_OPTIONS: MergeBoxOptions = { reuseInput: true, keepInput: true };
/** Outcome of a method call. */
export type MethodOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/**
 * Where a session's output goes, in the core's own words (implemented by each protocol adapter, which maps each
 * call to its wire: DDP `ready`/`nosub`/`result`/`updated`, WAMP EVENTs on the private topic and RESULT/ERROR).
 * Calls are synchronous and in order; arguments must not be kept or mutated (the merge box may hand the same
 * `fields` object to several sessions).
 */
export interface SessionOutput {
  /** The client gets a document it did not have. */
  added(collection: string, id: string, fields: Fields): void;
  /** A document the client has changed: `fields` set, `cleared` removed. */
  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void;
  /** A document the client has is gone from its view. */
  removed(collection: string, id: string): void;
  /** These subscriptions sent their initial data. */
  subscriptionsReady(subIds: readonly string[]): void;
  /**
   * The subscription ended — the client unsubscribed, the publication stopped, or it failed (`error`, raw: map
   * it with the adapter's toWireError). Also sent for an unknown id the client unsubscribes from.
   */
  subscriptionStopped(subId: string, error?: unknown): void;
  /** The method returned (or threw) and its transaction committed (or rolled back). */
  methodResult(methodId: string, outcome: MethodOutcome): void;
  /**
   * Every change these methods' writes caused has been sent to this session before this call (the write fence
   * passed); immediately after the result for a method that wrote nothing or rolled back.
   */
  writesDelivered(methodIds: readonly string[]): void;
  /**
   * The server ends the client's connection (its login token was revoked: core/accounts): close it after what is
   * queued, and do not keep the session for resumption. Meteor closes such connections; its client reconnects,
   * fails to resume its token and logs out. Adapters without it get their session logged out in place instead.
   */
  closeConnection?(reason: string): void;
}

/** A session's state as another process needs it to take the session over (adapters/ddp/handoff.ts). */
export interface SessionState {
  readonly userId: string | null;
  /** The live named subscriptions. */
  readonly subscriptions: readonly {
    readonly id: string;
    readonly name: string;
    readonly params: readonly unknown[];
  }[];
  /** What the client holds. */
  readonly view: Snapshot;
}

/** Options of {@link Session.call}. */
export interface CallOptions {
  /** DDP `randomSeed`: seeds the method's random streams so ids match the client stub's. */
  readonly randomSeed?: string | undefined;
  /** Called when the handler calls `ctx.unblock()`. */
  readonly onUnblock?: () => void;
}

/**
 * One connected client's state. Its helpers are TypeScript-`private`, not `#` methods: V8 stores a class
 * brand in every instance of a class with `#` methods or accessors (8 bytes per connection; issue 16).
 */
export class Session {
  #mergeBox: MergeBox | undefined;
  // Made on first use, like the merge box and the logger: an idle session holds no empty collections.
  #subs: Map<string, Subscription> | undefined;
  #universal: Subscription[] | undefined;
  /** The core's logger with this session's fields, made on first use. */
  #childLogger: Logger | undefined;
  #userId: string | null;
  #closed = false;
  /** Serialises user changes: the last one requested (undefined before the first). */
  #userChange: Promise<void> | undefined;
  /** `ready`s withheld while a rerun rebuilds the view (sent after its differences). */
  #pendingReady: string[] | undefined;

  constructor(
    readonly core: RealtimeCore,
    readonly connection: ConnectionInfo,
    readonly output: SessionOutput,
    /** The user the session starts with (e.g. from WAMP authentication); default anonymous. */
    userId: string | null = null,
  ) {
    this.#userId = userId;
  }

  /** The session's merge box, made when something is first published to it (idle sessions carry none). */
  get mergeBox(): MergeBox {
    // Outputs encode synchronously and keep nothing, so the merge box may hand them the observers' own objects;
    // and it may keep them, since subscriptions never mutate what they publish.
    this.#mergeBox ??= new MergeBox(this.output, this.core.strategyResolver, MERGE_BOX_OPTIONS);
    return this.#mergeBox;
  }

  /** The session's logger, made on first use: idle sessions carry no logger of their own. */
  private get logger(): Logger {
    this.#childLogger ??= this.core.logger.child({
      session: this.connection.id,
      protocol: this.connection.protocol,
      ...(this.#userId === null ? {} : { user: this.#userId }),
    });
    return this.#childLogger;
  }

  /** The logged-in user's id, or null. */
  get userId(): string | null {
    return this.#userId;
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Number of live named subscriptions. */
  get subscriptionCount(): number {
    return this.#subs?.size ?? 0;
  }

  /**
   * Switches the session to `userId` (null: logged out) and reruns every subscription, sending only the
   * differences and then each rerun subscription's `ready` once. Resolves when the client has been sent the new
   * view; a no-op when the user does not change. Changes queue behind each other.
   */
  setUserId(userId: string | null): Promise<void> {
    const change = (this.#userChange ?? Promise.resolve()).then(() => this.rerun(userId));
    this.#userChange = change.catch(() => {});
    return change;
  }

  private async rerun(userId: string | null): Promise<void> {
    if (this.#closed || userId === this.#userId) return;
    this.#userId = userId;
    this.#childLogger = undefined; // later lines carry the new user
    const subs = this.#subs;
    const universal = this.#universal;
    if (!subs?.size && !universal?.length) return;
    const before = this.mergeBox.beginRerun();
    this.#pendingReady = [];
    const reruns: Subscription[] = [];
    try {
      if (subs) {
        for (const [subId, sub] of subs) {
          const next = sub.recreate();
          sub.retire();
          subs.set(subId, next);
          reruns.push(next);
        }
      }
      if (universal) {
        for (let i = 0; i < universal.length; i++) {
          const sub = universal[i] as Subscription;
          const next = sub.recreate();
          sub.retire();
          universal[i] = next;
          reruns.push(next);
        }
      }
      // run() does not reject: a failing publication stops with its error, as on first run.
      await Promise.all(reruns.map((sub) => sub.run()));
    } finally {
      const ready = this.#pendingReady;
      this.#pendingReady = undefined;
      if (!this.#closed) {
        this.mergeBox.endRerun(before);
        const live = ready.filter((subId) => this.#subs?.has(subId) === true);
        if (live.length > 0) this.output.subscriptionsReady(live);
      }
    }
  }

  /** Sends `ready` for a subscription, or holds it until a rerun in progress has sent its differences. */
  sendReady(subId: string): void {
    if (this.#pendingReady) this.#pendingReady.push(subId);
    else this.output.subscriptionsReady([subId]);
  }

  /**
   * The session's state for a hand-off to another process; undefined when the merge box does not track all the
   * client holds (a `NO_MERGE` collection), or the session closed.
   */
  state(): SessionState | undefined {
    // During a user change the merge box holds the view being rebuilt, not the client's.
    if (this.#closed || this.#pendingReady || (this.#mergeBox && !this.#mergeBox.tracksEverything()))
      return undefined;
    const subscriptions: { id: string; name: string; params: readonly unknown[] }[] = [];
    for (const [id, sub] of this.#subs ?? [])
      subscriptions.push({ id, name: sub.name ?? '', params: sub.parameters });
    return { userId: this.#userId, subscriptions, view: this.#mergeBox?.snapshot(true) ?? new Map() };
  }

  /**
   * Takes over a session another process handed off (call instead of {@link startUniversal}, once, on a new
   * session): the user is `state.userId`, the universal and `state.subscriptions` publications run with the merge
   * box withholding output, then the client, which holds `state.view`, gets only the differences and one `ready`
   * for the subscriptions. Resolves to false when a subscription could not be restored (unknown, refused, failed):
   * the caller then closes the session and starts the client over.
   */
  async restore(state: SessionState): Promise<boolean> {
    this.#userId = state.userId;
    this.#childLogger = undefined;
    const box = this.mergeBox;
    box.beginRestore();
    this.#pendingReady = [];
    let restored = true;
    try {
      const runs = this.core.app.universalPublications.map((definition) => {
        const sub = new Subscription(this, definition, null, []);
        this.#universal ??= [];
        this.#universal.push(sub);
        return sub.run();
      });
      for (const { id, name, params } of state.subscriptions) {
        const definition = this.core.app.publications.get(name);
        if (!definition || this.#subs?.has(id) || unstorableParam(params) || this.subscriptionRefusal()) {
          restored = false;
          continue;
        }
        const sub = new Subscription(this, definition, id, params);
        this.#subs ??= new Map();
        this.#subs.set(id, sub);
        this.core.subscriptions.added(this.connection.clientAddress);
        runs.push(sub.run());
      }
      await Promise.all(runs);
      return restored && !this.#closed && state.subscriptions.every(({ id }) => this.#subs?.has(id));
    } finally {
      const ready = this.#pendingReady;
      this.#pendingReady = undefined;
      if (!this.#closed) {
        box.endRerun(state.view);
        const live = ready.filter((subId) => this.#subs?.has(subId) === true);
        if (live.length > 0) this.output.subscriptionsReady(live);
      }
    }
  }

  /** Starts every universal publication (call once, after the handshake). */
  async startUniversal(): Promise<void> {
    await Promise.all(
      this.core.app.universalPublications.map((definition) => {
        const sub = new Subscription(this, definition, null, []);
        if (this.#universal) this.#universal.push(sub);
        else this.#universal = [sub];
        return sub.run();
      }),
    );
  }

  /**
   * Starts subscription `subId` of publication `name`. Resolves when the handler has run and returned cursors
   * are attached (their initial data sent). A live `subId` is ignored (subs are idempotent across reconnects).
   */
  async subscribe(subId: string, name: string, params: readonly unknown[]): Promise<void> {
    if (this.#closed || this.#subs?.has(subId)) return;
    const definition = this.core.app.publications.get(name);
    if (!definition) {
      this.output.subscriptionStopped(subId, new NotFoundError(404, `Subscription '${name}' not found`));
      return;
    }
    const refused =
      this.rateLimited('subscription', name) ?? unstorableParam(params) ?? this.subscriptionRefusal();
    if (refused) {
      this.output.subscriptionStopped(subId, refused);
      return;
    }
    const sub = new Subscription(this, definition, subId, params);
    this.#subs ??= new Map();
    this.#subs.set(subId, sub);
    this.core.subscriptions.added(this.connection.clientAddress);
    await sub.run();
  }

  /**
   * The error for one more named subscription over the caps on live subscriptions (per connection, per client
   * address: core/subscription-limits.ts), or undefined. Adapters may ask before accepting a request (WAMP).
   */
  subscriptionRefusal(): ClientError | undefined {
    return this.core.subscriptions.refusal(this.connection.clientAddress, this.subscriptionCount);
  }

  /** Forgets live subscription `subId`; true if it was one. */
  private forget(subId: string): boolean {
    if (!this.#subs?.delete(subId)) return false;
    this.core.subscriptions.removed(this.connection.clientAddress);
    return true;
  }

  /** The client unsubscribed: withdraw its documents, then say it stopped (also for unknown ids, as Meteor does). */
  unsubscribe(subId: string): void {
    const sub = this.#subs?.get(subId);
    if (sub) {
      this.forget(subId);
      sub.unsubscribe();
    }
    this.output.subscriptionStopped(subId);
  }

  /** Called by a subscription that stopped or failed on its own. */
  endSubscription(subId: string, error?: unknown): void {
    this.forget(subId);
    if (!this.#closed) this.output.subscriptionStopped(subId, error);
  }

  /**
   * Calls method `name`. Outputs its result once the handler returned (and its transaction committed) and
   * `writesDelivered` once its writes reached this session. Resolves when the result is out.
   */
  async call(
    methodId: string,
    name: string,
    params: readonly unknown[],
    options: CallOptions = {},
  ): Promise<void> {
    const definition = this.core.app.methods.get(name);
    if (!definition) {
      this.output.methodResult(methodId, {
        ok: false,
        error: new NotFoundError(404, `Method '${name}' not found`),
      });
      this.output.writesDelivered([methodId]);
      return;
    }
    const refused = this.rateLimited('method', name) ?? unstorableParam(params);
    if (refused) {
      this.output.methodResult(methodId, { ok: false, error: refused });
      this.output.writesDelivered([methodId]);
      return;
    }
    const started = performance.now();
    const outcome = await this.invoke(definition, params, options);
    if (this.#closed) return;
    // Committed: the rerun now reads what the method wrote (createUser's user row).
    if (outcome.ok && outcome.newUserId) await this.setUserId(outcome.newUserId.value);
    if (this.#closed) return;
    if (!outcome.ok) this.logMethodError(name, outcome.error);
    this.output.methodResult(methodId, outcome);
    this.logger.debug(
      { method: name, ms: +(performance.now() - started).toFixed(2), ok: outcome.ok },
      'method',
    );
    if (outcome.fence) {
      outcome.fence
        .then(() => {
          if (!this.#closed) this.output.writesDelivered([methodId]);
        })
        .catch((error: unknown) => {
          this.logger.error(
            { err: error, method: name },
            "reporting the method's writes as delivered failed",
          );
        });
    } else {
      this.output.writesDelivered([methodId]);
    }
  }

  /** Counts a call or subscription against the core's rate limits (after the 404 check, as Meteor does). */
  private rateLimited(type: 'method' | 'subscription', name: string): TooManyRequestsError | undefined {
    const limited = this.core.rateLimiter.check({
      type,
      name,
      userId: this.#userId,
      connectionId: this.connection.id,
      clientAddress: this.connection.clientAddress,
    });
    if (limited) this.logger.debug({ [type]: name, details: limited.details }, 'rate limited');
    return limited;
  }

  private async invoke(
    definition: MethodDefinition,
    rawParams: readonly unknown[],
    options: CallOptions,
  ): Promise<
    MethodOutcome & { fence?: Promise<void>; newUserId?: { readonly value: string | null } | undefined }
  > {
    const random = new RandomStream(options.randomSeed);
    const access = new MethodDatabase(this.core.db, definition.transaction);
    const fences = this.core.fences;
    let outcome: MethodOutcome;
    let invocation: MethodInvocation | undefined;
    try {
      await checkGuard(definition.guard, this.#userId, this.core.db, this.core.app.roleResolver);
      const params = definition.params ? await validateParams(definition.params, rawParams) : [...rawParams];
      invocation = this.invocation(definition.name, access, random, options.onUnblock ?? (() => {}));
      outcome = { ok: true, value: await definition.handler(invocation, ...params) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // Fence only what may have written: registered before the commit, since its notification can arrive first.
    let fence: { id: string; passed: Promise<void> } | undefined;
    try {
      if (definition.transaction) {
        const wrote = await access.finish(outcome.ok, async (tx) => {
          fence = fences.expect();
          return this.core.fenceInTransaction(tx, fence.id);
        });
        if (!wrote && fence) {
          fences.cancel(fence.id);
          fence = undefined;
        }
      } else if (access.used) {
        // Autocommitted writes may have happened, even if the handler then failed.
        fence = fences.expect();
        await this.core.fenceAfterAutocommit(fence.id);
      }
    } catch (error) {
      if (fence) fences.cancel(fence.id);
      fence = undefined;
      if (outcome.ok) outcome = { ok: false, error };
      else this.logger.error({ err: error, method: definition.name }, 'ending the method transaction failed');
    }
    const newUserId = outcome.ok ? invocation?.newUserId : undefined;
    return { ...outcome, ...(fence ? { fence: fence.passed } : {}), ...(newUserId ? { newUserId } : {}) };
  }

  private invocation(
    name: string,
    db: Queryable,
    random: RandomStream,
    onUnblock: () => void,
  ): MethodInvocation {
    const host = {
      userId: this.#userId,
      connection: this.connection,
      binding: (collection: string): CollectionBinding => this.core.pool.binding(collection),
    };
    return new MethodInvocation(name, host, db, random, onUnblock);
  }

  /** Logs a publication's failure: client errors at debug, internal ones in full. */
  logPublicationError(name: string | null, error: unknown): void {
    if (isClientError(error)) this.logger.debug({ publication: name, err: error }, 'publication refused');
    else this.logger.error({ publication: name, err: error }, 'publication failed');
  }

  private logMethodError(name: string, error: unknown): void {
    if (isClientError(error)) this.logger.debug({ method: name, err: error }, 'method refused');
    else this.logger.error({ method: name, err: error }, 'method failed');
  }

  /** Ends the session: stops every subscription and releases observers; sends nothing. Idempotent. */
  /**
   * Asks the adapter to close the client's connection ({@link SessionOutput.closeConnection}); false (doing
   * nothing) if it cannot.
   */
  closeConnection(reason: string): boolean {
    if (this.#closed || !this.output.closeConnection) return false;
    this.output.closeConnection(reason);
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#subs) {
      for (const sub of this.#subs.values()) sub.dispose();
      this.core.subscriptions.removed(this.connection.clientAddress, this.#subs.size);
    }
    if (this.#universal) for (const sub of this.#universal) sub.dispose();
    this.#subs = undefined;
    this.#universal = undefined;
    this.core.sessionClosed(this);
  }
}
