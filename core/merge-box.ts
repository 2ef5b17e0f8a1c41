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
 * Publication strategies (per collection, Meteor 2.4+): `SERVER_MERGE` is the above. `NO_MERGE_MULTI` tracks only
 * which subscriptions hold each document (no fields, no diffing). `NO_MERGE` and `NO_MERGE_NO_HISTORY` pass every
 * message straight to the sink; on {@link MergeBox.removeSubscription}, `NO_MERGE` sends `removed` for the ids the
 * subscription published and `NO_MERGE_NO_HISTORY` sends nothing.
 *
 * Contract violations throw {@link MergeBoxError} without emitting anything: a subscription changing or removing a
 * document it does not hold, or adding one it already holds (the tracked strategies only). Not thread-safe, not
 * reentrant: a sink must not call back into the merge box that is calling it.
 *
 * Hot path: a document held by a single subscription (the common case) keeps only its visible values, no
 * precedence lists; they are built when a second subscription joins and dropped when it is alone again. A document
 * that the collection's first subscription added and nobody touched since is kept as nothing but the fields object
 * the client was sent `added` with (with `keepInput`, the publisher's own, shared by every session it reached): in a
 * fan-out a session pays one map entry per document, no object, no copy.
 */
import { clone, equals } from './ejson.js';

/** A document's fields, EJSON values by name. Never contains `_id` (the merge box drops it). Treat as read-only. */
export type Fields = Record<string, unknown>;

/**
 * Where the merge box's output goes: the session, which turns the calls into DDP messages. Objects and arrays
 * passed in are read-only; for the tracked strategies their values are the merge box's own copies and may be kept,
 * for the pass-through ones they are the publisher's.
 */
export interface DataSink {
  /** The client gets a new document. */
  added(collection: string, id: string, fields: Fields): void;
  /** Fields of a document the client holds change (`fields`) or disappear (`cleared`); never both empty. */
  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void;
  /** A document the client holds disappears. */
  removed(collection: string, id: string): void;
}

/** Meteor's publication strategies (`DDPServer.publicationStrategies`), chosen per collection. */
export type PublicationStrategy = 'SERVER_MERGE' | 'NO_MERGE_NO_HISTORY' | 'NO_MERGE' | 'NO_MERGE_MULTI';

/** What the client holds: collection → id → merged fields. */
export type Snapshot = Map<string, Map<string, Fields>>;

/** Machine codes of {@link MergeBoxError}. */
export type MergeBoxErrorCode = 'unknown-document' | 'not-held' | 'already-held';

/**
 * A subscription broke the merge box's contract (a bug in the publication or its driver, never the client's):
 * - `unknown-document`: `changed`/`removed` for a document no subscription holds;
 * - `not-held`: `changed`/`removed` by a subscription that does not hold the document;
 * - `already-held`: `added` by a subscription that already holds the document.
 */
export class MergeBoxError extends Error {
  override readonly name = 'MergeBoxError';
  readonly code: MergeBoxErrorCode;
  readonly subscription: string;
  readonly collection: string;
  readonly id: string;

  constructor(code: MergeBoxErrorCode, subscription: string, collection: string, id: string) {
    const what =
      code === 'unknown-document'
        ? 'is not in the view'
        : code === 'not-held'
          ? `is not held by subscription ${subscription}`
          : `is already held by subscription ${subscription}`;
    super(`Document ${id} of ${collection} ${what}`);
    this.code = code;
    this.subscription = subscription;
    this.collection = collection;
    this.id = id;
  }
}

const NO_CLEARED: readonly string[] = Object.freeze([]);
const NO_FIELDS: Fields = Object.freeze({}) as Fields;

const NULL_SINK: DataSink = {
  added() {},
  changed() {},
  removed() {},
};

/** Sets an own property, also for the key `__proto__` (which plain assignment would treat as the prototype). */
function setField(target: Fields, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** True if `fields` has an own enumerable key. */
function hasKeys(fields: Fields): boolean {
  for (const key in fields) if (Object.hasOwn(fields, key)) return true;
  return false;
}

function unreachable(value: never): never {
  throw new TypeError(`Unexpected value: ${String(value)}`);
}

/** One subscription's value for a field of a document held by several subscriptions. */
interface PrecedenceEntry {
  readonly sub: string;
  value: unknown;
}

/** A SERVER_MERGE document. */
class MergedDocument {
  /** The sole holder, while `holders` is null. */
  owner: string;
  /** Every holder, once a second subscription joined; null again when one is left. */
  holders: Set<string> | null = null;
  /**
   * The visible values as first added: the fields object the sink was given (shared with it and, with
   * `keepInput`, with the publisher), never mutated. Null once {@link own} moved them into `#values`.
   */
  #added: Fields | null;
  /** The visible value of each field (the head of its precedence list), in Meteor's key order; see {@link own}. */
  #values: Map<string, unknown> | null = null;
  /** Per field, every holder's value, first come first; non-null exactly when `holders` is. */
  lists: Map<string, PrecedenceEntry[]> | null = null;

  constructor(owner: string, added: Fields) {
    this.owner = owner;
    this.#added = added;
  }

  holds(sub: string): boolean {
    return this.holders === null ? this.owner === sub : this.holders.has(sub);
  }

  /** The visible values as a fresh object. */
  fields(): Fields {
    const fields: Fields = {};
    const added = this.#added;
    if (added !== null) for (const key of Object.keys(added)) setField(fields, key, added[key]);
    else if (this.#values !== null) for (const [key, value] of this.#values) setField(fields, key, value);
    return fields;
  }

  /** The visible values, to change: made into a map of the document's own on the first change. */
  own(): Map<string, unknown> {
    if (this.#values !== null) return this.#values;
    const values = new Map<string, unknown>();
    const added = this.#added as Fields;
    for (const key of Object.keys(added)) values.set(key, added[key]);
    this.#added = null;
    this.#values = values;
    return values;
  }

  /** Adds a second or later holder; builds the precedence lists from the sole holder's values. */
  join(sub: string): Map<string, PrecedenceEntry[]> {
    if (this.holders !== null && this.lists !== null) {
      this.holders.add(sub);
      return this.lists;
    }
    const lists = new Map<string, PrecedenceEntry[]>();
    for (const [key, value] of this.own()) lists.set(key, [{ sub: this.owner, value }]);
    this.holders = new Set([this.owner, sub]);
    this.lists = lists;
    return lists;
  }
}

/**
 * SERVER_MERGE state of one collection. A document is a {@link MergedDocument}, or just its fields object when
 * `first` holds it alone and it has not changed since it was added (see {@link docOf}).
 */
interface MergeState {
  readonly kind: 'merge';
  readonly docs: Map<string, MergedDocument | Fields>;
  /** The first subscription that added a document since the collection was last emptied. */
  first: string | undefined;
}

/** Document `id` as a {@link MergedDocument} (made from a plain entry, in place), or undefined. */
function docOf(state: MergeState, id: string): MergedDocument | undefined {
  const entry = state.docs.get(id);
  if (entry === undefined || entry instanceof MergedDocument) return entry;
  const doc = new MergedDocument(state.first as string, entry);
  state.docs.set(id, doc);
  return doc;
}

/** True if subscription `sub` holds document `id`. */
function holds(state: MergeState, id: string, sub: string): boolean {
  const entry = state.docs.get(id);
  if (entry === undefined) return false;
  return entry instanceof MergedDocument ? entry.holds(sub) : sub === state.first;
}

/** Tracked state of one collection, by strategy. */
type CollectionState =
  | MergeState
  // Holders of each document: a single subscription handle, or a set of two or more.
  | { readonly kind: 'multi'; readonly docs: Map<string, string | Set<string>> }
  | { readonly kind: 'direct'; readonly removeOnStop: boolean };

function createState(strategy: PublicationStrategy): CollectionState {
  switch (strategy) {
    case 'SERVER_MERGE':
      return { kind: 'merge', docs: new Map(), first: undefined };
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

/** Options of {@link MergeBox}. */
export interface MergeBoxOptions {
  /**
   * Pass the publisher's own `fields`/`cleared` objects to the sink when the output is exactly them (the
   * common case of a document held by one subscription). Only for sinks that consume synchronously and keep
   * nothing (a protocol encoder): it lets them cache one encoding per observer emission for all sessions.
   * Default false: the sink gets the merge box's own copies, which it may keep.
   */
  readonly reuseInput?: boolean;
  /**
   * The publishers never mutate the `fields` objects they pass in, nor the values in them, after the call (the
   * session's subscriptions guarantee it: observers emit fresh objects, low-level publications are copied on the
   * way in). The merge box then keeps their values instead of cloning them, and a document added with exactly
   * the publisher's object keeps that object as its visible values. Default false: everything is cloned.
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
  /** Output of the tracked strategies: the sink, or a null sink during a rerun. */
  private out: DataSink;
  // Output of the `changed` being computed, built lazily (most calls change a field or two, or nothing).
  private outFields: Fields | null = null;
  private readonly reuseInput: boolean;
  private readonly keepInput: boolean;
  private outCleared: string[] | null = null;

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
    this.reuseInput = options.reuseInput ?? false;
    this.keepInput = options.keepInput ?? false;
    this.sink = sink;
    this.out = sink;
    this.strategyFor = strategyFor;
  }

  /**
   * Subscription `sub` publishes document `id` with `fields` (`_id` and `undefined` values are ignored).
   * @throws MergeBoxError `already-held` if `sub` already holds it (tracked strategies).
   */
  added(sub: string, collection: string, id: string, fields: Fields): void {
    const state = this.state(collection);
    switch (state.kind) {
      case 'merge':
        this.mergeAdded(state, sub, collection, id, fields);
        return;
      case 'multi':
        this.multiAdded(state.docs, sub, collection, id, fields);
        return;
      case 'direct':
        this.sink.added(collection, id, this.passFields(fields));
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
        this.mergeChanged(state, sub, collection, id, fields, cleared);
        return;
      case 'multi':
        this.multiChanged(state.docs, sub, collection, id, fields, cleared);
        return;
      case 'direct':
        this.passChanged(this.sink, collection, id, fields, cleared);
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
        this.mergeRemoved(state, sub, collection, id);
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
   * published, per collection (the subscription's own accounting). Ids it does not hold are skipped; for
   * `NO_MERGE` collections each id is sent as `removed`, for `NO_MERGE_NO_HISTORY` nothing is sent.
   */
  removeSubscription(sub: string, docs: ReadonlyMap<string, Iterable<string>>): void {
    for (const [collection, ids] of docs) {
      const state = this.state(collection);
      switch (state.kind) {
        case 'merge':
          for (const id of ids) {
            if (holds(state, id, sub)) this.mergeRemoved(state, sub, collection, id);
          }
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

  /** True if the client holds document `id` (as far as the merge box tracks it: false for `NO_MERGE*`). */
  has(collection: string, id: string): boolean {
    const state = this.collections.get(collection);
    return state !== undefined && state.kind !== 'direct' && state.docs.has(id);
  }

  /**
   * What the client holds, for the tracked strategies: collection → id → merged fields (fresh maps and objects;
   * the values are shared and must not be mutated). `NO_MERGE_MULTI` documents have no fields (as in Meteor).
   */
  snapshot(): Snapshot {
    const result: Snapshot = new Map();
    for (const [collection, state] of this.collections) {
      if (state.kind === 'direct' || state.docs.size === 0) continue;
      const docs = new Map<string, Fields>();
      if (state.kind === 'merge') {
        for (const [id, entry] of state.docs) {
          docs.set(id, entry instanceof MergedDocument ? entry.fields() : copyOf(entry));
        }
      } else {
        for (const id of state.docs.keys()) docs.set(id, {});
      }
      result.set(collection, docs);
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
      if (state.kind === 'direct') continue;
      state.docs.clear();
      if (state.kind === 'merge') state.first = undefined;
    }
    this.out = NULL_SINK;
    return before;
  }

  /** Ends a rerun: sends the client only the differences between `before` and the rebuilt view. */
  endRerun(before: Snapshot): void {
    this.out = this.sink;
    diffSnapshots(before, this.snapshot(), this.sink);
  }

  private state(collection: string): CollectionState {
    // Consecutive calls are nearly always for one collection (a fan-out sends one change to every session).
    if (collection === this.lastCollection) return this.lastState as CollectionState;
    let state = this.collections.get(collection);
    if (state === undefined) {
      state = createState(this.strategyFor(collection));
      this.collections.set(collection, state);
    }
    this.lastCollection = collection;
    this.lastState = state;
    return state;
  }

  // SERVER_MERGE

  private mergeAdded(state: MergeState, sub: string, collection: string, id: string, fields: Fields): void {
    const docs = state.docs;
    const entry = docs.get(id);
    if (entry === undefined) {
      // A publisher that keeps its objects as they are lends its own when it has nothing to drop: the document
      // then costs no copy at all. Otherwise one pass copies (each value read once) and tells whether the copy
      // says the same as the input.
      let kept = fields;
      let verbatim = true;
      if (!this.keepInput || !isVerbatim(fields)) {
        kept = {};
        for (const key of Object.keys(fields)) {
          const value = fields[key];
          if (key === '_id' || value === undefined) verbatim = false;
          else setField(kept, key, this.keep(value));
        }
      }
      state.first ??= sub;
      docs.set(id, sub === state.first ? kept : new MergedDocument(sub, kept));
      // Hand the publisher's own object on when it says the same thing: adapters cache its encoding, so one
      // observer emission is serialized once for every session it reaches (sinks never mutate what they get).
      this.out.added(collection, id, verbatim && this.reuseInput ? fields : kept);
      return;
    }
    const doc = docOf(state, id) as MergedDocument;
    if (doc.holds(sub)) throw new MergeBoxError('already-held', sub, collection, id);
    this.resetOut();
    const lists = doc.join(sub);
    const values = doc.own();
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (key === '_id' || value === undefined) continue;
      const copy = this.keep(value);
      const list = lists.get(key);
      if (list !== undefined) {
        list.push({ sub, value: copy });
      } else {
        // Added becomes changed: only keys the client lacks are sent.
        lists.set(key, [{ sub, value: copy }]);
        values.set(key, copy);
        this.setOut(key, copy);
      }
    }
    this.flushChanged(collection, id);
  }

  private mergeChanged(
    state: MergeState,
    sub: string,
    collection: string,
    id: string,
    fields: Fields,
    cleared: readonly string[],
  ): void {
    const doc = docOf(state, id);
    if (doc === undefined) throw new MergeBoxError('unknown-document', sub, collection, id);
    if (!doc.holds(sub)) throw new MergeBoxError('not-held', sub, collection, id);
    this.resetOut();
    const values = doc.own();
    const lists = doc.lists;
    for (const key of Object.keys(fields)) {
      if (key === '_id') continue;
      const value = fields[key];
      if (value === undefined) {
        this.clearField(doc, sub, key);
      } else if (lists === null) {
        const previous = values.get(key);
        if (previous !== undefined && equals(previous, value)) continue;
        const copy = this.keep(value);
        values.set(key, copy);
        this.setOut(key, copy);
      } else {
        const list = lists.get(key);
        if (list === undefined) {
          const copy = this.keep(value);
          lists.set(key, [{ sub, value: copy }]);
          values.set(key, copy);
          this.setOut(key, copy);
          continue;
        }
        const entry = list.find((candidate) => candidate.sub === sub);
        if (entry === undefined) {
          // This subscription newly cares about the field: it waits behind the current holders.
          list.push({ sub, value: this.keep(value) });
        } else if (!equals(entry.value, value)) {
          const copy = this.keep(value);
          entry.value = copy;
          if (entry === list[0]) {
            values.set(key, copy);
            this.setOut(key, copy);
          }
        }
      }
    }
    for (const key of cleared) {
      if (key === '_id' || (Object.hasOwn(fields, key) && fields[key] !== undefined)) continue;
      this.clearField(doc, sub, key);
    }
    this.flushChanged(collection, id, fields, cleared);
  }

  private mergeRemoved(state: MergeState, sub: string, collection: string, id: string): void {
    const docs = state.docs;
    const entry = docs.get(id);
    if (entry === undefined) throw new MergeBoxError('unknown-document', sub, collection, id);
    if (!(entry instanceof MergedDocument)) {
      if (sub !== state.first) throw new MergeBoxError('not-held', sub, collection, id);
      docs.delete(id);
      this.out.removed(collection, id);
      return;
    }
    const doc = entry;
    if (!doc.holds(sub)) throw new MergeBoxError('not-held', sub, collection, id);
    const holders = doc.holders;
    if (holders === null) {
      docs.delete(id);
      this.out.removed(collection, id);
      return;
    }
    holders.delete(sub);
    this.resetOut();
    if (doc.lists !== null) for (const key of doc.lists.keys()) this.clearField(doc, sub, key);
    if (holders.size === 1) {
      // Alone again: every remaining precedence entry is the last holder's, so the visible values say it all.
      for (const last of holders) doc.owner = last;
      doc.holders = null;
      doc.lists = null;
    }
    this.flushChanged(collection, id);
  }

  /** `sub` stops contributing `key` to `doc`; records what the client sees change. */
  private clearField(doc: MergedDocument, sub: string, key: string): void {
    const lists = doc.lists;
    if (lists === null) {
      // Clearing a field that is not there is fine (Meteor: "clear undefined value").
      if (doc.own().delete(key)) this.addCleared(key);
      return;
    }
    const list = lists.get(key);
    if (list === undefined) return;
    const index = list.findIndex((entry) => entry.sub === sub);
    if (index < 0) return;
    const removed = list[index] as PrecedenceEntry;
    list.splice(index, 1);
    const head = list[0];
    if (head === undefined) {
      lists.delete(key);
      doc.own().delete(key);
      this.addCleared(key);
    } else if (index === 0) {
      // Only the holder of the visible value can change what the client sees.
      doc.own().set(key, head.value);
      if (!equals(removed.value, head.value)) this.setOut(key, head.value);
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
      this.out.added(collection, id, this.passFields(fields));
      return;
    }
    if (holders === sub || (typeof holders === 'object' && holders.has(sub))) {
      throw new MergeBoxError('already-held', sub, collection, id);
    }
    if (typeof holders === 'string') docs.set(id, new Set([holders, sub]));
    else holders.add(sub);
    // No merging: the client gets all of the new subscription's fields, overwriting (Meteor's dummy view).
    const passed = this.passFields(fields);
    if (hasKeys(passed)) this.out.changed(collection, id, passed, NO_CLEARED);
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
    this.passChanged(this.out, collection, id, fields, cleared);
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
      this.out.removed(collection, id);
      return;
    }
    if (typeof holders === 'string' || !holders.delete(sub)) {
      throw new MergeBoxError('not-held', sub, collection, id);
    }
    if (holders.size === 1) for (const last of holders) docs.set(id, last);
  }

  // Pass-through (NO_MERGE, NO_MERGE_NO_HISTORY, and NO_MERGE_MULTI's fields)

  /** `fields` without `_id` and `undefined` values; the same object when it has neither. */
  private passFields(fields: Fields): Fields {
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
  private passChanged(
    sink: DataSink,
    collection: string,
    id: string,
    fields: Fields,
    cleared: readonly string[],
  ): void {
    const passed = this.passFields(fields);
    let allCleared = cleared;
    if (passed !== fields || cleared.includes('_id')) {
      const keys = new Set<string>();
      for (const key of cleared) if (key !== '_id') keys.add(key);
      for (const key of Object.keys(fields)) if (key !== '_id' && fields[key] === undefined) keys.add(key);
      allCleared = [...keys];
    }
    if (allCleared.length > 0 || hasKeys(passed)) sink.changed(collection, id, passed, allCleared);
  }

  /** A value as the merge box keeps it: the publisher's own with `keepInput`, else a clone. */
  private keep(value: unknown): unknown {
    return this.keepInput ? value : clone(value);
  }

  // Output of `changed`

  /** Starts collecting a `changed` (dropping leftovers of a call that threw halfway, e.g. in a custom `clone`). */
  private resetOut(): void {
    this.outFields = null;
    this.outCleared = null;
  }

  private setOut(key: string, value: unknown): void {
    if (this.outFields === null) this.outFields = {};
    setField(this.outFields, key, value);
  }

  private addCleared(key: string): void {
    if (this.outCleared === null) this.outCleared = [];
    this.outCleared.push(key);
  }

  /**
   * Sends the collected `changed`, if anything changed, and resets the collector. When the collected output is
   * exactly the caller's `input` (same keys set, same keys cleared), the caller's objects are passed on instead,
   * so adapters can reuse one encoding across sessions (see mergeAdded).
   */
  private flushChanged(
    collection: string,
    id: string,
    input?: Fields,
    inputCleared?: readonly string[],
  ): void {
    const fields = this.outFields;
    const cleared = this.outCleared;
    if (fields === null && cleared === null) return;
    this.outFields = null;
    this.outCleared = null;
    if (
      input !== undefined &&
      inputCleared !== undefined &&
      sameOutput(fields, cleared, input, inputCleared)
    ) {
      this.out.changed(collection, id, input, inputCleared);
      return;
    }
    this.out.changed(collection, id, fields ?? NO_FIELDS, cleared ?? NO_CLEARED);
  }
}

/** A fresh copy of a fields object (the values shared). */
function copyOf(fields: Fields): Fields {
  const copy: Fields = {};
  for (const key of Object.keys(fields)) setField(copy, key, fields[key]);
  return copy;
}

/** True if `fields` has neither `_id` nor `undefined` values: the merge box would send it as it is. */
function isVerbatim(fields: Fields): boolean {
  for (const key in fields) if (key === '_id' || fields[key] === undefined) return false;
  return true;
}

/** True when the collected output sets exactly `input`'s keys (to its values) and clears exactly `inputCleared`. */
function sameOutput(
  fields: Fields | null,
  cleared: string[] | null,
  input: Fields,
  inputCleared: readonly string[],
): boolean {
  let inputKeys = 0;
  for (const key in input) {
    if (key === '_id' || input[key] === undefined) return false;
    inputKeys++;
  }
  if ((fields === null ? 0 : Object.keys(fields).length) !== inputKeys) return false;
  if (fields !== null) for (const key in fields) if (!Object.hasOwn(input, key)) return false;
  if ((cleared === null ? 0 : cleared.length) !== inputCleared.length) return false;
  if (cleared !== null)
    for (let i = 0; i < cleared.length; i++) if (cleared[i] !== inputCleared[i]) return false;
  return true;
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
