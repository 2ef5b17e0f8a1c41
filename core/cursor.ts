/**
 * Cursors: descriptions of live data a publication returns. A cursor does nothing by itself; the session turns
 * it into a shared live observer when the subscription starts (core/live/observer-pool.ts).
 *
 * - {@link QueryCursor}: a selector on a collection with sort/limit/skip/fields. It compiles to SQL for the
 *   snapshot and to an in-memory predicate, so a change notification costs no query.
 * - {@link SqlCursor}: arbitrary SQL returning rows with the collection's key column; re-run and diffed
 *   (throttled) when a table it reads changes.
 */
import type { QueryOptions, Selector } from './query/compile.js';

/** A selector-based cursor on a registered collection. */
export class QueryCursor {
  readonly kind = 'query';
  constructor(
    readonly collection: string,
    readonly selector: Selector,
    readonly options: QueryOptions,
  ) {}
}

/** Options of a {@link SqlCursor}. */
export interface SqlCursorOptions {
  /** Tables (`table` or `schema.table`) whose changes re-run the query; default: the collection's table. */
  readonly tables?: readonly string[];
  /** Minimum time between two re-runs, in ms (default 50). */
  readonly throttleMs?: number;
}

/** A custom-SQL cursor; rows must include the collection's key column. */
export class SqlCursor {
  readonly kind = 'sql';
  constructor(
    readonly collection: string,
    readonly text: string,
    readonly params: readonly unknown[],
    readonly options: SqlCursorOptions,
  ) {}
}

/** Anything a publication may return as live data. */
export type Cursor = QueryCursor | SqlCursor;

/** True for values created by `ctx.find` / `ctx.sql`. */
export function isCursor(value: unknown): value is Cursor {
  return value instanceof QueryCursor || value instanceof SqlCursor;
}
