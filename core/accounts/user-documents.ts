/**
 * Users as Meteor documents: what hooks (`onCreateUser`, `validateNewUser`, the login hooks) and server helpers
 * see and return, mapped to and from the tables.
 *
 * A document's fields live in columns of `pgrt.users` (captured, so publishable): `_id` ↔ `id`, `createdAt` ↔
 * `created_at`, `username`, `emails`, `profile`, `roles`, and any column an app adds with its own migration
 * (or declares with the `userColumns` option, added at start): a field an `onCreateUser` hook sets is stored in the column of
 * that name, and an inclusive `defaultFieldSelector` publishes it. A field without a column is refused with a
 * {@link ConfigurationError} (logged; the client sees 500): nothing is dropped silently. `services` live apart,
 * in `pgrt.user_services` (one row per service, never captured, never published): only external services
 * (OAuth); the password hash and resume tokens are not part of the document.
 *
 * `defaultFieldSelector` (Meteor's `Accounts.config` option): a top-level projection applied to every document
 * handed to hooks and returned by the `find…` helpers; inclusive (`{plan: 1}`) or exclusive (`{bigField: 0}`),
 * `_id` always kept. When inclusive, its fields are also published to the logged-in user besides `username`,
 * `emails` and `profile` (Meteor's `_initServerPublications`).
 */
import type { Queryable } from '../database/database.js';
import { ConfigurationError } from '../errors.js';

/** A user as Meteor apps see it (`Meteor.users` document). */
export interface UserDocument {
  _id: string;
  createdAt?: Date;
  username?: string;
  emails?: { address: string; verified: boolean }[];
  profile?: Record<string, unknown>;
  roles?: string[];
  /** External services (`services.<name>` as stored by updateOrCreateUserFromExternalService). */
  services?: Record<string, Record<string, unknown>>;
  [field: string]: unknown;
}

/** A top-level field projection: all 1 (inclusive) or all 0 (exclusive). */
export type FieldSelector = Readonly<Record<string, 0 | 1 | boolean>>;

/** Columns of `pgrt.users` that are not document fields of their own name. */
const BUILT_IN_COLUMNS = new Map<string, string | null>([
  ['id', '_id'],
  ['created_at', 'createdAt'],
  ['tokens_revoked', null],
]);

/** Fields of `pgrt.users` built in (their columns exist and are not declared by apps). */
const BUILT_IN_FIELDS = new Set(['username', 'emails', 'profile', 'roles', 'created_at', 'services']);

/** Checks a field selector's shape (Meteor refuses mixed projections). */
export function checkFieldSelector(selector: FieldSelector | undefined): void {
  if (selector === undefined) return;
  const values = Object.values(selector).map(Boolean);
  if (values.length > 0 && values.some((v) => v !== values[0]))
    throw new ConfigurationError('defaultFieldSelector must be all inclusive (1) or all exclusive (0)');
}

/** Applies a top-level projection; `_id` is always kept. */
export function project(doc: UserDocument, selector: FieldSelector | undefined): UserDocument {
  if (selector === undefined) return doc;
  const keys = Object.keys(selector);
  if (keys.length === 0) return doc;
  const inclusive = Boolean(selector[keys[0] as string]);
  const out: UserDocument = { _id: doc._id };
  for (const [key, value] of Object.entries(doc)) {
    if (key === '_id') continue;
    if (Object.hasOwn(selector, key) === inclusive) out[key] = value;
  }
  return out;
}

/** The fields published to the logged-in user: Meteor's default plus an inclusive `defaultFieldSelector`. */
export function publishedFields(selector: FieldSelector | undefined): Record<string, 1> {
  const fields: Record<string, 1> = { username: 1, emails: 1, profile: 1 };
  const keys = selector ? Object.keys(selector) : [];
  if (selector && keys.length > 0 && selector[keys[0] as string])
    for (const key of keys) if (key !== '_id' && key !== 'services') fields[key] = 1;
  return fields;
}

/** A column name an app may declare (lower-case SQL identifier, not one of the built-in columns). */
const COLUMN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** A column type declaration: a type name with optional modifiers, defaults and constraints, no statement breaks. */
const COLUMN_TYPE = /^[a-z][a-z0-9_ ().,[\]'"-]*$/i;

/** Reads and writes user documents. One per accounts plug-in. */
export class UserDocuments {
  /** Columns of `pgrt.users`, by field name → column type; read at start and on a miss. */
  #columns: Map<string, string> | undefined;

  constructor(
    private readonly selector: FieldSelector | undefined,
    private readonly declared: Readonly<Record<string, string>> = {},
  ) {
    checkFieldSelector(selector);
    for (const [column, type] of Object.entries(declared)) {
      if (!COLUMN_NAME.test(column) || BUILT_IN_COLUMNS.has(column) || BUILT_IN_FIELDS.has(column))
        throw new ConfigurationError(`userColumns: '${column}' cannot be a column of pgrt.users`);
      if (!COLUMN_TYPE.test(type) || type.includes(';') || type.includes('--'))
        throw new ConfigurationError(`userColumns: '${type}' is not a column type`);
    }
  }

  /** Adds the declared columns that are missing (at start, after the accounts schema exists). */
  async addDeclaredColumns(db: Queryable): Promise<void> {
    for (const [column, type] of Object.entries(this.declared))
      await db.query(`ALTER TABLE pgrt.users ADD COLUMN IF NOT EXISTS "${column}" ${type}`);
  }

  /** Re-reads the columns of `pgrt.users`. */
  async loadColumns(db: Queryable): Promise<void> {
    const found = await db.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'pgrt' AND table_name = 'users'`,
    );
    this.#columns = new Map(found.rows.map((row) => [row.column_name, row.data_type]));
  }

  /** The user document of `userId` (with `defaultFieldSelector` unless `raw`), or undefined. */
  async find(
    db: Queryable,
    userId: string,
    options: { raw?: boolean } = {},
  ): Promise<UserDocument | undefined> {
    const found = await db.query<Record<string, unknown>>('SELECT * FROM pgrt.users WHERE id = $1', [userId]);
    const row = found.rows[0];
    if (!row) return undefined;
    const doc: UserDocument = { _id: String(row.id) };
    for (const [column, value] of Object.entries(row)) {
      const field = BUILT_IN_COLUMNS.has(column) ? BUILT_IN_COLUMNS.get(column) : column;
      if (field === null || field === undefined || field === '_id' || value === null) continue;
      doc[field] = value;
    }
    const services = await db.query<{ service: string; data: Record<string, unknown> }>(
      'SELECT service, data FROM pgrt.user_services WHERE user_id = $1 ORDER BY service',
      [userId],
    );
    if (services.rows.length > 0)
      doc.services = Object.fromEntries(services.rows.map((row) => [row.service, row.data]));
    return options.raw ? doc : project(doc, this.selector);
  }

  /**
   * Inserts `doc` (what `onCreateUser` returned): its fields into their columns, its `services` into
   * `pgrt.user_services`. Rejects with a {@link ConfigurationError} for a field without a column; a duplicate
   * username or address rejects with PostgreSQL's unique violation (23505).
   */
  async insert(db: Queryable, doc: UserDocument): Promise<void> {
    const columns: string[] = ['id'];
    const values: unknown[] = [doc._id];
    for (const [field, value] of Object.entries(doc)) {
      if (field === '_id' || field === 'services' || value === undefined) continue;
      const column = await this.#column(db, field);
      columns.push(column);
      values.push(await this.#encode(db, column, value));
    }
    const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
    const list = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
    await db.query(`INSERT INTO pgrt.users (${list}) VALUES (${placeholders})`, values);
    for (const [service, data] of Object.entries(doc.services ?? {}))
      await this.setService(db, doc._id, service, data);
  }

  /** Sets fields of an existing user (Meteor's `$set` on top-level fields). */
  async update(db: Queryable, userId: string, fields: Readonly<Record<string, unknown>>): Promise<void> {
    const sets: string[] = [];
    const values: unknown[] = [userId];
    for (const [field, value] of Object.entries(fields)) {
      if (field === '_id' || field === 'services') continue;
      const column = await this.#column(db, field);
      values.push(value === undefined ? null : await this.#encode(db, column, value));
      sets.push(`"${column.replaceAll('"', '""')}" = $${values.length}`);
    }
    if (sets.length > 0) await db.query(`UPDATE pgrt.users SET ${sets.join(', ')} WHERE id = $1`, values);
  }

  /** Merges `data` into the user's `services.<service>` (Meteor's per-key `$set`); creates it when missing. */
  async setService(
    db: Queryable,
    userId: string,
    service: string,
    data: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const serviceId = data.id === undefined || data.id === null ? null : String(data.id);
    await db.query(
      `INSERT INTO pgrt.user_services (user_id, service, service_id, data) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, service) DO UPDATE
         SET data = pgrt.user_services.data || EXCLUDED.data,
             service_id = coalesce(EXCLUDED.service_id, pgrt.user_services.service_id)`,
      [userId, service, serviceId, JSON.stringify(data)],
    );
  }

  /** The user whose `services.<service>.id` is `serviceId`, or undefined. */
  async findByService(db: Queryable, service: string, serviceId: string): Promise<string | undefined> {
    const found = await db.query<{ user_id: string }>(
      'SELECT user_id FROM pgrt.user_services WHERE service = $1 AND service_id = $2',
      [service, serviceId],
    );
    return found.rows[0]?.user_id;
  }

  /** The column a field is stored in. */
  async #column(db: Queryable, field: string): Promise<string> {
    if (field === 'createdAt') return 'created_at';
    if (BUILT_IN_COLUMNS.has(field)) throw new ConfigurationError(`a user document cannot set '${field}'`);
    if (!this.#columns?.has(field)) await this.loadColumns(db);
    if (!this.#columns?.has(field))
      throw new ConfigurationError(
        `the user document field '${field}' has no column in pgrt.users: add it with a migration ` +
          `(ALTER TABLE pgrt.users ADD COLUMN "${field}" …) or keep it inside 'profile'`,
      );
    return field;
  }

  /** A value as the column's parameter (json columns get JSON text). */
  async #encode(db: Queryable, column: string, value: unknown): Promise<unknown> {
    if (!this.#columns) await this.loadColumns(db);
    const type = this.#columns?.get(column);
    if (type === 'jsonb' || type === 'json') return JSON.stringify(value);
    return value;
  }
}
