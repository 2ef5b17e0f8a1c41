/**
 * The SERVER_MERGE state of one collection in one session's merge box: Meteor's SessionCollectionView and
 * SessionDocumentView (packages/ddp-server/session_view.js), with their exact output, but without a copy of any
 * document (DESIGN.md decision 15).
 *
 * **Holders.** Each subscription publishing to the collection is a holder. A holder's documents are kept either
 * by its source ({@link PublishedDocuments}: a shared live observer, which holds each document once per process
 * and answers what this subscription was sent), or, for subscriptions publishing through the low-level API, by
 * the holder itself (id → fields, immutable objects replaced on change). What the client sees of a document is
 * computed from the holders that hold it; nothing else is stored per document.
 *
 * **Precedence.** Meteor gives each field to the first subscription that published it: a field's precedence is
 * the holders having it, in the order they started publishing it; the client sees the first one's value. Here
 * that order is implied, with no state, in the common case: a document's holders in the order they added it,
 * and those in the order the holders first published to the collection (registration order). A document whose
 * holders added it in another order keeps that order ({@link Precedence.order}); a field whose holders started
 * publishing it out of that order keeps its own list ({@link Precedence.fields}); both go when one holder is
 * left. So a document held by one observer-backed subscription costs the session nothing, and one held by
 * several costs nothing either while they added it in registration order.
 *
 * Output goes to the box's current sink ({@link MergeContext.out}) synchronously. Calls by a source-backed holder
 * are trusted (see the contract of {@link PublishedDocuments}); calls by a holder that keeps its own documents
 * are checked and throw {@link MergeBoxError} without emitting anything.
 */
import { clone, equals } from './ejson.js';
import {
  copyOf,
  type DataSink,
  type Fields,
  isVerbatim,
  MergeBoxError,
  NO_CLEARED,
  NO_FIELDS,
  type PublishedDocuments,
  setField,
} from './merge-box-types.js';

/** What the collections of one merge box share: the current sink and the box's options. */
export interface MergeContext {
  /** The sink, or a null sink while a rerun rebuilds the view. */
  out: DataSink;
  /** Pass the publisher's own objects to the sink when the output is exactly them (MergeBoxOptions.reuseInput). */
  readonly reuseInput: boolean;
  /** Keep low-level publishers' objects instead of cloning them (MergeBoxOptions.keepInput). */
  readonly keepInput: boolean;
}

/** One subscription publishing to the collection. */
class Holder {
  constructor(
    readonly sub: string,
    /** Where its documents are kept; null once they are kept here, in {@link own}. */
    public source: PublishedDocuments | null,
    /** Its documents, when it has no source: id → fields (never mutated; replaced on change). */
    public own: Map<string, Fields> | null,
  ) {}

  /** The fields of document `id` this holder published, or undefined. */
  fieldsOf(id: string): Fields | undefined {
    return this.source !== null ? this.source.fieldsOf(id) : (this.own as Map<string, Fields>).get(id);
  }

  /** The ids of its documents. */
  ids(): string[] {
    return [...(this.source !== null ? this.source.ids() : (this.own as Map<string, Fields>).keys())];
  }
}

/** A document's precedence where the registration order does not say it (see the module header). */
interface Precedence {
  /** The document's holders in the order they added it; null: the registration order. */
  order: Holder[] | null;
  /** Per field, the holders having it in the order they started publishing it; only where `order` says otherwise. */
  fields: Map<string, Holder[]> | null;
}

/** True if `fields` has its own key `key`. */
function has(fields: Fields, key: string): boolean {
  return Object.hasOwn(fields, key);
}

/** The SERVER_MERGE view of one collection. */
export class MergedCollection {
  readonly kind = 'merge';
  /** Holders in the order they first published to the collection. */
  #holders: Holder[] = [];
  /** Documents whose precedence the registration order does not imply. */
  #precedence: Map<string, Precedence> | undefined;
  // The `changed` being collected, made on first need (most calls change a field or two, or nothing).
  #outFields: Fields | null = null;
  #outCleared: string[] | null = null;

  constructor(
    readonly collection: string,
    private readonly context: MergeContext,
  ) {}

  /** True if the client holds document `id`. */
  has(id: string): boolean {
    for (const holder of this.#holders) if (holder.fieldsOf(id) !== undefined) return true;
    return false;
  }

  /**
   * Every document the client holds, with the fields it sees: fresh objects with shared values, or with `shared`
   * a document one subscription alone publishes is its holder's own object (never mutated: replaced on change), so
   * a reader can tell documents shared across sessions by identity (the DDP hand-off's document table).
   */
  snapshot(shared = false): Map<string, Fields> {
    const docs = new Map<string, Fields>();
    for (const holder of this.#holders) {
      for (const id of holder.ids()) if (!docs.has(id)) docs.set(id, this.#visible(id, shared));
    }
    return docs;
  }

  /** Forgets everything (a rerun starts from an empty view). */
  clear(): void {
    this.#holders = [];
    this.#precedence = undefined;
  }

  /**
   * Subscription `sub` publishes document `id`. With `source`, its documents are kept there from its first call
   * on (see {@link PublishedDocuments}); without, `fields` are copied (`_id` and `undefined` values dropped).
   */
  added(sub: string, id: string, fields: Fields, source: PublishedDocuments | undefined): void {
    const holders = this.#holders;
    let holder = this.#holderOf(sub);
    if (holder === undefined) {
      holder = new Holder(sub, source ?? null, source === undefined ? new Map() : null);
      holders.push(holder);
    }
    let kept = fields;
    let verbatim = true;
    const own = holder.own;
    if (own !== null) {
      if (own.has(id)) throw new MergeBoxError('already-held', sub, this.collection, id);
      // A publisher that keeps its objects as they are lends its own when it has nothing to drop.
      if (!this.context.keepInput || !isVerbatim(fields)) {
        kept = {};
        for (const key of Object.keys(fields)) {
          const value = fields[key];
          if (key === '_id' || value === undefined) verbatim = false;
          else setField(kept, key, this.#keep(value));
        }
      }
    }
    const others = holders.length > 1 ? this.#othersHolding(holder, id) : null;
    own?.set(id, kept);
    if (others === null) {
      // Adapters cache the encoding of the publisher's own object across sessions (sinks never mutate it).
      this.context.out.added(this.collection, id, verbatim && this.context.reuseInput ? fields : kept);
      return;
    }
    this.#join(holder, others, id, kept);
  }

  /**
   * Subscription `sub` changes document `id`: `fields` are set, `cleared` are removed. A key whose value in
   * `fields` is `undefined` counts as cleared; a key both set in `fields` and named in `cleared` is set.
   */
  changed(sub: string, id: string, fields: Fields, cleared: readonly string[]): void {
    const holders = this.#holders;
    if (holders.length === 1) {
      const sole = holders[0] as Holder;
      // The fan-out path: a source's changes are exact differences of what the client holds.
      if (sole.sub === sub && sole.source !== null) {
        this.context.out.changed(this.collection, id, fields, cleared);
        return;
      }
    }
    const holder = this.#holderOf(sub);
    const before = holder?.fieldsOf(id);
    if (holder === undefined || before === undefined) throw this.#violation(sub, id);
    const others = holders.length > 1 ? this.#othersHolding(holder, id) : null;
    if (others === null && holder.source !== null) {
      this.context.out.changed(this.collection, id, fields, cleared);
      return;
    }
    const after = this.#applied(holder, before, fields, cleared);
    this.#resetOut();
    if (others === null) {
      this.#diffOut(before, after, fields, cleared);
    } else {
      const keys = new Set<string>();
      for (const key of Object.keys(fields)) if (key !== '_id') keys.add(key);
      for (const key of cleared) if (key !== '_id') keys.add(key);
      for (const key of keys) this.#changeField(holder, id, key, before, after);
    }
    holder.own?.set(id, after);
    this.#flushChanged(id, fields, cleared);
  }

  /** Subscription `sub` no longer publishes document `id`. */
  removed(sub: string, id: string): void {
    const holders = this.#holders;
    if (holders.length === 1) {
      const sole = holders[0] as Holder;
      if (sole.sub === sub && sole.source !== null) {
        this.context.out.removed(this.collection, id);
        return;
      }
    }
    const holder = this.#holderOf(sub);
    const before = holder?.fieldsOf(id);
    if (holder === undefined || before === undefined) throw this.#violation(sub, id);
    const others = holders.length > 1 ? this.#othersHolding(holder, id) : null;
    if (others === null) {
      holder.own?.delete(id);
      this.context.out.removed(this.collection, id);
      return;
    }
    this.#resetOut();
    const precedence = this.#precedence?.get(id);
    for (const key of Object.keys(before)) {
      const list = this.#listOf(id, key, precedence);
      if (list[0] === holder) this.#reveal(id, key, before[key], list[1]);
      this.#withdraw(precedence, key, holder);
    }
    if (precedence !== undefined) {
      if (others.length === 1) this.#precedence?.delete(id);
      else {
        const order = precedence.order;
        if (order !== null) order.splice(order.indexOf(holder), 1);
        this.#tidy(id, precedence);
      }
    }
    holder.own?.delete(id);
    this.#flushChanged(id);
  }

  /**
   * Everything subscription `sub` published is withdrawn (Meteor's `_removeAllDocuments` on unsub, stop and
   * error): documents only it held are removed, shared ones reveal the next holders' values. It is then forgotten.
   */
  removeHolder(sub: string): void {
    const holder = this.#holderOf(sub);
    if (holder === undefined) return;
    for (const id of holder.ids()) if (holder.fieldsOf(id) !== undefined) this.removed(sub, id);
    this.#holders = this.#holders.filter((other) => other !== holder);
  }

  /**
   * From now on the merge box keeps subscription `sub`'s documents itself (the fields objects its source has,
   * not copies) and its calls are checked: its source stops being the whole truth (the low-level API publishes
   * to the same collection). No-op if it published nothing here or keeps its own already.
   */
  takeOver(sub: string): void {
    const holder = this.#holderOf(sub);
    if (holder === undefined || holder.source === null) return;
    const own = new Map<string, Fields>();
    for (const id of holder.ids()) own.set(id, holder.fieldsOf(id) as Fields);
    holder.own = own;
    holder.source = null;
  }

  #holderOf(sub: string): Holder | undefined {
    for (const holder of this.#holders) if (holder.sub === sub) return holder;
    return undefined;
  }

  /** The holders other than `holder` that hold `id`, in registration order; null if none. */
  #othersHolding(holder: Holder, id: string): Holder[] | null {
    let others: Holder[] | null = null;
    for (const other of this.#holders) {
      if (other !== holder && other.fieldsOf(id) !== undefined) {
        if (others === null) others = [other];
        else others.push(other);
      }
    }
    return others;
  }

  #violation(sub: string, id: string): MergeBoxError {
    return new MergeBoxError(this.has(id) ? 'not-held' : 'unknown-document', sub, this.collection, id);
  }

  /** The document's holders in precedence order (its own order, else the registration order). */
  #orderOf(id: string, precedence: Precedence | undefined): Holder[] {
    if (precedence?.order) return precedence.order;
    return this.#holders.filter((holder) => holder.fieldsOf(id) !== undefined);
  }

  /** The holders having field `key` of document `id`, first first (each as it stands before the call). */
  #listOf(id: string, key: string, precedence: Precedence | undefined): Holder[] {
    const explicit = precedence?.fields?.get(key);
    if (explicit !== undefined) return explicit;
    return this.#orderOf(id, precedence).filter((holder) => has(holder.fieldsOf(id) as Fields, key));
  }

  #precedenceOf(id: string): Precedence {
    this.#precedence ??= new Map();
    let precedence = this.#precedence.get(id);
    if (precedence === undefined) {
      precedence = { order: null, fields: null };
      this.#precedence.set(id, precedence);
    }
    return precedence;
  }

  /** Drops what no longer says anything. */
  #tidy(id: string, precedence: Precedence): void {
    if (precedence.fields?.size === 0) precedence.fields = null;
    if (precedence.order === null && precedence.fields === null) this.#precedence?.delete(id);
  }

  /** `holder` adds document `id`, which `others` (registration order) hold already. */
  #join(holder: Holder, others: Holder[], id: string, fields: Fields): void {
    this.#resetOut();
    let precedence = this.#precedence?.get(id);
    if (precedence?.order) {
      precedence.order.push(holder);
    } else if (this.#holders.indexOf(holder) < this.#holders.indexOf(others[others.length - 1] as Holder)) {
      // It registered before a holder that added the document first: the document keeps its own order.
      precedence = this.#precedenceOf(id);
      precedence.order = [...others, holder];
    }
    for (const key of Object.keys(fields)) {
      let held = false;
      for (const other of others) {
        if (has(other.fieldsOf(id) as Fields, key)) {
          held = true;
          break;
        }
      }
      // Added becomes changed: only keys the client lacks are sent; the others wait in line.
      if (!held) this.#setOut(key, fields[key]);
      else precedence?.fields?.get(key)?.push(holder);
    }
    this.#flushChanged(id);
  }

  /**
   * What `holder`'s fields of a document become with a change: a new object (`before` is never mutated). A value
   * equal to the one held (`EJSON.equals`) stays the one held: for Meteor that is no change.
   */
  #applied(holder: Holder, before: Fields, fields: Fields, cleared: readonly string[]): Fields {
    const sets = (key: string): boolean => key !== '_id' && has(fields, key) && fields[key] !== undefined;
    const clears = (key: string): boolean => !sets(key) && (has(fields, key) || cleared.includes(key));
    const after: Fields = {};
    for (const key of Object.keys(before)) {
      if (sets(key)) {
        const value = fields[key];
        setField(after, key, equals(before[key], value) ? before[key] : this.#valueOf(holder, value));
      } else if (!clears(key)) {
        setField(after, key, before[key]);
      }
    }
    for (const key of Object.keys(fields)) {
      if (sets(key) && !has(before, key)) setField(after, key, this.#valueOf(holder, fields[key]));
    }
    return after;
  }

  /** Output of a change by a document's only holder: what differs between what it had and what it has. */
  #diffOut(before: Fields, after: Fields, fields: Fields, cleared: readonly string[]): void {
    for (const key of Object.keys(fields)) {
      if (key === '_id' || !has(after, key)) continue;
      if (!has(before, key) || after[key] !== before[key]) this.#setOut(key, after[key]);
    }
    const gone = (key: string): void => {
      if (key !== '_id' && has(before, key) && !has(after, key) && !this.#outCleared?.includes(key))
        this.#addCleared(key);
    };
    for (const key of Object.keys(fields)) if (fields[key] === undefined) gone(key);
    for (const key of cleared) gone(key);
  }

  /**
   * Field `key` of document `id` goes from `before` to `after` for `holder`, which shares the document with other
   * holders.
   */
  #changeField(holder: Holder, id: string, key: string, before: Fields, after: Fields): void {
    const had = has(before, key);
    const hasNow = has(after, key);
    if (!had && !hasNow) return; // clearing a field that is not there is fine (Meteor: "clear undefined value")
    const precedence = this.#precedence?.get(id);
    const list = this.#listOf(id, key, precedence);
    if (had && hasNow) {
      if (after[key] !== before[key] && list[0] === holder) this.#setOut(key, after[key]);
      return;
    }
    if (had) {
      if (list[0] === holder) this.#reveal(id, key, before[key], list[1]);
      this.#withdraw(precedence, key, holder);
      if (precedence !== undefined) this.#tidy(id, precedence);
      return;
    }
    // It newly publishes the field: it waits behind those who have it (Meteor appends it to the list).
    if (list.length === 0) {
      this.#setOut(key, after[key]);
      return;
    }
    const explicit = precedence?.fields?.get(key);
    if (explicit !== undefined) {
      explicit.push(holder);
      return;
    }
    const order = precedence?.order ?? this.#orderOf(id, undefined);
    if (order.indexOf(holder) < order.indexOf(list[list.length - 1] as Holder)) {
      const own = precedence ?? this.#precedenceOf(id);
      own.fields ??= new Map();
      own.fields.set(key, [...list, holder]);
    }
  }

  /** The holder of the visible value of `key` (which was `value`) leaves it; `next` is next in line. */
  #reveal(id: string, key: string, value: unknown, next: Holder | undefined): void {
    if (next === undefined) {
      this.#addCleared(key);
      return;
    }
    const revealed = (next.fieldsOf(id) as Fields)[key];
    if (!equals(value, revealed)) this.#setOut(key, revealed);
  }

  /** Removes `holder` from the explicit list of `key`, dropped once it says nothing (one holder or none). */
  #withdraw(precedence: Precedence | undefined, key: string, holder: Holder): void {
    const explicit = precedence?.fields?.get(key);
    if (explicit === undefined) return;
    const index = explicit.indexOf(holder);
    if (index >= 0) explicit.splice(index, 1);
    if (explicit.length <= 1) precedence?.fields?.delete(key);
  }

  /** The fields the client sees of document `id` (a fresh object), or undefined if it has none. */
  #visible(id: string, shared = false): Fields {
    const precedence = this.#precedence?.get(id);
    const order = this.#orderOf(id, precedence);
    if (order.length === 1) {
      const fields = order[0]?.fieldsOf(id) as Fields;
      return shared ? fields : copyOf(fields);
    }
    const visible: Fields = {};
    for (const holder of order) {
      for (const key of Object.keys(holder.fieldsOf(id) as Fields)) {
        if (has(visible, key)) continue;
        const head = this.#listOf(id, key, precedence)[0] as Holder;
        setField(visible, key, (head.fieldsOf(id) as Fields)[key]);
      }
    }
    return visible;
  }

  /** A value as a holder without a source keeps it: the publisher's own with `keepInput`, else a clone. */
  #keep(value: unknown): unknown {
    return this.context.keepInput ? value : clone(value);
  }

  /** A value `holder` publishes, as kept: a source's as it is (immutable), else {@link #keep}. */
  #valueOf(holder: Holder, value: unknown): unknown {
    return holder.source !== null ? value : this.#keep(value);
  }

  // Output of `changed`

  /** Starts collecting a `changed` (dropping leftovers of a call that threw halfway, e.g. in a custom `clone`). */
  #resetOut(): void {
    this.#outFields = null;
    this.#outCleared = null;
  }

  #setOut(key: string, value: unknown): void {
    if (this.#outFields === null) this.#outFields = {};
    setField(this.#outFields, key, value);
  }

  #addCleared(key: string): void {
    if (this.#outCleared === null) this.#outCleared = [];
    this.#outCleared.push(key);
  }

  /**
   * Sends the collected `changed`, if anything changed, and resets the collector. When the collected output is
   * exactly the caller's `input` (same keys set, same keys cleared), the caller's objects are passed on instead,
   * so adapters can reuse one encoding across sessions.
   */
  #flushChanged(id: string, input?: Fields, inputCleared?: readonly string[]): void {
    const fields = this.#outFields;
    const cleared = this.#outCleared;
    if (fields === null && cleared === null) return;
    this.#outFields = null;
    this.#outCleared = null;
    const out = this.context.out;
    if (
      this.context.reuseInput &&
      input !== undefined &&
      inputCleared !== undefined &&
      sameOutput(fields, cleared, input, inputCleared)
    ) {
      out.changed(this.collection, id, input, inputCleared);
      return;
    }
    out.changed(this.collection, id, fields ?? NO_FIELDS, cleared ?? NO_CLEARED);
  }
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
    if (fields === null || !has(fields, key) || fields[key] !== input[key]) return false;
    inputKeys++;
  }
  if ((fields === null ? 0 : Object.keys(fields).length) !== inputKeys) return false;
  if ((cleared === null ? 0 : cleared.length) !== inputCleared.length) return false;
  if (cleared !== null)
    for (let i = 0; i < cleared.length; i++) if (cleared[i] !== inputCleared[i]) return false;
  return true;
}
