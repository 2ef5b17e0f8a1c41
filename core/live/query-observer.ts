/**
 * A live query: a compiled selector (core/query) on one collection. Changes are matched in memory against the
 * row carried by the notification, so they cost no query. Unlimited queries are maintained entirely in memory
 * (requeries only on start and resync, replaying changes that arrive meanwhile). With `limit` the observer keeps
 * the sorted window and handles entries, exits and moves in memory while it can prove the result; when a
 * document leaves a full window (or anything changes under `skip`) it re-reads the window instead.
 */
import type { Fields } from '../contexts.js';
import type { Database } from '../database/database.js';
import { rowJsonSql } from '../database/row-codec.js';
import type { Row } from '../database/table-info.js';
import type { Logger } from '../logger.js';
import { type CompiledQuery, selectStatement } from '../query/compile.js';
import type { CollectionBinding } from './collection-binding.js';
import { LiveObserver, type ObserverEvent, type SequenceSource } from './live-observer.js';

/** Requery throttle for limit/skip windows, in ms. */
const WINDOW_THROTTLE_MS = 10;

/** A shared observer of one compiled query. */
export class QueryObserver extends LiveObserver {
  readonly #query: CompiledQuery;
  readonly #db: Database;
  readonly #windowed: boolean;
  readonly #limit: number;
  /** Sorted current result when windowed (the same rows as the documents). */
  #window: Row[] = [];

  constructor(
    query: CompiledQuery,
    binding: CollectionBinding,
    db: Database,
    currentSeq: SequenceSource,
    logger: Logger,
  ) {
    super(`query:${binding.name}:${query.key}`, binding, currentSeq, logger, WINDOW_THROTTLE_MS);
    this.#query = query;
    this.#db = db;
    this.#limit = query.limit ?? Number.POSITIVE_INFINITY;
    this.#windowed = query.limit !== undefined || query.skip > 0;
  }

  get tables(): readonly string[] {
    return [this.binding.table.qualifiedName];
  }

  protected get replayDuringRequery(): boolean {
    return !this.#windowed;
  }

  protected relevant(event: ObserverEvent): boolean {
    if (event.kind === 'change' && event.op === 'insert' && event.row) return this.#query.matches(event.row);
    return true;
  }

  protected fieldsOf(row: Row): Fields {
    return this.binding.fields(this.#query.project(row));
  }

  protected async fetch(): Promise<Row[]> {
    const { text, values } = selectStatement(this.#query, `${rowJsonSql(this.binding.table, 't')} AS r`);
    const result = await this.#db.query<{ r: Record<string, unknown> }>(text, values);
    return result.rows.map((r) => this.binding.decode(r.r));
  }

  protected override afterSnapshot(rows: readonly Row[]): void {
    if (this.#windowed) this.#window = [...rows];
  }

  protected apply(event: ObserverEvent): boolean {
    if (event.kind === 'resync') return false;
    if (event.kind === 'truncate') {
      // The table is empty at this point of the commit order; later inserts arrive as their own events.
      this.#window = [];
      for (const id of [...this.currentIds()]) this.drop(id);
      return true;
    }
    return this.#windowed ? this.#applyWindowed(event) : this.#applyUnlimited(event);
  }

  #applyUnlimited(event: Extract<ObserverEvent, { kind: 'change' }>): boolean {
    const { id, row } = event;
    const matches = row !== undefined && event.op !== 'delete' && this.#query.matches(row);
    if (matches) this.put(id, row);
    else this.drop(id);
    return true;
  }

  #applyWindowed(event: Extract<ObserverEvent, { kind: 'change' }>): boolean {
    // Under `skip`, a change before the window (which we do not hold) shifts it: re-read on anything relevant.
    if (this.#query.skip > 0) return !this.relevant(event);
    const { id, row } = event;
    const old = this.rowOf(id);
    const matches = row !== undefined && event.op !== 'delete' && this.#query.matches(row);
    if (!old && !matches) return true;
    const compare = this.#query.compare;
    const full = this.#window.length >= this.#limit;
    if (old && !matches) {
      if (full) return false; // something beyond the window may move in: re-read it
      this.#removeFromWindow(old);
      this.drop(id);
      return true;
    }
    if (!row) return true;
    if (old) {
      const last = this.#window[this.#window.length - 1];
      if (full && last !== undefined && compare(row, last) > 0 && compare(row, old) > 0) return false;
      this.#removeFromWindow(old);
      this.#insertIntoWindow(row);
      this.put(id, row);
      return true;
    }
    if (!full) {
      this.#insertIntoWindow(row);
      this.put(id, row);
      return true;
    }
    const last = this.#window[this.#window.length - 1];
    if (last === undefined || compare(row, last) >= 0) return true; // sorts after the window
    this.#window.pop();
    this.drop(this.binding.wireId(last));
    this.#insertIntoWindow(row);
    this.put(id, row);
    return true;
  }

  #insertIntoWindow(row: Row): void {
    const compare = this.#query.compare;
    let lo = 0;
    let hi = this.#window.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.#window[mid]!, row) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.#window.splice(lo, 0, row);
  }

  #removeFromWindow(row: Row): void {
    const index = this.#window.indexOf(row);
    if (index >= 0) this.#window.splice(index, 1);
  }
}
