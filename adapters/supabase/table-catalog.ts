/**
 * The tables postgres_changes may serve: the app's opted-in tables (access.ts) that are registered collections
 * (only those are captured), each introspected once on first use (after the core started) with its columns'
 * pg_type names for the payload's `columns`, and the database's money format when a table has a money column.
 */
import type { Queryable } from '../../core/database/database.js';
import { introspectTable } from '../../core/database/introspect.js';
import { quoteTable } from '../../core/database/row-codec.js';
import type { TableRule } from './access.js';
import { type RenderedTable, renderedTable } from './change-payload.js';
import { MONEY_SAMPLES_SQL, type MoneyFormat, moneyFormat } from './money-format.js';

/** One opted-in table. */
export interface CatalogEntry {
  /** `schema.table`. */
  readonly name: string;
  readonly rule: true | TableRule;
  /** Whether the table is a registered collection (its changes are captured). */
  readonly captured: boolean;
}

/** The opted-in tables and their introspection. */
export class TableCatalog {
  readonly #entries: ReadonlyMap<string, CatalogEntry>;
  readonly #tables = new Map<string, Promise<RenderedTable>>();
  #money: Promise<MoneyFormat | undefined> | undefined;

  constructor(
    private readonly db: Queryable,
    rules: ReadonlyMap<string, true | TableRule>,
    /** `schema.table` of every registered collection. */
    captured: ReadonlySet<string>,
  ) {
    const entries = new Map<string, CatalogEntry>();
    for (const [name, rule] of rules) entries.set(name, { name, rule, captured: captured.has(name) });
    this.#entries = entries;
  }

  /** The opted-in table `schema.table`, or undefined. */
  entry(name: string): CatalogEntry | undefined {
    return this.#entries.get(name);
  }

  /** Every opted-in table. */
  entries(): IterableIterator<CatalogEntry> {
    return this.#entries.values();
  }

  /** The table, introspected once (a failure is not cached: the next join tries again). */
  table(name: string): Promise<RenderedTable> {
    let found = this.#tables.get(name);
    if (!found) {
      found = this.#load(name);
      this.#tables.set(name, found);
      found.catch(() => this.#tables.delete(name));
    }
    return found;
  }

  async #load(name: string): Promise<RenderedTable> {
    const info = await introspectTable(this.db, name);
    const types = await this.db.query<{ name: string; type: string }>(
      `SELECT a.attname AS name, t.typname AS type
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [quoteTable(info)],
    );
    const typeNames = new Map(types.rows.map((row) => [row.name, row.type]));
    const money = [...typeNames.values()].includes('money') ? await this.#moneyFormat() : undefined;
    return renderedTable(info, typeNames, money);
  }

  /** The database's money format, read once (a failed read is not cached). */
  #moneyFormat(): Promise<MoneyFormat | undefined> {
    if (!this.#money) {
      const reading = this.db
        .query<{ positive: string; negative: string }>(MONEY_SAMPLES_SQL)
        .then((result) => {
          const row = result.rows[0];
          return row ? moneyFormat(row.positive, row.negative) : undefined;
        });
      reading.catch(() => {
        if (this.#money === reading) this.#money = undefined;
      });
      this.#money = reading;
    }
    return this.#money;
  }
}
