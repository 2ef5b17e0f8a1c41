/**
 * The user store: every statement on `pgrt.users` and `pgrt.user_passwords` (migrations/0001_accounts.sql) — finding users the way
 * Meteor's accounts-base does, inserting them, storing and checking their password's bcrypt hash (with the
 * password-derived credentials, derived-credentials.ts), roles, and the import of Meteor `users` documents.
 *
 * Every call takes the {@link Queryable} to run on, so a method's writes commit with it (`ctx`) and server calls
 * run on the pool or in a transaction of their own.
 */
import type { Queryable } from '../database/database.js';
import { ConfigurationError } from '../errors.js';
import { unstorable } from '../storable-strings.js';
import type { DerivedCredentials } from './derived-credentials.js';
import type { EmailUser } from './emails.js';
import { hashDigest, MatchFailedError, needsRehash } from './password.js';
import { hashLoginToken } from './tokens.js';

/** How a login names its user (Meteor's `{id} | {username} | {email}`; several: the first that matches). */
export interface UserQuery {
  readonly id?: string;
  readonly username?: string;
  readonly email?: string;
}

/** A user as the login paths need it. */
export interface UserRow {
  readonly id: string;
  readonly roles: string[];
  /** The bcrypt hash, or null when the user has no password (yet). */
  readonly bcrypt: string | null;
  /** Names of the derived credentials stored for the user. */
  readonly credentials: string[];
}

/**
 * A user to create from the server (`Accounts.createUser`): Meteor's options (`username`, `email`, `password`,
 * `profile`, and any key of the app's, all handed to `onCreateUser`) plus pgrt's server-only `roles` and `id`.
 */
export interface NewUser {
  readonly username?: string;
  readonly email?: string;
  /** Plain password or Meteor digest object; absent: no password yet (Meteor's enrollment flow). */
  readonly password?: unknown;
  readonly profile?: Record<string, unknown>;
  readonly roles?: readonly string[];
  /** Default: a new Meteor-style id. */
  readonly id?: string;
  readonly [option: string]: unknown;
}

/** A Meteor `users` document, as exported from a Meteor database (the fields pgrt imports). */
export interface MeteorUserDocument {
  readonly _id: string;
  readonly username?: string;
  readonly emails?: readonly { readonly address: string; readonly verified?: boolean }[];
  readonly profile?: Record<string, unknown>;
  readonly roles?: unknown;
  readonly createdAt?: Date | string | number;
  readonly services?: {
    readonly password?: { readonly bcrypt?: string };
    readonly resume?: {
      readonly loginTokens?: readonly {
        readonly hashedToken?: string;
        readonly token?: string;
        readonly when?: Date | string | number | { readonly $date: number };
      }[];
    };
  };
}

/** `u.emails` as an array (an app's SQL may have stored anything in it). */
export const EMAILS_ARRAY = `CASE WHEN jsonb_typeof(u.emails) = 'array' THEN u.emails ELSE '[]'::jsonb END`;

/**
 * Finds a user by id, then username, then email address (case-insensitively, through the unique index
 * `pgrt.user_emails`). A username matches a stored one equal to it case-insensitively, else one with the same
 * `pgrt.username_key` (migrations/0002_username_keys.sql: NFKC, trimmed, look-alike letters as Latin ones) when
 * exactly one user has that key: as Meteor's `_findUserByQuery`, which falls back to a case-insensitive match only
 * when it is unique. So a name stored before normalization (or imported from Meteor) is found by what its user types
 * and by its normalized form.
 */
const FIND_USER = `
WITH candidates AS (
  SELECT u.id, u.roles,
         CASE WHEN u.id = $1 THEN 0
              WHEN lower(u.username) = lower($2) THEN 1
              WHEN pgrt.username_key(u.username) = pgrt.username_key($2) THEN 2
              ELSE 3 END AS rank
    FROM pgrt.users u
   WHERE ($1::text IS NOT NULL AND u.id = $1)
      OR ($2::text IS NOT NULL AND lower(u.username) = lower($2))
      OR ($2::text IS NOT NULL AND pgrt.username_key(u.username) = pgrt.username_key($2))
      OR ($3::text IS NOT NULL AND u.id = (SELECT m.user_id FROM pgrt.user_emails m WHERE m.address = lower($3)))
)
SELECT c.id, c.roles, p.bcrypt,
       ARRAY(SELECT cr.name FROM pgrt.user_credentials cr WHERE cr.user_id = c.id) AS credentials
  FROM candidates c LEFT JOIN pgrt.user_passwords p ON p.user_id = c.id
 WHERE c.rank <> 2 OR (SELECT count(*) FROM candidates k WHERE k.rank = 2) = 1
 ORDER BY c.rank
 LIMIT 1`;

/**
 * Serialises, until the transaction ends, the creations and renames of usernames with one key, so two look-alikes
 * created at once cannot both pass the duplicate check (the unique index only covers `lower(username)`). The first
 * key is `'usrn'` in ASCII, a space of its own beside the start-up lock's single key.
 */
const LOCK_USERNAME_KEY = `SELECT pg_advisory_xact_lock(${0x7573726e}, hashtext(pgrt.username_key($1)))`;

/** Marks an address of a user verified (Meteor's `'emails.$.verified': true`); no row: not one of theirs. */
const MARK_EMAIL_VERIFIED = `
UPDATE pgrt.users u
   SET emails = (SELECT jsonb_agg(CASE WHEN e->>'address' = $2 THEN e || '{"verified": true}'::jsonb ELSE e END
                                  ORDER BY i)
                   FROM jsonb_array_elements(${EMAILS_ARRAY}) WITH ORDINALITY AS x (e, i))
 WHERE u.id = $1
   AND EXISTS (SELECT 1 FROM jsonb_array_elements(${EMAILS_ARRAY}) e WHERE e->>'address' = $2)
RETURNING u.id`;

/** True for a plain object (not an array, not a Date). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Meteor's `userQueryValidator`: exactly one of id, username, email, a non-empty string. */
export function userQuery(value: unknown): UserQuery {
  if (!isRecord(value)) throw new MatchFailedError();
  const keys = Object.keys(value);
  if (keys.length !== 1) throw new MatchFailedError();
  const key = keys[0] as string;
  const text = value[key];
  if ((key !== 'id' && key !== 'username' && key !== 'email') || typeof text !== 'string' || text === '')
    throw new MatchFailedError();
  return { [key]: text };
}

/** An optional non-empty string argument (`Match.Optional(NonEmptyString)`). */
export function optionalString(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new MatchFailedError();
  return value;
}

function toDate(value: Date | string | number | { readonly $date: number } | undefined): Date {
  if (value === undefined) return new Date();
  if (value instanceof Date) return value;
  if (typeof value === 'object') return new Date(value.$date);
  return new Date(value);
}

/** Statements on the users and their password hashes. */
export class UserStore {
  constructor(
    private readonly credentials: DerivedCredentials,
    private readonly bcryptRounds: number,
  ) {}

  /**
   * The user `query` names, or undefined. A value PostgreSQL cannot store (core/storable-strings.ts) names no user:
   * undefined without a query (a handshake's authid reaches here unchecked).
   */
  async find(db: Queryable, query: UserQuery): Promise<UserRow | undefined> {
    for (const value of [query.id, query.username, query.email])
      if (value !== undefined && unstorable(value)) return undefined;
    const result = await db.query<UserRow>(FIND_USER, [
      query.id ?? null,
      query.username ?? null,
      query.email?.trim() ?? null,
    ]);
    return result.rows[0];
  }

  /**
   * True when a user other than `exceptUserId` has `username` or a look-alike of it: the same name
   * case-insensitively or the same `pgrt.username_key`, however many users share it. First holds, until `db`'s
   * transaction ends, the lock of the name's key (see {@link LOCK_USERNAME_KEY}), so a creation or rename that
   * passes this check cannot race a look-alike one: `db` must be the transaction that then writes the name.
   */
  async usernameTaken(db: Queryable, username: string, exceptUserId?: string): Promise<boolean> {
    await db.query(LOCK_USERNAME_KEY, [username]);
    const found = await db.query(
      `SELECT 1 FROM pgrt.users u
        WHERE (lower(u.username) = lower($1) OR pgrt.username_key(u.username) = pgrt.username_key($1))
          AND u.id IS DISTINCT FROM $2
        LIMIT 1`,
      [username, exceptUserId ?? null],
    );
    return found.rows.length > 0;
  }

  /**
   * The user with that address (Meteor's `findUserByEmail`; addresses are unique case-insensitively) and that
   * address as stored (the exact one first, else the first equal to it case-insensitively).
   */
  async findByEmail(db: Queryable, email: string): Promise<{ id: string; address: string } | undefined> {
    const found = await db.query<{ id: string; address: string }>(
      `SELECT u.id, e.value->>'address' AS address
         FROM pgrt.user_emails m JOIN pgrt.users u ON u.id = m.user_id
        CROSS JOIN LATERAL jsonb_array_elements(${EMAILS_ARRAY}) WITH ORDINALITY AS e (value, i)
        WHERE m.address = lower($1) AND lower(e.value->>'address') = m.address
        ORDER BY (e.value->>'address' = $1) DESC, e.i
        LIMIT 1`,
      [email],
    );
    return found.rows[0];
  }

  /** The roles of a user (none when unknown). */
  async roles(db: Queryable, userId: string): Promise<string[]> {
    const result = await db.query<{ roles: string[] }>('SELECT roles FROM pgrt.users WHERE id = $1', [
      userId,
    ]);
    return result.rows[0]?.roles ?? [];
  }

  /** Replaces a user's roles. */
  async setRoles(db: Queryable, userId: string, roles: readonly string[]): Promise<void> {
    await db.query('UPDATE pgrt.users SET roles = $2 WHERE id = $1', [userId, [...roles]]);
  }

  /** Stores the bcrypt hash of `digest` for `userId` and derives its credentials anew. */
  async setPassword(db: Queryable, userId: string, digest: string): Promise<void> {
    await db.query(
      `INSERT INTO pgrt.user_passwords (user_id, bcrypt) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET bcrypt = EXCLUDED.bcrypt`,
      [userId, await hashDigest(digest, this.bcryptRounds)],
    );
    await this.credentials.replace(db, userId, digest);
  }

  /**
   * After a successful password check: re-hashes with the configured rounds (Meteor does it at login too), or
   * derives the credentials the user lacks.
   */
  async afterPasswordCheck(db: Queryable, user: UserRow, digest: string): Promise<void> {
    if (user.bcrypt && needsRehash(user.bcrypt, this.bcryptRounds))
      await this.setPassword(db, user.id, digest);
    else if (this.credentials.lacksAny(user.credentials))
      await this.credentials.deriveMissing(db, user.id, digest, user.credentials);
  }

  /** Marks `email` of `userId` verified; false when it is not one of their addresses. */
  async markEmailVerified(db: Queryable, userId: string, email: string): Promise<boolean> {
    const verified = await db.query(MARK_EMAIL_VERIFIED, [userId, email]);
    return verified.rowCount !== 0;
  }

  /** The user as email templates see it. */
  async emailUser(db: Queryable, userId: string): Promise<EmailUser | undefined> {
    const found = await db.query<{
      id: string;
      username: string | null;
      emails: unknown;
      profile: Record<string, unknown> | null;
    }>('SELECT id, username, emails, profile FROM pgrt.users WHERE id = $1', [userId]);
    const row = found.rows[0];
    if (!row) return undefined;
    const emails = Array.isArray(row.emails)
      ? row.emails
          .filter(isRecord)
          .map((e) => ({ address: String(e.address), verified: e.verified === true }))
      : [];
    return { id: row.id, username: row.username, emails, profile: row.profile ?? {} };
  }

  /**
   * Imports a Meteor user document (see `Accounts.importMeteorUser`): users row, bcrypt hash (its derived
   * credentials are dropped: derived at the next password login), hashed resume tokens.
   */
  async importMeteorUser(db: Queryable, doc: MeteorUserDocument): Promise<void> {
    if (typeof doc._id !== 'string' || doc._id === '')
      throw new ConfigurationError('user document without _id');
    const roles = Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === 'string') : [];
    const emails = doc.emails?.map((e) => ({ address: e.address, verified: e.verified === true })) ?? null;
    await db.query(
      `INSERT INTO pgrt.users (id, username, emails, profile, roles, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET username = EXCLUDED.username, emails = EXCLUDED.emails,
         profile = EXCLUDED.profile, roles = EXCLUDED.roles`,
      [
        doc._id,
        doc.username ?? null,
        emails === null ? null : JSON.stringify(emails),
        doc.profile === undefined ? null : JSON.stringify(doc.profile),
        roles,
        toDate(doc.createdAt),
      ],
    );
    const hash = doc.services?.password?.bcrypt;
    if (hash) {
      await db.query(
        `INSERT INTO pgrt.user_passwords (user_id, bcrypt) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET bcrypt = EXCLUDED.bcrypt`,
        [doc._id, hash],
      );
      await this.credentials.clear(db, doc._id);
    }
    for (const token of doc.services?.resume?.loginTokens ?? []) {
      const hashed = token.hashedToken ?? (token.token ? hashLoginToken(token.token) : undefined);
      if (!hashed) continue;
      await db.query(
        `INSERT INTO pgrt.login_tokens (hashed_token, user_id, "when") VALUES ($1, $2, $3)
         ON CONFLICT (hashed_token) DO NOTHING`,
        [hashed, doc._id, toDate(token.when)],
      );
    }
  }
}
