/**
 * A live custom-SQL query: re-run (throttled) and diffed by key whenever a table it reads changes. For queries a
 * selector cannot express (joins, aggregates). Rows are as `pg` returns them; NULL columns are left out, like
 * every other document; the collection's key column must be selected.
 */
import type { Fields } from '../contexts.js';
import type { Database } from '../database/database.js';
import type { Row } from '../database/table-info.js';
import { ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CollectionBinding } from './collection-binding.js';
import { LiveObserver, type ObserverEvent, type SequenceSource } from './live-observer.js';

/** A shared observer of one custom SQL query. */
export class SqlObserver extends LiveObserver {
  readonly #db: Database;
  readonly #text: string;
  readonly #params: readonly unknown[];
  readonly #tables: readonly string[];

  constructor(
    key: string,
    binding: CollectionBinding,
    db: Database,
    text: string,
    params: readonly unknown[],
    tables: readonly string[],
    throttleMs: number,
    currentSeq: SequenceSource,
    logger: Logger,
  ) {
    super(key, binding, currentSeq, logger, throttleMs);
    this.#db = db;
    this.#text = text;
    this.#params = params;
    this.#tables = tables;
  }

  get tables(): readonly string[] {
    return this.#tables;
  }

  protected get replayDuringRequery(): boolean {
    return false;
  }

  protected relevant(): boolean {
    return true;
  }

  protected fieldsOf(row: Row): Fields {
    return this.binding.fields(row);
  }

  protected async fetch(): Promise<Row[]> {
    const result = await this.#db.query<Record<string, unknown>>(this.#text, this.#params as unknown[]);
    const key = this.binding.keyColumn;
    return result.rows.map((raw) => {
      if (raw[key] === undefined || raw[key] === null) {
        throw new ConfigurationError(
          `custom SQL for '${this.binding.name}' must select the key column '${key}'`,
        );
      }
      const row: Row = {};
      for (const name in raw) if (raw[name] !== null) row[name] = raw[name];
      return row;
    });
  }

  protected apply(_event: ObserverEvent): boolean {
    return false;
  }
}
