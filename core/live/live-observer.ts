/**
 * The base of shared live observers. One observer serves every subscription (in every session) whose cursor
 * has the same key: a change is matched and diffed once per observer, then handed to each listener.
 *
 * Contracts:
 * - Listeners see a consistent stream: on attach they get `added` for every current document, then the diffs.
 *   A listener never sees `changed`/`removed` for an id it was not given, nor a duplicate `added`.
 * - Events reach `handle()` synchronously, in bus order. An observer that must re-read its state (start,
 *   resync, a limit window it cannot maintain in memory, custom SQL) runs a *requery*: one query at a time;
 *   changes arriving meanwhile either queue for replay (`replayDuringRequery`) or mark the observer dirty so
 *   another requery follows. The requery's result is diffed against what listeners hold, so they only see the
 *   net difference.
 * - `settled(seq)` resolves once every event with sequence ≤ seq is reflected in what listeners were sent;
 *   the write fence waits on it before `writesDelivered`.
 * - Documents are held once per process, here: each current document's row and its published fields, one
 *   immutable fields object per version, handed as it is to every listener (and on, by the merge boxes, to the
 *   protocol encoders, which then encode it once). Sessions keep no copy: a session's merge box asks the
 *   observer what a listener holds ({@link LiveObserver.fieldsSeenBy}).
 * - Changes reach `docs` one document at a time, and each is handed to every listener before the next: what a
 *   listener holds differs from `docs` in at most the one document being emitted, and only until its turn in
 *   that emission ({@link LiveObserver.fieldsSeenBy} answers exactly, also in the middle of an emission).
 */
import type { BusEvent } from '../bus/change-bus.js';
import type { Fields } from '../contexts.js';
import type { Row } from '../database/table-info.js';
import type { Logger } from '../logger.js';
import type { CollectionBinding } from './collection-binding.js';

/**
 * Receives an observer's output (a subscription, bridging into its session's merge box). `fields` objects are
 * the observer's own, shared by every listener: never mutate them. They never contain `_id` or `undefined`
 * values.
 */
export interface ObserverListener {
  added(id: string, fields: Fields): void;
  changed(id: string, fields: Fields, cleared: readonly string[]): void;
  removed(id: string): void;
  /**
   * Called once by {@link LiveObserver.attach}, right after the `added` of every current document: from then on
   * the listener holds exactly what {@link LiveObserver.fieldsSeenBy} and {@link LiveObserver.idsSeenBy} say
   * (also once the observer stopped).
   */
  attached?(): void;
  /**
   * Written by the observer only: the number of the last emission this listener was handed in full (see
   * {@link LiveObserver.fieldsSeenBy}). Start it at 0.
   */
  seen: number;
}

/** A current document: its row and its published fields (never mutated; a change makes a new one). */
interface ObservedDocument {
  readonly row: Row;
  readonly fields: Fields;
}

/** A change event as observers receive it: the bus event plus the row decoded once for all observers. */
export type ObserverEvent =
  | {
      readonly kind: 'change';
      readonly seq: number;
      readonly op: 'insert' | 'update' | 'delete';
      readonly id: string;
      readonly row: Row | undefined;
    }
  | { readonly kind: 'truncate'; readonly seq: number }
  | { readonly kind: 'resync'; readonly seq: number };

/** The bus's current sequence number, read when a requery starts. */
export type SequenceSource = () => number;

interface Waiter {
  readonly seq: number;
  readonly resolve: () => void;
}

/** Shared machinery of query and SQL observers. */
export abstract class LiveObserver {
  /** What listeners currently hold (but for the document being emitted): wire id → row and published fields. */
  #docs = new Map<string, ObservedDocument>();
  protected readonly listeners = new Set<ObserverListener>();
  /** Number of the current (or last) emission; listeners record the last one they were handed in `seen`. */
  #emission = 0;
  /** The id of the document being emitted, while listeners are being called for it. */
  #emittingId: string | undefined;
  /** That document as it was before this emission (undefined: it is being added). */
  #emittingBefore: ObservedDocument | undefined;
  /** Number of subscriptions using this observer (managed by the pool). */
  refCount = 0;

  #started: Promise<void> | undefined;
  #stopped = false;
  #running = false;
  #dirty = false;
  /** Smallest sequence number of an event not yet reflected (undefined: nothing pending). */
  #pendingFrom: number | undefined;
  /** Events queued during a requery, replayed on its result (observers that can replay). */
  #replay: ObserverEvent[] = [];
  #waiters: Waiter[] = [];
  #lastRun = 0;
  /** True once a read succeeded. */
  #live = false;
  #retryMs = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Waiting for the bus's watch before the first query: events are ignored. */
  #waiting = false;

  protected constructor(
    readonly key: string,
    readonly binding: CollectionBinding,
    protected readonly currentSeq: SequenceSource,
    protected readonly logger: Logger,
    /** Minimum ms between two requeries (0: back to back). */
    protected readonly throttleMs: number,
  ) {}

  /** Tables whose events this observer needs (qualified names). */
  abstract get tables(): readonly string[];

  /** Reads the current result, ordered as published. */
  protected abstract fetch(): Promise<Row[]>;

  /** Applies one event in memory while live; returns false if it needs a requery instead. */
  protected abstract apply(event: ObserverEvent): boolean;

  /** True if an event must wait for the running requery (replay) rather than dirtying it. */
  protected abstract get replayDuringRequery(): boolean;

  /**
   * Whether an event could affect a result whose content is unknown (a requery in flight). Must be true for
   * every delete and update of the table; may be false only for inserts that cannot match.
   */
  protected abstract relevant(event: ObserverEvent): boolean;

  /** The published fields of a row (projection applied). */
  protected abstract fieldsOf(row: Row): Fields;

  /**
   * Starts the observer (first query); idempotent. `after`: the bus's watch of the observer's tables, once ready (a
   * bus that filters tables, NATS): the first query waits for it, so that every change committed after its snapshot
   * is delivered; events before are ignored (the snapshot holds them).
   */
  start(after?: Promise<void>): Promise<void> {
    if (after && !this.#started) {
      this.#waiting = true;
      this.#started = after.then(() => {
        this.#waiting = false;
        return this.#requeryNow(this.currentSeq());
      });
    }
    this.#started ??= this.#requeryNow(this.currentSeq());
    return this.#started;
  }

  /**
   * Adds a listener after the first query completed; it receives `added` for every current document.
   * Rejects if the first query failed (the observer is then stopped).
   */
  async attach(listener: ObserverListener): Promise<void> {
    await this.start();
    if (this.#stopped) throw new Error(`live query ${this.key} stopped`);
    listener.seen = this.#emission;
    for (const [id, doc] of this.#docs) listener.added(id, doc.fields);
    this.listeners.add(listener);
    listener.attached?.();
  }

  /**
   * The fields of document `id` as attached `listener` was sent them: the current ones, except for the document
   * being emitted, whose previous version a listener still holds until it has been handed the emission (so, in
   * its own `changed`/`removed`, what it held before). Undefined if it holds no such document.
   */
  fieldsSeenBy(listener: ObserverListener, id: string): Fields | undefined {
    if (id === this.#emittingId && listener.seen !== this.#emission) return this.#emittingBefore?.fields;
    return this.#docs.get(id)?.fields;
  }

  /** The ids of the documents attached `listener` holds (see {@link fieldsSeenBy}). */
  idsSeenBy(listener: ObserverListener): string[] {
    const ids = [...this.#docs.keys()];
    const id = this.#emittingId;
    if (id === undefined || listener.seen === this.#emission) return ids;
    const now = this.#docs.has(id);
    const before = this.#emittingBefore !== undefined;
    if (now && !before) return ids.filter((other) => other !== id);
    if (before && !now) ids.push(id);
    return ids;
  }

  /** Number of current documents. */
  protected get documentCount(): number {
    return this.#docs.size;
  }

  /** The row of current document `id`. */
  protected rowOf(id: string): Row | undefined {
    return this.#docs.get(id)?.row;
  }

  /** The ids of the current documents, in their order. */
  protected currentIds(): IterableIterator<string> {
    return this.#docs.keys();
  }

  /** Document `id` becomes `row` (added, or changed if it was there): stored, then handed to every listener. */
  protected put(id: string, row: Row): void {
    const before = this.#docs.get(id);
    const fields = this.fieldsOf(row);
    if (before === undefined) {
      const doc: ObservedDocument = { row, fields };
      this.#docs.set(id, doc);
      this.#emit(id, undefined, (listener) => listener.added(id, fields));
      return;
    }
    const diff = diffFields(before.fields, fields);
    // Nothing published changed: the document keeps its fields object (and encoders their encoding of it).
    this.#docs.set(id, { row, fields: diff === undefined ? before.fields : fields });
    if (diff === undefined) return;
    const { fields: changed, cleared } = diff;
    this.#emit(id, before, (listener) => listener.changed(id, changed, cleared));
  }

  /** Document `id` leaves the result: dropped, then `removed` is handed to every listener. No-op if absent. */
  protected drop(id: string): void {
    const before = this.#docs.get(id);
    if (before === undefined) return;
    this.#docs.delete(id);
    this.#emit(id, before, (listener) => listener.removed(id));
  }

  /** Removes a listener (no messages are sent to it). */
  detach(listener: ObserverListener): void {
    this.listeners.delete(listener);
  }

  /** Stops the observer: no more queries or emissions. Waiters resolve. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.listeners.clear();
    this.#resolveWaiters(Number.POSITIVE_INFINITY);
  }

  /** Handles one event in bus order. */
  handle(event: ObserverEvent): void {
    if (this.#stopped || this.#waiting) return;
    if (event.kind === 'resync') {
      this.#markDirty(event.seq);
      return;
    }
    if (this.#running || this.#timer) {
      // The result in flight is unknown, so anything that could touch it must be replayed or re-read.
      if (!this.relevant(event)) return;
      if (this.replayDuringRequery && this.#running) {
        this.#pendingFrom ??= event.seq;
        this.#replay.push(event);
      } else {
        this.#markDirty(event.seq);
      }
      return;
    }
    if (!this.#started) return;
    if (!this.apply(event)) this.#markDirty(event.seq);
  }

  /** Resolves once every event with sequence ≤ `seq` is reflected in what listeners were sent. */
  settled(seq: number): Promise<void> {
    if (this.#stopped || this.#pendingFrom === undefined || this.#pendingFrom > seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  #markDirty(seq: number): void {
    this.#pendingFrom ??= seq;
    if (this.#running || this.#timer) {
      this.#dirty = true;
      return;
    }
    this.#schedule();
  }

  #schedule(): void {
    const wait = this.#lastRun + this.throttleMs - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#requeryInBackground();
      }, wait);
      return;
    }
    this.#requeryInBackground();
  }

  /** A re-read nobody awaits (the first one is awaited by `start`): what it throws goes to the logger. */
  #requeryInBackground(): void {
    this.#requeryNow(this.currentSeq()).catch((error: unknown) => {
      this.logger.error({ err: error, observer: this.key }, 'live query failed');
    });
  }

  async #requeryNow(startSeq: number): Promise<void> {
    if (this.#stopped) return;
    this.#running = true;
    this.#dirty = false;
    this.#lastRun = Date.now();
    let ok = false;
    try {
      const rows = await this.fetch();
      if (this.#stopped) return;
      this.#publishSnapshot(rows);
      const replay = this.#replay;
      this.#replay = [];
      for (const event of replay) {
        if (!this.apply(event)) {
          this.#dirty = true;
          break;
        }
      }
      ok = true;
      this.#live = true;
      this.#retryMs = 0;
    } catch (error) {
      this.#replay = [];
      if (!this.#live) {
        // The first read failed (bad SQL, missing permission): fail the subscriptions waiting on it.
        this.#running = false;
        this.stop();
        throw error;
      }
      // A live query that fails later (database restarting) keeps its state and retries with backoff.
      this.logger.error({ err: error, observer: this.key }, 'live query failed; retrying');
      this.#dirty = true;
      this.#retryMs = Math.min(Math.max(this.#retryMs * 2, 200), 5000);
      await new Promise((r) => setTimeout(r, this.#retryMs));
    } finally {
      this.#running = false;
    }
    if (this.#stopped) return;
    if (this.#dirty) {
      // Events after startSeq are not reflected yet; everything up to startSeq is (if the query succeeded).
      if (ok) this.#resolveWaiters(startSeq);
      this.#schedule();
    } else {
      this.#pendingFrom = undefined;
      this.#resolveWaiters(Number.POSITIVE_INFINITY);
    }
  }

  #resolveWaiters(upTo: number): void {
    if (this.#pendingFrom !== undefined && upTo !== Number.POSITIVE_INFINITY) {
      // Pending now starts after the last covered sequence.
      this.#pendingFrom = Math.max(this.#pendingFrom, upTo + 1);
    }
    const keep: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.seq <= upTo) waiter.resolve();
      else keep.push(waiter);
    }
    this.#waiters = keep;
  }

  /**
   * Replaces the published state with `rows`, sending listeners only the differences, one document at a time;
   * at the end the documents are in the order of `rows`.
   */
  #publishSnapshot(rows: readonly Row[]): void {
    const next = new Map<string, Row>();
    for (const row of rows) next.set(this.binding.wireId(row), row);
    for (const [id, row] of next) this.put(id, row);
    for (const id of [...this.#docs.keys()]) if (!next.has(id)) this.drop(id);
    const ordered = new Map<string, ObservedDocument>();
    for (const id of next.keys()) ordered.set(id, this.#docs.get(id) as ObservedDocument);
    this.#docs = ordered;
    this.afterSnapshot(rows);
  }

  /** Hook for subclasses keeping extra state (a sorted window) in step with the documents. */
  protected afterSnapshot(_rows: readonly Row[]): void {}

  /**
   * Hands one emission about document `id` (which was `before`) to every listener, in order, each marked as
   * having seen it once its call returned.
   */
  #emit(id: string, before: ObservedDocument | undefined, call: (listener: ObserverListener) => void): void {
    if (this.listeners.size === 0) return;
    const emission = ++this.#emission;
    this.#emittingId = id;
    this.#emittingBefore = before;
    try {
      for (const listener of this.listeners) {
        call(listener);
        listener.seen = emission;
      }
    } finally {
      this.#emittingId = undefined;
      this.#emittingBefore = undefined;
    }
  }
}

/** The difference between two field sets: changed/new values and cleared names; undefined when equal. */
export function diffFields(before: Fields, after: Fields): { fields: Fields; cleared: string[] } | undefined {
  let fields: Fields | undefined;
  let cleared: string[] | undefined;
  for (const name in after) {
    const value = after[name];
    if (!Object.hasOwn(before, name) || !valuesEqual(before[name], value)) {
      fields ??= {};
      fields[name] = value;
    }
  }
  for (const name in before) {
    if (!Object.hasOwn(after, name)) {
      cleared ??= [];
      cleared.push(name);
    }
  }
  if (!fields && !cleared) return undefined;
  return { fields: fields ?? {}, cleared: cleared ?? [] };
}

/** Structural equality of in-memory values (JSON values, Date, Uint8Array). */
export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || b instanceof Date || b instanceof Uint8Array) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!valuesEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** Resolves a bus event's table to the observer-facing form; used by the pool. */
export type { BusEvent };
