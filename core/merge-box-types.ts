/**
 * The vocabulary of the merge box (core/merge-box.ts) shared by its parts: documents' fields, the sink its output
 * goes to, the sources that keep a subscription's documents for it, strategies, snapshots and the contract error.
 */

/** A document's fields, EJSON values by name. Never contains `_id` (the merge box drops it). Treat as read-only. */
export type Fields = Record<string, unknown>;

/**
 * Where the merge box's output goes: the session, which turns the calls into DDP messages. Objects and arrays
 * passed in are read-only and never mutated afterwards by anyone, so a sink may keep them; for the pass-through
 * strategies they are the publisher's.
 */
export interface DataSink {
  /** The client gets a new document. */
  added(collection: string, id: string, fields: Fields): void;
  /** Fields of a document the client holds change (`fields`) or disappear (`cleared`); never both empty. */
  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void;
  /** A document the client holds disappears. */
  removed(collection: string, id: string): void;
}

/**
 * The documents one subscription published to one collection, kept by its source instead of the merge box (a
 * shared live observer keeps each document once per process; see core/live/live-observer.ts). Passed with
 * {@link MergeBox.added}: the merge box then keeps nothing of that subscription's documents and asks the source.
 *
 * Contract: the source answers with exactly what its subscription has told the merge box so far. In particular,
 * while the merge box processes one of the subscription's own calls, the source answers as before that call (an
 * observer updates what a listener holds once the listener's call returned). The `fields` objects are never
 * mutated (a change makes a new object), never contain `_id` or `undefined` values, and are the ones passed to
 * the merge box; the subscription never sends a duplicate `added` nor `changed`/`removed` for an id it does not
 * hold (the merge box does not check it).
 */
export interface PublishedDocuments {
  /** The fields of document `id` as published so far, or undefined if the subscription holds no such document. */
  fieldsOf(id: string): Fields | undefined;
  /** The ids of every document the subscription holds. */
  ids(): Iterable<string>;
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

/** The empty `cleared` list. */
export const NO_CLEARED: readonly string[] = Object.freeze([]);
/** The empty fields object. */
export const NO_FIELDS: Fields = Object.freeze({}) as Fields;

/** Sets an own property, also for the key `__proto__` (which plain assignment would treat as the prototype). */
export function setField(target: Fields, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** True if `fields` has an own enumerable key. */
export function hasKeys(fields: Fields): boolean {
  for (const key in fields) if (Object.hasOwn(fields, key)) return true;
  return false;
}

/** True if `fields` has neither `_id` nor `undefined` values: the merge box would send it as it is. */
export function isVerbatim(fields: Fields): boolean {
  for (const key in fields) if (key === '_id' || fields[key] === undefined) return false;
  return true;
}

/** A fresh copy of a fields object (the values shared). */
export function copyOf(fields: Fields): Fields {
  const copy: Fields = {};
  for (const key of Object.keys(fields)) setField(copy, key, fields[key]);
  return copy;
}
