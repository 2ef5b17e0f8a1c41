/**
 * The per-session merge box: what one client holds, merged from every subscription that publishes to it, with
 * Meteor's exact semantics (reference/ddp.md §1.7; Meteor's SessionCollectionView / SessionDocumentView and their
 * tests in packages/ddp-server/session_view_tests.js).
 *
 * Subscriptions report `added`/`changed`/`removed` per document; the merge box turns them into the messages the
 * client must see, through a {@link DataSink}:
 * - a document is `added` once, when its first subscription adds it, and `removed` when its last one removes it;
 *   a later subscription adding it produces a `changed` with only the keys the client did not have yet;
 * - each field's visible value belongs to the first subscription that set it (first come, first served); other
 *   subscriptions' values wait in line and are revealed, with a `changed`, when the holder clears the field or
 *   leaves the document;
 * - a `changed` goes out only when a visible value really changes (`EJSON.equals`), and `cleared` names exactly
 *   the fields the client loses;
 * - values are `EJSON.clone`d on the way in, so the publisher may mutate its objects afterwards (unless the
 *   publishers promise never to: {@link MergeBoxOptions.keepInput}).
 *
 * Documents once per process (DESIGN.md decision 15). A subscription whose documents are kept by a shared live
 * observer passes it as the {@link PublishedDocuments} source of its `added` calls: the merge box then stores
 * nothing of those documents and asks the source what the subscription holds. A collection published by one such
 * subscription costs the session nothing per document; overlapping subscriptions cost nothing either while they
 * added each document in the order they first published to the collection (core/merged-collection.ts).
 *
 * Publication strategies (per collection, Meteor 2.4+): `SERVER_MERGE` is the above. `NO_MERGE_MULTI` tracks only
 * which subscriptions hold each document (no fields, no diffing). `NO_MERGE` and `NO_MERGE_NO_HISTORY` pass every
 * message straight to the sink; on {@link MergeBox.removeSubscription}, `NO_MERGE` sends `removed` for the ids the
 * subscription published and `NO_MERGE_NO_HISTORY` sends nothing.
 *
 * Contract violations throw {@link MergeBoxError} without emitting anything: a subscription changing or removing a
 * document it does not hold, or adding one it already holds (the tracked strategies only; calls backed by a source
 * are trusted). Not thread-safe, not reentrant: a sink must not call back into the merge box that is calling it.
 */
import { equals } from './ejson.js';
import {
  type DataSink,
  type Fields,
  hasKeys,
  MergeBoxError,
  NO_CLEARED,
  NO_FIELDS,
  type PublicationStrategy,
  type PublishedDocuments,
  type Snapshot,
  setField,
} from './merge-box-types.js';
import { type MergeContext, MergedCollection } from './merged-collection.js';

export {
  type DataSink,
  type Fields,
  MergeBoxError,
  type MergeBoxErrorCode,
  type PublicationStrategy,
  type PublishedDocuments,
  type Snapshot,
} from './merge-box-types.js';

const NULL_SINK: DataSink = {
  added() {},
  changed() {},
  removed() {},
};

function unreachable(value: never): never {
  throw new TypeError(`Unexpected value: ${String(value)}`);
}

/** NO_MERGE_MULTI state: the holders of each document, a single subscription handle or a set of two or more. */
interface MultiState {
  readonly kind: 'multi';
  readonly docs: Map<string, string | Set<string>>;
}

/** Tracked state of one collection, by strategy. */
type CollectionState =
  | MergedCollection
  | MultiState
  | { readonly kind: 'direct'; readonly removeOnStop: boolean };

/** Options of {@link MergeBox}. */
export interface MergeBoxOptions {
  /**
   * Pass the publisher's own `fields`/`cleared` objects to the sink when the output is exactly them (the
   * common case of a document held by one subscription). It lets the sink (a protocol encoder) cache one encoding
   * per observer emission for all sessions. Default false: the sink gets the merge box's own objects.
   */
  readonly reuseInput?: boolean;
  /**
   * The publishers never mutate the `fields` objects they pass in, nor the values in them, after the call (the
   * session's subscriptions guarantee it: observers emit fresh objects, low-level publications are copied on the
   * way in). The merge box then keeps their values instead of cloning them, and a document added with exactly
   * the publisher's object keeps that object. Default false: everything is cloned. (Sources' documents are never
   * copied: they promise the same.)
   */
  readonly keepInput?: boolean;
}

/**
 * One session's merge box. Subscriptions are identified by opaque handles (Meteor uses `'N' + subId` for named
 * subscriptions and `'U' + random` for universal ones). Output goes synchronously to the sink, in call order.
 */
export class MergeBox {
  private readonly sink: DataSink;
  private readonly strategyFor: (collection: string) => PublicationStrategy;
  private readonly collections = new Map<string, CollectionState>();
  /** The collection of the last call and its state. */
  private lastCollection: string | undefined;
  private lastState: CollectionState | undefined;
  /** Shared with the collections: the output of the tracked strategies (a null sink during a rerun). */
  private readonly context: MergeContext;

  /**
   * @param sink where the client's messages go.
   * @param strategyFor each collection's strategy; asked once per collection, on first use. Default: all
   *   `SERVER_MERGE`.
   */
  constructor(
    sink: DataSink,
    strategyFor: (collection: string) => PublicationStrategy = () => 'SERVER_MERGE',
    options: MergeBoxOptions = {},
  ) {
    this.sink = sink;
    this.strategyFor = strategyFor;
    this.context = {
      out: sink,
      reuseInput: options.reuseInput ?? false,
      keepInput: options.keepInput ?? false,
    };
  }

  /**
   * Subscription `sub` publishes document `id` with `fields` (`_id` and `undefined` values are ignored). With
   * `source` (SERVER_MERGE), the subscription's documents of this collection are kept there, not here, from its
   * first `added` on; see {@link PublishedDocuments} for what it promises.
   * @throws MergeBoxError `already-held` if `sub` already holds it (tracked strategies, no source).
   */
  added(sub: string, collection: string, id: string, fields: Fields, source?: PublishedDocuments): void {
    const state = this.state(collection);
    switch (state.kind) {
      case 'merge':
        state.added(sub, id, fields, source);
        return;
      case 'multi':
        this.multiAdded(state.docs, sub, collection, id, fields);
        return;
      case 'direct':
        this.sink.added(collection, id, passFields(fields));
        return;
      default:
        unreachable(state);
    }
  }

  /**
   * Subscription `sub` changes document `id`: `fields` are set, `cleared` are removed. A key whose value in `fields`
   * is `undefined` counts as cleared (Meteor's publish API); a key both set in `fields` and named in `cleared` is set.
   * @throws MergeBoxError `unknown-document` or `not-held` (tracked strategies).
   */
  changed(sub: string, collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    const state = this.state(collection);
    switch (state.kind) {
      case 'merge':
        state.changed(sub, id, fields, cleared);
        return;
      case 'multi':
        this.multiChanged(state.docs, sub, collection, id, fields, cleared);
        return;
      case 'direct':
        passChanged(this.sink, collection, id, fields, cleared);
        return;
      default:
        unreachable(state);
    }
  }

  /**
   * Subscription `sub` no longer publishes document `id`.
   * @throws MergeBoxError `unknown-document` or `not-held` (tracked strategies).
   */
  removed(sub: string, collection: string, id: string): void {
    const state = this.state(collection);
    switch (state.kind) {
      case 'merge':
        state.removed(sub, id);
        return;
      case 'multi':
        this.multiRemoved(state.docs, sub, collection, id);
        return;
      case 'direct':
        this.sink.removed(collection, id);
        return;
      default:
        unreachable(state);
    }
  }

  /**
   * Removes everything subscription `sub` contributed, as Meteor's `_removeAllDocuments` on unsub, stop and error:
   * documents only it held are removed, shared ones reveal the next subscription's values. `docs` are the ids it
   * published, per collection (the subscription's own accounting): SERVER_MERGE collections withdraw what the
   * subscription holds there (its source's documents, or its own) and forget it; `NO_MERGE_MULTI` skips ids it
   * does not hold; for `NO_MERGE` collections each id is sent as `removed`, for `NO_MERGE_NO_HISTORY` nothing is.
   */
  removeSubscription(sub: string, docs: ReadonlyMap<string, Iterable<string>>): void {
    for (const [collection, ids] of docs) {
      const state = this.state(collection);
      switch (state.kind) {
        case 'merge':
          state.removeHolder(sub);
          break;
        case 'multi':
          for (const id of ids) {
            const holders = state.docs.get(id);
            if (holders === sub || (typeof holders === 'object' && holders.has(sub))) {
              this.multiRemoved(state.docs, sub, collection, id);
            }
          }
          break;
        case 'direct':
          if (state.removeOnStop) for (const id of ids) this.sink.removed(collection, id);
          break;
        default:
          unreachable(state);
      }
    }
  }

  /**
   * Subscription `sub`'s documents of `collection` stop being its source's alone (the low-level API publishes
   * there too): the merge box keeps them itself from now on (its source's objects, not copies) and checks its
   * calls like any low-level publisher's. No-op for other strategies or a subscription that published nothing.
   */
  takeOver(sub: string, collection: string): void {
    const state = this.collections.get(collection);
    if (state?.kind === 'merge') state.takeOver(sub);
  }

  /** True if the client holds document `id` (as far as the merge box tracks it: false for `NO_MERGE*`). */
  has(collection: string, id: string): boolean {
    const state = this.collections.get(collection);
    if (state === undefined || state.kind === 'direct') return false;
    return state.kind === 'merge' ? state.has(id) : state.docs.has(id);
  }

  /**
   * What the client holds, for the tracked strategies: collection → id → merged fields (fresh maps and objects;
   * the values are shared and must not be mutated). `NO_MERGE_MULTI` documents have no fields (as in Meteor). With
   * `shared`, a document one subscription alone publishes is the held object itself (read only; see
   * MergedCollection's `snapshot`).
   */
  snapshot(shared = false): Snapshot {
    const result: Snapshot = new Map();
    for (const [collection, state] of this.collections) {
      if (state.kind === 'direct') continue;
      let docs: Map<string, Fields>;
      if (state.kind === 'merge') {
        docs = state.snapshot(shared);
      } else {
        docs = new Map();
        for (const id of state.docs.keys()) docs.set(id, {});
      }
      if (docs.size > 0) result.set(collection, docs);
    }
    return result;
  }

  /**
   * Starts a rerun of every subscription (login/logout, Meteor's `_setUserId`): returns what the client holds and
   * empties the view. Until {@link endRerun}, output of the tracked strategies is withheld while the rerun
   * subscriptions rebuild the view (pass-through collections still send, as in Meteor). The caller stops the old
   * subscriptions without `removeSubscription`. Reruns do not nest. Caveat, as in Meteor: `NO_MERGE_MULTI`
   * documents carry no fields, so one that first appears in the rerun reaches the client as an empty document.
   */
  beginRerun(): Snapshot {
    const before = this.snapshot();
    for (const state of this.collections.values()) {
      if (state.kind === 'merge') state.clear();
      else if (state.kind === 'multi') state.docs.clear();
    }
    this.context.out = NULL_SINK;
    return before;
  }

  /**
   * True when {@link snapshot} is everything the client holds: no collection passes its messages straight
   * through (`NO_MERGE`, `NO_MERGE_NO_HISTORY`), which the merge box does not track.
   */
  tracksEverything(): boolean {
    for (const state of this.collections.values()) if (state.kind === 'direct') return false;
    return true;
  }

  /**
   * Starts rebuilding, in an empty merge box, the view of a client that already holds `held` (a session resumed
   * from another process's hand-off): like a rerun, output is withheld until {@link endRerun}`(held)` sends only
   * the differences.
   */
  beginRestore(): void {
    this.context.out = NULL_SINK;
  }

  /** Ends a rerun: sends the client only the differences between `before` and the rebuilt view. */
  endRerun(before: Snapshot): void {
    this.context.out = this.sink;
    diffSnapshots(before, this.snapshot(), this.sink);
  }

  private state(collection: string): CollectionState {
    // Consecutive calls are nearly always for one collection (a fan-out sends one change to every session).
    if (collection === this.lastCollection) return this.lastState as CollectionState;
    let state = this.collections.get(collection);
    if (state === undefined) {
      state = this.createState(collection, this.strategyFor(collection));
      this.collections.set(collection, state);
    }
    this.lastCollection = collection;
    this.lastState = state;
    return state;
  }

  private createState(collection: string, strategy: PublicationStrategy): CollectionState {
    switch (strategy) {
      case 'SERVER_MERGE':
        return new MergedCollection(collection, this.context);
      case 'NO_MERGE_MULTI':
        return { kind: 'multi', docs: new Map() };
      case 'NO_MERGE':
        return { kind: 'direct', removeOnStop: true };
      case 'NO_MERGE_NO_HISTORY':
        return { kind: 'direct', removeOnStop: false };
      default:
        return unreachable(strategy);
    }
  }

  // NO_MERGE_MULTI

  private multiAdded(
    docs: Map<string, string | Set<string>>,
    sub: string,
    collection: string,
    id: string,
    fields: Fields,
  ): void {
    const holders = docs.get(id);
    if (holders === undefined) {
      docs.set(id, sub);
      this.context.out.added(collection, id, passFields(fields));
      return;
    }
    if (holders === sub || (typeof holders === 'object' && holders.has(sub))) {
      throw new MergeBoxError('already-held', sub, collection, id);
    }
    if (typeof holders === 'string') docs.set(id, new Set([holders, sub]));
    else holders.add(sub);
    // No merging: the client gets all of the new subscription's fields, overwriting (Meteor's dummy view).
    const passed = passFields(fields);
    if (hasKeys(passed)) this.context.out.changed(collection, id, passed, NO_CLEARED);
  }

  private multiChanged(
    docs: Map<string, string | Set<string>>,
    sub: string,
    collection: string,
    id: string,
    fields: Fields,
    cleared: readonly string[],
  ): void {
    const holders = docs.get(id);
    if (holders === undefined) throw new MergeBoxError('unknown-document', sub, collection, id);
    if (holders !== sub && !(typeof holders === 'object' && holders.has(sub))) {
      throw new MergeBoxError('not-held', sub, collection, id);
    }
    passChanged(this.context.out, collection, id, fields, cleared);
  }

  private multiRemoved(
    docs: Map<string, string | Set<string>>,
    sub: string,
    collection: string,
    id: string,
  ): void {
    const holders = docs.get(id);
    if (holders === undefined) throw new MergeBoxError('unknown-document', sub, collection, id);
    if (holders === sub) {
      docs.delete(id);
      this.context.out.removed(collection, id);
      return;
    }
    if (typeof holders === 'string' || !holders.delete(sub)) {
      throw new MergeBoxError('not-held', sub, collection, id);
    }
    if (holders.size === 1) for (const last of holders) docs.set(id, last);
  }
}

// Pass-through (NO_MERGE, NO_MERGE_NO_HISTORY, and NO_MERGE_MULTI's fields)

/** `fields` without `_id` and `undefined` values; the same object when it has neither. */
function passFields(fields: Fields): Fields {
  let clean = true;
  for (const key in fields) {
    if (key === '_id' || fields[key] === undefined) {
      clean = false;
      break;
    }
  }
  if (clean) return fields;
  const out: Fields = {};
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (key !== '_id' && value !== undefined) setField(out, key, value);
  }
  return out;
}

/**
 * Forwards a change as given, except that `_id` is dropped and keys with `undefined` values move to `cleared`;
 * sends nothing when both end up empty.
 */
function passChanged(
  sink: DataSink,
  collection: string,
  id: string,
  fields: Fields,
  cleared: readonly string[],
): void {
  const passed = passFields(fields);
  let allCleared = cleared;
  if (passed !== fields || cleared.includes('_id')) {
    const keys = new Set<string>();
    for (const key of cleared) if (key !== '_id') keys.add(key);
    for (const key of Object.keys(fields)) if (key !== '_id' && fields[key] === undefined) keys.add(key);
    allCleared = [...keys];
  }
  if (allCleared.length > 0 || hasKeys(passed)) sink.changed(collection, id, passed, allCleared);
}

/**
 * Sends `sink` what turns a client holding `before` into one holding `after` (Meteor's `_diffCollectionViews`):
 * `removed` for documents only in `before`, `added` (with all fields) for those only in `after`, and a `changed`
 * with the differing and missing fields (`EJSON.equals`) for those in both, when anything differs.
 */
export function diffSnapshots(
  before: ReadonlyMap<string, ReadonlyMap<string, Fields>>,
  after: ReadonlyMap<string, ReadonlyMap<string, Fields>>,
  sink: DataSink,
): void {
  for (const [collection, beforeDocs] of before) {
    const afterDocs = after.get(collection);
    for (const [id, previous] of beforeDocs) {
      const now = afterDocs?.get(id);
      if (now === undefined) sink.removed(collection, id);
      else diffDocument(collection, id, previous, now, sink);
    }
    if (afterDocs === undefined) continue;
    for (const [id, now] of afterDocs) if (!beforeDocs.has(id)) sink.added(collection, id, now);
  }
  for (const [collection, afterDocs] of after) {
    if (before.has(collection)) continue;
    for (const [id, now] of afterDocs) sink.added(collection, id, now);
  }
}

function diffDocument(collection: string, id: string, previous: Fields, now: Fields, sink: DataSink): void {
  let fields: Fields | null = null;
  let cleared: string[] | null = null;
  for (const key of Object.keys(previous)) {
    if (!Object.hasOwn(now, key)) {
      if (cleared === null) cleared = [];
      cleared.push(key);
    } else if (!equals(previous[key], now[key])) {
      if (fields === null) fields = {};
      setField(fields, key, now[key]);
    }
  }
  for (const key of Object.keys(now)) {
    if (Object.hasOwn(previous, key)) continue;
    if (fields === null) fields = {};
    setField(fields, key, now[key]);
  }
  if (fields === null && cleared === null) return;
  sink.changed(collection, id, fields ?? NO_FIELDS, cleared ?? NO_CLEARED);
}
