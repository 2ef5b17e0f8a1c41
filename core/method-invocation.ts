/**
 * One method call's context: the session's user, SQL inside the method's transaction, seeded random streams,
 * `unblock()`, and small insert/update/remove helpers over registered collections.
 */
import type { ConnectionInfo, Fields, MethodContext, QueryResult } from './contexts.js';
import type { Queryable } from './database/database.js';
import { quoteIdent, quoteTable } from './database/row-codec.js';
import type { ColumnInfo } from './database/table-info.js';
import { ClientError } from './errors.js';
import type { CollectionBinding } from './live/collection-binding.js';
import type { RandomGenerator } from './random/alea.js';
import type { RandomStream } from './random/random-stream.js';

/** What the session provides to an invocation. */
export interface InvocationHost {
  readonly userId: string | null;
  readonly connection: ConnectionInfo;
  binding(collection: string): CollectionBinding;
}

/** The {@link MethodContext} of one call. */
export class MethodInvocation implements MethodContext {
  #unblocked = false;

  constructor(
    readonly name: string,
    private readonly host: InvocationHost,
    private readonly db: Queryable,
    private readonly random: RandomStream,
    private readonly onUnblock: () => void,
  ) {}

  get userId(): string | null {
    return this.host.userId;
  }

  get connection(): ConnectionInfo {
    return this.host.connection;
  }

  async query<R = Record<string, unknown>>(
    text: string,
    params: readonly unknown[] = [],
  ): Promise<QueryResult<R>> {
    const result = await this.db.query<R>(text, params as unknown[]);
    return { rows: result.rows, rowCount: result.rowCount };
  }

  newId(collection: string): string {
    return this.random.get(`/collection/${collection}`).id();
  }

  randomStream(name: string): RandomGenerator {
    return this.random.get(name);
  }

  unblock(): void {
    if (this.#unblocked) return;
    this.#unblocked = true;
    this.onUnblock();
  }

  async insert(collection: string, document: Fields): Promise<string | number> {
    const binding = this.host.binding(collection);
    const key = binding.keyColumn;
    const values: Record<string, unknown> = { ...document };
    if ('_id' in values) {
      values[key] ??= values._id;
      delete values._id;
    }
    if (values[key] === undefined) {
      if (binding.table.key.kind !== 'text' && binding.table.key.kind !== 'uuid') {
        // Let the column default (serial, identity) decide.
        delete values[key];
      } else {
        values[key] = binding.table.key.kind === 'uuid' ? crypto.randomUUID() : this.newId(collection);
      }
    }
    const columns = columnsOf(binding, values);
    const sql = `INSERT INTO ${quoteTable(binding.table)} (${columns
      .map((c) => quoteIdent(c.name))
      .join(
        ', ',
      )}) VALUES (${columns.map((c, i) => `$${i + 1}::${c.pgType}`).join(', ')}) RETURNING ${quoteIdent(key)} AS k`;
    const result = await this.db.query<{ k: string | number }>(
      sql,
      columns.map((c) => toParam(c, values[c.name])),
    );
    return result.rows[0]!.k;
  }

  async update(collection: string, id: string | number, fields: Fields): Promise<boolean> {
    const binding = this.host.binding(collection);
    const values: Record<string, unknown> = { ...fields };
    delete values._id;
    const columns = columnsOf(binding, values, true);
    if (columns.length === 0) return this.#exists(binding, id);
    const sql = `UPDATE ${quoteTable(binding.table)} SET ${columns
      .map((c, i) => `${quoteIdent(c.name)} = $${i + 1}::${c.pgType}`)
      .join(
        ', ',
      )} WHERE ${quoteIdent(binding.keyColumn)} = $${columns.length + 1}::${binding.table.key.pgType}`;
    const result = await this.db.query(sql, [...columns.map((c) => toParam(c, values[c.name])), String(id)]);
    return (result.rowCount ?? 0) > 0;
  }

  async remove(collection: string, id: string | number): Promise<boolean> {
    const binding = this.host.binding(collection);
    const sql = `DELETE FROM ${quoteTable(binding.table)} WHERE ${quoteIdent(
      binding.keyColumn,
    )} = $1::${binding.table.key.pgType}`;
    const result = await this.db.query(sql, [String(id)]);
    return (result.rowCount ?? 0) > 0;
  }

  async #exists(binding: CollectionBinding, id: string | number): Promise<boolean> {
    const sql = `SELECT 1 FROM ${quoteTable(binding.table)} WHERE ${quoteIdent(
      binding.keyColumn,
    )} = $1::${binding.table.key.pgType}`;
    return ((await this.db.query(sql, [String(id)])).rowCount ?? 0) > 0;
  }
}

function columnsOf(
  binding: CollectionBinding,
  values: Record<string, unknown>,
  keepUndefined = false,
): ColumnInfo[] {
  const columns: ColumnInfo[] = [];
  for (const name of Object.keys(values)) {
    const column = binding.table.columns.get(name);
    if (!column) throw new ClientError(400, `Unknown field '${name}' for collection '${binding.name}'`);
    if (values[name] === undefined && !keepUndefined) continue;
    columns.push(column);
  }
  return columns;
}

/** Converts an in-memory value to a `pg` parameter for the column's cast. */
function toParam(column: ColumnInfo, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  switch (column.kind) {
    case 'json':
      return JSON.stringify(value);
    case 'bytea':
      return value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : value;
    case 'timestamptz':
    case 'timestamp':
      return value instanceof Date ? value.toISOString() : value;
    case 'float':
      return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
    default:
      return value;
  }
}
