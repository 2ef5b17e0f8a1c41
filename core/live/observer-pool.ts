/**
 * The process's live observers, shared across sessions: identical cursors get one observer (one match, one
 * diff per change, whatever the number of subscribers). Routes bus events to the observers of the changed
 * table, decoding each notification's row once per collection.
 */
import type { BusEvent, TableWatch } from '../bus/change-bus.js';
import { type Cursor, QueryCursor } from '../cursor.js';
import type { Database } from '../database/database.js';
import type { Row } from '../database/table-info.js';
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { compiledQuery } from '../query/compile-cache.js';
import type { CollectionBinding } from './collection-binding.js';
import type { LiveObserver, ObserverEvent } from './live-observer.js';
import { QueryObserver } from './query-observer.js';
import { SqlObserver } from './sql-observer.js';

const DEFAULT_SQL_THROTTLE_MS = 50;

/** Creates, shares and feeds live observers. */
export class ObserverPool {
  readonly #byKey = new Map<string, LiveObserver>();
  readonly #byTable = new Map<string, Set<LiveObserver>>();
  readonly #bindingsByTable = new Map<string, CollectionBinding[]>();
  /** The bus's watch of each observer's tables (a bus that filters tables). */
  readonly #watches = new Map<LiveObserver, TableWatch>();

  constructor(
    private readonly db: Database,
    private readonly bindings: ReadonlyMap<string, CollectionBinding>,
    private readonly currentSeq: () => number,
    private readonly logger: Logger,
    /** The bus's {@link ChangeBus.watch}, when it filters tables: observers ask for theirs while they live. */
    private readonly watch?: (tables: readonly string[]) => TableWatch,
  ) {
    for (const binding of bindings.values()) {
      const list = this.#bindingsByTable.get(binding.table.qualifiedName) ?? [];
      list.push(binding);
      this.#bindingsByTable.set(binding.table.qualifiedName, list);
    }
  }

  /** Number of live observers (for metrics and tests). */
  get size(): number {
    return this.#byKey.size;
  }

  /** The collection binding for `name`, or a ConfigurationError. */
  binding(name: string): CollectionBinding {
    const binding = this.bindings.get(name);
    if (!binding) throw new ConfigurationError(`collection '${name}' is not registered`);
    return binding;
  }

  /** The shared observer for `cursor` (created and started if new); pair every call with {@link release}. */
  acquire(cursor: Cursor): LiveObserver {
    const binding = this.binding(cursor.collection);
    let observer: LiveObserver;
    if (cursor instanceof QueryCursor) {
      const query = compiledQuery(binding.table, cursor.selector, cursor.options);
      const key = `query:${binding.name}:${query.key}`;
      observer =
        this.#byKey.get(key) ??
        this.#add(new QueryObserver(query, binding, this.db, this.currentSeq, this.logger));
    } else {
      const tables = (cursor.options.tables ?? [binding.table.qualifiedName]).map((t) => this.#qualify(t));
      for (const table of tables) {
        if (!this.#bindingsByTable.has(table)) {
          throw new ConfigurationError(
            `sql cursor of '${binding.name}' watches ${table}, which no registered collection captures`,
          );
        }
      }
      const key = `sql:${binding.name}:${JSON.stringify([cursor.text, cursor.params, tables])}`;
      observer =
        this.#byKey.get(key) ??
        this.#add(
          new SqlObserver(
            key,
            binding,
            this.db,
            cursor.text,
            cursor.params,
            tables,
            cursor.options.throttleMs ?? DEFAULT_SQL_THROTTLE_MS,
            this.currentSeq,
            this.logger,
          ),
        );
    }
    observer.refCount++;
    return observer;
  }

  /** Drops one use of `observer`; the last release stops it. */
  release(observer: LiveObserver): void {
    if (--observer.refCount > 0) return;
    observer.stop();
    this.#byKey.delete(observer.key);
    for (const table of observer.tables) this.#byTable.get(table)?.delete(observer);
    this.#unwatch(observer);
  }

  #unwatch(observer: LiveObserver): void {
    this.#watches.get(observer)?.release();
    this.#watches.delete(observer);
  }

  /** Feeds one bus event (fences and messages are not the pool's business and are ignored). */
  handle(event: BusEvent): void {
    switch (event.kind) {
      case 'change':
        this.#change(event);
        return;
      case 'truncate': {
        const observers = this.#byTable.get(event.table);
        if (!observers) return;
        const e: ObserverEvent = { kind: 'truncate', seq: event.seq };
        for (const observer of observers) observer.handle(e);
        return;
      }
      case 'resync': {
        const e: ObserverEvent = { kind: 'resync', seq: event.seq };
        for (const observer of this.#byKey.values()) observer.handle(e);
        return;
      }
      case 'fence':
      case 'message':
        return;
    }
  }

  /** Resolves once every observer reflects all events up to `seq`. */
  async settled(seq: number): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const observer of this.#byKey.values()) pending.push(observer.settled(seq));
    await Promise.all(pending);
  }

  /** Stops every observer. */
  close(): void {
    for (const observer of this.#byKey.values()) observer.stop();
    for (const watch of this.#watches.values()) watch.release();
    this.#watches.clear();
    this.#byKey.clear();
    this.#byTable.clear();
  }

  #change(event: Extract<BusEvent, { kind: 'change' }>): void {
    const observers = this.#byTable.get(event.table);
    if (!observers || observers.size === 0) return;
    // Decode once per collection bound to the table; observers of SQL cursors may watch tables of no
    // collection of theirs, so they get the first binding's decoding (they only need to know "it changed").
    const decoded = new Map<CollectionBinding, ObserverEvent>();
    const fallback = this.#bindingsByTable.get(event.table)?.[0];
    for (const observer of observers) {
      const binding = observer.binding.table.qualifiedName === event.table ? observer.binding : fallback;
      let e = binding ? decoded.get(binding) : undefined;
      if (!e) {
        e = this.#decode(event, binding);
        if (binding) decoded.set(binding, e);
      }
      observer.handle(e);
    }
  }

  #decode(
    event: Extract<BusEvent, { kind: 'change' }>,
    binding: CollectionBinding | undefined,
  ): ObserverEvent {
    if (!binding)
      return { kind: 'change', seq: event.seq, op: event.op, id: String(event.key), row: undefined };
    let row: Row | undefined;
    let id: string;
    if (event.row) {
      row = binding.decode(event.row);
      id = binding.wireId(row);
    } else {
      const keyRow = binding.decode({ [binding.keyColumn]: event.key });
      id = binding.wireId(keyRow);
    }
    return { kind: 'change', seq: event.seq, op: event.op, id, row };
  }

  #add(observer: LiveObserver): LiveObserver {
    this.#byKey.set(observer.key, observer);
    for (const table of observer.tables) {
      let set = this.#byTable.get(table);
      if (!set) {
        set = new Set();
        this.#byTable.set(table, set);
      }
      set.add(observer);
    }
    // A failed first read reaches the subscriptions through attach(); the stopped observer is dropped here so
    // the next subscription tries afresh.
    const watch = this.watch?.(observer.tables);
    if (watch) this.#watches.set(observer, watch);
    observer.start(watch?.ready).catch((error: unknown) => {
      this.logger.debug({ err: error, observer: observer.key }, 'live query failed to start');
      if (this.#byKey.get(observer.key) === observer) this.#byKey.delete(observer.key);
      for (const table of observer.tables) this.#byTable.get(table)?.delete(observer);
      this.#unwatch(observer);
    });
    return observer;
  }

  #qualify(table: string): string {
    return table.includes('.') ? table : `public.${table}`;
  }
}
