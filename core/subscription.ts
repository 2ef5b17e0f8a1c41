/**
 * One running publication in one session (Meteor's `Subscription`). It is the publication handler's context,
 * turns returned cursors into shared observers, and feeds everything it publishes into the session's merge box
 * under its own handle (`N<subId>` for named subscriptions, `U<random>` for universal ones).
 *
 * Lifecycle: `run()` validates params and calls the handler; cursors are attached (their initial documents
 * become `added`) and then `ready` is sent. A handler that returns nothing must call `ready()` itself.
 * `stop()`, `error()` and an unsubscribe all withdraw every document this subscription published (the merge box
 * sends `removed`/`changed` as other subscriptions allow), run `onStop` callbacks once, and release observers.
 *
 * Documents once per process: what a cursor publishes is kept by its shared observer, and the subscription hands
 * the merge box the cursor's listener as the {@link PublishedDocuments} source of those documents, so the session
 * keeps no copy of them (nor their ids) unless the low-level API publishes to the same collection.
 */
import type { PublicationDefinition } from './app.js';
import type { ConnectionInfo, Fields, PublicationContext } from './contexts.js';
import { type Cursor, isCursor, QueryCursor, SqlCursor, type SqlCursorOptions } from './cursor.js';
import { clone } from './ejson.js';
import { ConfigurationError } from './errors.js';
import { checkGuard } from './guards.js';
import { idStringify } from './ids.js';
import type { LiveObserver, ObserverListener } from './live/live-observer.js';
import type { PublishedDocuments } from './merge-box.js';
import type { QueryOptions, Selector } from './query/compile.js';
import { cryptoRandom as Random } from './random/random-stream.js';
import { validateParams } from './schema-validation.js';
import type { Session } from './session.js';

/** A cursor's listener as its subscription sees it (Subscription.#CursorListener). */
interface CursorFeed extends ObserverListener, PublishedDocuments {
  readonly collection: string;
  /** The collection's id set once the low-level API also publishes to it; undefined while the cursor is alone. */
  idSet: Set<string> | undefined;
  /** The ids the cursor published while alone. */
  held(): string[];
}

/** A publication running in a session. */
export class Subscription implements PublicationContext {
  /** The merge-box handle. */
  readonly handle: string;
  /**
   * Ids this subscription published through the low-level API, per collection, and those of a cursor on a
   * collection the low-level API also published to. A cursor that is its collection's only source keeps no ids:
   * what it published is what its observer holds (see {@link Subscription.#CursorListener}), and in a fan-out a
   * set per subscriber would cost a hash insert per document per session for nothing.
   */
  readonly #documents = new Map<string, Set<string>>();
  readonly #observers: Array<{ observer: LiveObserver; listener: CursorFeed }> = [];
  readonly #stopCallbacks: Array<() => void | Promise<void>> = [];
  #ready = false;
  #active = true;

  constructor(
    private readonly session: Session,
    private readonly definition: PublicationDefinition,
    /** The client's subscription id; null for universal publications. */
    readonly subId: string | null,
    private readonly params: readonly unknown[],
  ) {
    this.handle = subId === null ? `U${Random.id()}` : `N${subId}`;
  }

  /** The publication's name (null for a universal one). */
  get name(): string | null {
    return this.definition.name;
  }

  /** The parameters the client subscribed with. */
  get parameters(): readonly unknown[] {
    return this.params;
  }

  /** True until stopped. */
  get active(): boolean {
    return this.#active;
  }

  get userId(): string | null {
    return this.session.userId;
  }

  get connection(): ConnectionInfo {
    return this.session.connection;
  }

  /** Runs the handler and publishes what it returns. Errors stop the subscription with the error. */
  async run(): Promise<void> {
    try {
      await checkGuard(
        this.definition.guard,
        this.session.userId,
        this.session.core.db,
        this.session.core.app.roleResolver,
      );
      const params = this.definition.params
        ? await validateParams(this.definition.params, this.params)
        : [...this.params];
      const result = await this.definition.handler(this, ...params);
      if (!this.#active) return;
      if (result === undefined || result === null) return; // low-level API: the handler calls ready()
      const cursors: readonly unknown[] = Array.isArray(result) ? result : [result];
      const seen = new Set<string>();
      for (const cursor of cursors) {
        if (!isCursor(cursor)) {
          throw new ConfigurationError(
            `publication '${this.definition.name}' returned something that is not a cursor`,
          );
        }
        if (seen.has(cursor.collection)) {
          throw new ConfigurationError(
            `publication '${this.definition.name}' returned two cursors on collection '${cursor.collection}'`,
          );
        }
        seen.add(cursor.collection);
      }
      await Promise.all((cursors as Cursor[]).map((cursor) => this.#observe(cursor)));
      if (this.#active) this.ready();
    } catch (error) {
      // Stopped meanwhile (the client unsubscribed or left while the first read ran, and the observer stopped with
      // its last listener): nobody waits for this subscription, and an error-level line here is one any client
      // could produce at will by subscribing and leaving.
      if (!this.#active) return;
      this.session.logPublicationError(this.definition.name, error);
      this.error(error);
    }
  }

  async #observe(cursor: Cursor): Promise<void> {
    const observer = this.session.core.pool.acquire(cursor);
    const listener = new Subscription.#CursorListener(this, cursor.collection, observer);
    this.#observers.push({ observer, listener });
    await observer.attach(listener);
    if (!this.#active) observer.detach(listener);
  }

  find(collection: string, selector: Selector = {}, options: QueryOptions = {}): Cursor {
    this.session.core.pool.binding(collection); // fails early for unknown collections
    return new QueryCursor(collection, selector, options);
  }

  sql(
    collection: string,
    text: string,
    params: readonly unknown[] = [],
    options: SqlCursorOptions = {},
  ): Cursor {
    this.session.core.pool.binding(collection);
    return new SqlCursor(collection, text, params, options);
  }

  // The low-level API copies what it is given: the handler may mutate its objects afterwards, and the session's
  // merge box keeps what it receives (MergeBoxOptions.keepInput).

  added(collection: string, id: string | number, fields: Fields): void {
    const copy: Fields = {};
    for (const name of Object.keys(fields)) {
      const value = fields[name];
      if (name !== '_id' && value !== undefined) setOwn(copy, name, clone(value));
    }
    this.#added(collection, idStringify(id), copy);
  }

  changed(collection: string, id: string | number, fields: Fields): void {
    const set: Fields = {};
    const cleared: string[] = [];
    for (const [name, value] of Object.entries(fields)) {
      if (name === '_id') continue;
      if (value === undefined) cleared.push(name);
      else setOwn(set, name, clone(value));
    }
    this.#changed(collection, idStringify(id), set, cleared);
  }

  removed(collection: string, id: string | number): void {
    this.#removed(collection, idStringify(id));
  }

  ready(): void {
    if (!this.#active || this.#ready || this.subId === null) return;
    this.#ready = true;
    this.session.sendReady(this.subId);
  }

  error(error: unknown): void {
    if (!this.#active) return;
    this.#withdrawAll();
    this.#deactivate();
    if (this.subId !== null) this.session.endSubscription(this.subId, error);
  }

  stop(): void {
    if (!this.#active) return;
    this.#withdrawAll();
    this.#deactivate();
    if (this.subId !== null) this.session.endSubscription(this.subId);
  }

  onStop(callback: () => void | Promise<void>): void {
    if (this.#active) this.#stopCallbacks.push(callback);
    else this.#runStopCallback(callback);
  }

  /** Client unsubscribed: withdraw documents and release everything; the session reports it stopped. */
  unsubscribe(): void {
    if (!this.#active) return;
    this.#withdrawAll();
    this.#deactivate();
  }

  /** A fresh, not yet run subscription of the same publication and parameters (a user change reruns it). */
  recreate(): Subscription {
    return new Subscription(this.session, this.definition, this.subId, this.params);
  }

  /**
   * Stopped for a rerun: releases observers and runs `onStop` callbacks without withdrawing documents (the merge
   * box's rerun already emptied the view and diffs it afterwards).
   */
  retire(): void {
    if (!this.#active) return;
    this.#documents.clear();
    this.#deactivate();
  }

  /** Session closed: release everything without sending anything. */
  dispose(): void {
    if (!this.#active) return;
    this.#deactivate();
  }

  /**
   * Feeds one cursor's observer output into its subscription. One small object per cursor, not three closures:
   * an observer's loop over thousands of subscribers then touches one object and calls one method each.
   *
   * While the cursor is its collection's only source in the subscription (`idSet` undefined, the rule), it keeps no
   * ids: the observer never sends a listener a duplicate `added`, nor `changed`/`removed` for an id it did not
   * send it, so every call goes straight to the merge box, with this listener as the source of the documents
   * (what it published is what its observer says it was sent: {@link LiveObserver.fieldsSeenBy} once attached,
   * and while attaching, the ids sent so far). When the low-level API publishes to the same collection
   * ({@link Subscription.#idsOf}), the listener moves onto the collection's id set, seeded with those ids, the
   * merge box takes the documents over, and from then on it filters exactly as the low-level API does.
   */
  static readonly #CursorListener = class CursorListener implements CursorFeed {
    /** The subscription's id set of the collection, shared with the low-level API; undefined: sole source. */
    idSet: Set<string> | undefined;
    /** Written by the observer (ObserverListener.seen). */
    seen = 0;
    /**
     * Ids sent while the observer attaches the listener (sole source); dropped once attached, when the observer's
     * documents say it. Kept if attaching failed halfway, so that exactly what was published is withdrawn.
     */
    #initial: string[] | undefined = [];

    constructor(
      private readonly sub: Subscription,
      readonly collection: string,
      private readonly observer: LiveObserver,
    ) {
      this.idSet = sub.#documents.get(collection);
    }

    /** The ids this listener published (sole source): the observer's documents once attached. */
    held(): string[] {
      return this.#initial ?? this.observer.idsSeenBy(this);
    }

    // PublishedDocuments (the merge box asks while this listener is its collection's source in the subscription)

    fieldsOf(id: string): Fields | undefined {
      // While attaching, the ids sent so far (only a failed attach is ever asked: attaching is one synchronous run).
      if (this.#initial !== undefined && !this.#initial.includes(id)) return undefined;
      return this.observer.fieldsSeenBy(this, id);
    }

    ids(): string[] {
      return this.held();
    }

    attached(): void {
      this.#initial = undefined;
    }

    added(id: string, fields: Fields): void {
      const sub = this.sub;
      if (!sub.#active) return;
      if (this.idSet !== undefined) {
        sub.#addTo(this.idSet, this.collection, id, fields);
        return;
      }
      this.#initial?.push(id);
      sub.session.mergeBox.added(sub.handle, this.collection, id, fields, this);
    }

    changed(id: string, fields: Fields, cleared: readonly string[]): void {
      const sub = this.sub;
      if (!sub.#active || (this.idSet !== undefined && !this.idSet.has(id))) return;
      sub.session.mergeBox.changed(sub.handle, this.collection, id, fields, cleared);
    }

    removed(id: string): void {
      const sub = this.sub;
      if (!sub.#active || (this.idSet !== undefined && !this.idSet.delete(id))) return;
      sub.session.mergeBox.removed(sub.handle, this.collection, id);
    }
  };

  /**
   * The id set of `collection` for the low-level API (made on first need; withdrawn on stop). A cursor that was
   * the collection's only source moves onto it, with the ids it published.
   */
  #idsOf(collection: string): Set<string> {
    let ids = this.#documents.get(collection);
    if (!ids) {
      ids = new Set();
      for (const { listener } of this.#observers) {
        if (listener.collection !== collection || listener.idSet !== undefined) continue;
        for (const id of listener.held()) ids.add(id);
        listener.idSet = ids;
        this.session.mergeBox.takeOver(this.handle, collection);
      }
      this.#documents.set(collection, ids);
    }
    return ids;
  }

  #added(collection: string, id: string, fields: Fields): void {
    if (!this.#active) return;
    this.#addTo(this.#idsOf(collection), collection, id, fields);
  }

  /** Publishes document `id` of `collection`, whose ids this subscription published are `ids`. */
  #addTo(ids: Set<string>, collection: string, id: string, fields: Fields): void {
    // One set operation, not `has` then `add`: in a fan-out this runs once per document per subscriber.
    const held = ids.size;
    ids.add(id);
    if (ids.size === held) {
      // Meteor throws here; a change of the same doc is the only sane reading.
      this.session.mergeBox.changed(this.handle, collection, id, fields, []);
      return;
    }
    this.session.mergeBox.added(this.handle, collection, id, fields);
  }

  #changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    if (!this.#active || !this.#idsOf(collection).has(id)) return;
    this.session.mergeBox.changed(this.handle, collection, id, fields, cleared);
  }

  #removed(collection: string, id: string): void {
    if (!this.#active) return;
    if (!this.#idsOf(collection).delete(id)) return;
    this.session.mergeBox.removed(this.handle, collection, id);
  }

  #withdrawAll(): void {
    let published: Map<string, Iterable<string>> = this.#documents;
    for (const { listener } of this.#observers) {
      if (listener.idSet !== undefined) continue;
      if (published === this.#documents) published = new Map(this.#documents);
      published.set(listener.collection, listener.held());
    }
    if (published.size === 0) return;
    this.session.mergeBox.removeSubscription(this.handle, published);
    this.#documents.clear();
  }

  #deactivate(): void {
    this.#active = false;
    for (const { observer, listener } of this.#observers) {
      observer.detach(listener);
      this.session.core.pool.release(observer);
    }
    this.#observers.length = 0;
    for (const callback of this.#stopCallbacks.splice(0)) this.#runStopCallback(callback);
  }

  /** Runs an `onStop` callback on a later microtask; what it throws or rejects with is logged. */
  #runStopCallback(callback: () => void | Promise<void>): void {
    Promise.resolve()
      .then(callback)
      .catch((error: unknown) => this.session.logPublicationError(this.definition.name, error));
  }
}

/** Sets an own property, also for the key `__proto__` (which plain assignment would treat as the prototype). */
function setOwn(target: Fields, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
