/**
 * A registered collection bound to its introspected table: how rows become DDP documents (wire id + fields)
 * and how change notifications decode. Built once at start-up by the core server.
 *
 * Wire id policy (README "Ids"): text and uuid keys are sent as strings with Meteor's escaping rules
 * (`idStringify`: a leading `-`, `~`, `{` or a 24-hex value gets a `-` prefix); int2/int4 keys become numbers
 * (wire `~42`, Meteor clients see a numeric `_id`); bigint/numeric keys are sent as decimal strings (lossless).
 */
import type { CollectionDefinition } from '../app.js';
import type { Fields } from '../contexts.js';
import { decodeRow } from '../database/row-codec.js';
import type { Row, TableInfo } from '../database/table-info.js';
import { idParse, idStringify } from '../ids.js';
import type { PublicationStrategy } from '../merge-box.js';

/** A collection and its table, with the conversions between rows and documents. */
export class CollectionBinding {
  readonly name: string;
  readonly strategy: PublicationStrategy;
  readonly #keyColumn: string;
  readonly #numericKey: boolean;

  constructor(
    definition: CollectionDefinition,
    readonly table: TableInfo,
  ) {
    this.name = definition.name;
    this.strategy = definition.strategy;
    this.#keyColumn = table.key.name;
    this.#numericKey = table.key.kind === 'int';
  }

  /** The key column's name. */
  get keyColumn(): string {
    return this.#keyColumn;
  }

  /** Decodes a notification's raw JSON row into the in-memory form. */
  decode(raw: Record<string, unknown>): Row {
    return decodeRow(this.table, raw);
  }

  /** The DDP id of a row. */
  wireId(row: Row): string {
    return this.wireIdOfKey(row[this.#keyColumn]);
  }

  /** The DDP id of a key value (as held in memory). */
  wireIdOfKey(key: unknown): string {
    if (typeof key === 'number' || typeof key === 'string') return idStringify(key);
    return idStringify(String(key));
  }

  /** The key value (in-memory form) of a DDP id, or undefined if it cannot be a key of this table. */
  keyOfWireId(id: string): string | number | undefined {
    let parsed: unknown;
    try {
      parsed = idParse(id);
    } catch {
      return undefined;
    }
    if (this.#numericKey) return typeof parsed === 'number' && Number.isInteger(parsed) ? parsed : undefined;
    return typeof parsed === 'string' ? parsed : undefined;
  }

  /** The key value of a client-given id in a low-level publication (`ctx.added(coll, id, ...)`). */
  wireIdOfUserId(id: string | number): string {
    return idStringify(id);
  }

  /**
   * A row's published fields: every column but the key (NULLs are already absent) and but a column named `_id`
   * (the document's id is its key; the merge box would drop it anyway).
   */
  fields(row: Row): Fields {
    const out: Fields = {};
    for (const name in row) if (name !== this.#keyColumn && name !== '_id') out[name] = row[name];
    return out;
  }
}
