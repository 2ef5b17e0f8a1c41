/**
 * One method call's context: the session's user, SQL inside the method's transaction, seeded random streams,
 * `unblock()`, and small insert/update/remove/findOne/modify helpers over registered collections.
 */
import type { ConnectionInfo, Document, Fields, MethodContext, QueryResult } from './contexts.js';
import type { Queryable } from './database/database.js';
import { quoteIdent, quoteTable, rowJsonSql } from './database/row-codec.js';
import type { ColumnInfo } from './database/table-info.js';
import { ClientError } from './errors.js';
import type { CollectionBinding } from './live/collection-binding.js';
import { type Assignment, compileModifier, type Modifier, parseModifier } from './modifier.js';
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
  #userId: { readonly value: string | null } | undefined;

  constructor(
    readonly name: string,
    private readonly host: InvocationHost,
    private readonly db: Queryable,
    private readonly random: RandomStream,
    private readonly onUnblock: () => void,
  ) {}

  get userId(): string | null {
    return this.#userId ? this.#userId.value : this.host.userId;
  }

  setUserId(userId: string | null): void {
    if (userId !== null && (typeof userId !== 'string' || userId === ''))
      throw new TypeError('setUserId takes a non-empty string or null');
    this.#userId = { value: userId };
  }

  /** The user the handler switched to with {@link setUserId}, or undefined if it did not call it. */
  get newUserId(): { readonly value: string | null } | undefined {
    return this.#userId;
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
    if (binding.table.key.kind === 'text' && values[key] !== undefined && typeof values[key] !== 'string')
      throw new ClientError(400, `Invalid _id for collection '${collection}': expected a string`);
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

  async findOne(
    collection: string,
    id: string | number,
    options: { readonly forUpdate?: boolean } = {},
  ): Promise<Document | undefined> {
    const binding = this.host.binding(collection);
    const sql = `SELECT ${rowJsonSql(binding.table, 't')} AS r FROM ${quoteTable(binding.table)} t WHERE t.${quoteIdent(
      binding.keyColumn,
    )} = $1::${binding.table.key.pgType}${options.forUpdate ? ' FOR UPDATE' : ''}`;
    const result = await this.db.query<{ r: Record<string, unknown> }>(sql, [String(id)]);
    const raw = result.rows[0]?.r;
    if (!raw) return undefined;
    const row = binding.decode(raw);
    return { _id: row[binding.keyColumn] as string | number, ...binding.fields(row) };
  }

  async modify(collection: string, id: string | number, modifier: Modifier): Promise<boolean> {
    const binding = this.host.binding(collection);
    const assignments = compileModifier(parseModifier(modifier), binding.table, collection);
    if (assignments.length === 0) return this.#exists(binding, id);
    const params: unknown[] = [];
    const sets = assignments.map((a) => assignmentSql(a, params));
    params.push(String(id));
    const sql = `UPDATE ${quoteTable(binding.table)} SET ${sets.join(', ')} WHERE ${quoteIdent(
      binding.keyColumn,
    )} = $${params.length}::${binding.table.key.pgType}`;
    const result = await this.db.query(sql, params);
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

/** One `SET` item of a modifier's UPDATE; pushes its parameter (if any) onto `params`. */
function assignmentSql(assignment: Assignment, params: unknown[]): string {
  const { column } = assignment;
  const name = quoteIdent(column.name);
  switch (assignment.op) {
    case 'set':
      params.push(toParam(column, assignment.value));
      return `${name} = $${params.length}::${column.pgType}`;
    case 'unset':
      return `${name} = NULL`;
    case 'inc':
      params.push(assignment.by);
      return `${name} = COALESCE(${name}, 0) + $${params.length}::${column.pgType}`;
    default:
      return assertNever(assignment);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected assignment ${JSON.stringify(value)}`);
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
