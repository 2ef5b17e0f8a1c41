/**
 * The accounts plug-in: users in PostgreSQL, Meteor-compatible login methods, the current-user publication, and
 * the role resolver the guards use. Apps opt in with `app.use(accounts())` (or `createServer({ accounts })`);
 * nothing here is registered otherwise.
 *
 * Methods (names and shapes as Meteor's accounts-base / accounts-password, reference/ddp.md §1.15):
 * `login({user, password} | {resume})` → `{id, token, tokenExpires}`; `logout()`; `getNewToken()`;
 * `removeOtherTokens()`; `createUser({username?, email?, password, profile?})` → like login (unless disabled);
 * `changePassword(oldPassword, newPassword)` → `{passwordChanged: true}`. Login, createUser and logout change the
 * session's user after their transaction commits: every subscription reruns and the client gets the differences.
 *
 * Publication: a universal one publishing the current user's `username`, `emails` and `profile` into `users`.
 *
 * WAMP uses the same users through {@link Accounts.checkTicket} (password or resume token) and
 * {@link Accounts.craPrincipal} (adapters/wamp/authentication.ts `accountsAuthenticators`).
 */
import type { App, AppPlugin } from '../app.js';
import type { ConnectionInfo, MethodContext } from '../contexts.js';
import type { Database, Queryable } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import { cryptoRandom } from '../random/random-stream.js';
import { LoggedOutError, LoginFailedError, NotLoggedInError, SessionExpiredError } from './errors.js';
import {
  CRA_ITERATIONS,
  CRA_KEYLEN,
  craKeyOf,
  DEFAULT_BCRYPT_ROUNDS,
  hashDigest,
  MatchFailedError,
  needsRehash,
  newCraSalt,
  passwordDigest,
  sha256Hex,
  verifyDigest,
} from './password.js';
import { ensureAccountsSchema } from './schema.js';
import { hashLoginToken, newLoginToken, tokenExpiration } from './tokens.js';

/** Options of {@link accounts}. */
export interface AccountsOptions {
  /** Collection the current user is published into (default `users`, as Meteor clients expect). */
  readonly collection?: string;
  /** bcrypt rounds for new hashes; older hashes are re-hashed at their next login (default 10). */
  readonly bcryptRounds?: number;
  /** Resume tokens expire this many days after they were made (default 90). */
  readonly loginExpirationInDays?: number;
  /** Whether clients may call `createUser` (default true; false: 403 "Signups forbidden"). */
  readonly allowCreateUser?: boolean;
}

/** What {@link Accounts.login}-style methods return (`tokenExpires` goes out as EJSON `$date`). */
export interface LoginResult {
  readonly id: string;
  readonly token: string;
  readonly tokenExpires: Date;
}

/** A user to create from the server ({@link Accounts.createUser}). */
export interface NewUser {
  readonly username?: string;
  readonly email?: string;
  /** Plain password or Meteor digest object. */
  readonly password?: unknown;
  readonly profile?: Record<string, unknown>;
  readonly roles?: readonly string[];
  /** Default: a new Meteor-style id. */
  readonly id?: string;
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

/** Who a WAMP credential belongs to. */
export interface AccountIdentity {
  readonly userId: string;
  readonly roles: readonly string[];
}

/** A user's WAMP-CRA key material (the key is derived from the password's SHA-256 hex digest). */
export interface CraMaterial extends AccountIdentity {
  readonly salt: string;
  /** base64 PBKDF2-SHA256(sha256hex(password), salt, iterations, keylen). */
  readonly key: string;
  readonly iterations: number;
  readonly keylen: number;
}

interface UserRow {
  id: string;
  roles: string[];
  bcrypt: string | null;
  cra_key: string | null;
  cra_salt: string | null;
}

/** Finds a user by id, then username (case-insensitively), then email address (case-insensitively). */
const FIND_USER = `
SELECT u.id, u.roles, p.bcrypt, p.cra_key, p.cra_salt
  FROM pgrt.users u LEFT JOIN pgrt.user_passwords p ON p.user_id = u.id
 WHERE ($1::text IS NOT NULL AND u.id = $1)
    OR ($2::text IS NOT NULL AND lower(u.username) = lower($2))
    OR ($3::text IS NOT NULL AND EXISTS (
          SELECT 1 FROM jsonb_array_elements(coalesce(u.emails, '[]'::jsonb)) e
           WHERE lower(e->>'address') = lower($3)))
 ORDER BY (u.id = $1) DESC NULLS LAST, (lower(u.username) = lower($2)) DESC NULLS LAST
 LIMIT 1`;

type UserQuery = { id?: string; username?: string; email?: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Meteor's `userQueryValidator`: exactly one of id, username, email, a non-empty string. */
function userQuery(value: unknown): UserQuery {
  if (!isRecord(value)) throw new MatchFailedError();
  const keys = Object.keys(value);
  if (keys.length !== 1) throw new MatchFailedError();
  const key = keys[0] as string;
  const text = value[key];
  if ((key !== 'id' && key !== 'username' && key !== 'email') || typeof text !== 'string' || text === '')
    throw new MatchFailedError();
  return { [key]: text };
}

function optionalString(value: unknown): string | undefined {
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

/** The accounts plug-in; see the module header. One instance per app. */
export class Accounts implements AppPlugin {
  /** The collection the current user is published into. */
  readonly collection: string;
  readonly bcryptRounds: number;
  readonly loginExpirationInDays: number;
  readonly #allowCreateUser: boolean;
  /** The hashed token each connection logged in with (for logout, getNewToken, removeOtherTokens). */
  readonly #connectionTokens = new WeakMap<ConnectionInfo, string>();
  #db: Database | undefined;

  constructor(options: AccountsOptions = {}) {
    this.collection = options.collection ?? 'users';
    this.bcryptRounds = options.bcryptRounds ?? DEFAULT_BCRYPT_ROUNDS;
    this.loginExpirationInDays = options.loginExpirationInDays ?? 90;
    this.#allowCreateUser = options.allowCreateUser ?? true;
    if (!Number.isInteger(this.bcryptRounds) || this.bcryptRounds < 4 || this.bcryptRounds > 31)
      throw new ConfigurationError('bcryptRounds must be an integer from 4 to 31');
  }

  /** The database, once the core started. */
  get db(): Database {
    if (!this.#db) throw new ConfigurationError('accounts: the core has not started');
    return this.#db;
  }

  /** Registers the tables (start hook), the `users` collection and publication, the methods and roles. */
  install(app: App): void {
    app.onStart(async (db) => {
      await ensureAccountsSchema(db);
      this.#db = db;
    });
    app.roles(async (db, userId) => {
      const result = await db.query<{ roles: string[] }>('SELECT roles FROM pgrt.users WHERE id = $1', [
        userId,
      ]);
      return result.rows[0]?.roles ?? [];
    });
    const collection = this.collection;
    app.collection(collection, { table: 'pgrt.users' });
    app.publish(null, (ctx) =>
      ctx.userId === null
        ? undefined
        : ctx.find(collection, { _id: ctx.userId }, { fields: { username: 1, emails: 1, profile: 1 } }),
    );
    app.method('login', (ctx, options) => this.#login(ctx, options));
    app.method('logout', (ctx) => this.#logout(ctx));
    app.method('getNewToken', (ctx) => this.#getNewToken(ctx));
    app.method('removeOtherTokens', (ctx) => this.#removeOtherTokens(ctx));
    app.method('changePassword', (ctx, oldPassword, newPassword) =>
      this.#changePassword(ctx, oldPassword, newPassword),
    );
    app.method('createUser', (ctx, options) => this.#createUserMethod(ctx, options));
  }

  // ---- server API ------------------------------------------------------------------------------------------

  /**
   * Creates a user from the server (seeding, admin tools); returns its id. Rejects with 403 "Username already
   * exists." / "Email already exists." like the method.
   */
  async createUser(user: NewUser): Promise<string> {
    return await this.db.transaction((client) =>
      this.#insertUser(client, user, user.id ?? cryptoRandom.id()),
    );
  }

  /** Replaces a user's roles (the first one becomes the WAMP authrole). */
  async setRoles(userId: string, roles: readonly string[]): Promise<void> {
    await this.db.query('UPDATE pgrt.users SET roles = $2 WHERE id = $1', [userId, [...roles]]);
  }

  /**
   * Imports a Meteor user document: `_id` stays the user id; `username`, `emails`, `profile`, `roles` (an array of
   * strings), `services.password.bcrypt` and `services.resume.loginTokens` (hashed, or legacy plain tokens, which
   * are hashed here) are kept, so the user logs in with the same password and stays logged in. Re-importing the
   * same `_id` updates it.
   */
  async importMeteorUser(doc: MeteorUserDocument): Promise<void> {
    if (typeof doc._id !== 'string' || doc._id === '')
      throw new ConfigurationError('user document without _id');
    const roles = Array.isArray(doc.roles) ? doc.roles.filter((r): r is string => typeof r === 'string') : [];
    const emails = doc.emails?.map((e) => ({ address: e.address, verified: e.verified === true })) ?? null;
    await this.db.transaction(async (client) => {
      await client.query(
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
        await client.query(
          `INSERT INTO pgrt.user_passwords (user_id, bcrypt) VALUES ($1, $2)
           ON CONFLICT (user_id) DO UPDATE SET bcrypt = EXCLUDED.bcrypt, cra_key = NULL, cra_salt = NULL`,
          [doc._id, hash],
        );
      }
      for (const token of doc.services?.resume?.loginTokens ?? []) {
        const hashed = token.hashedToken ?? (token.token ? hashLoginToken(token.token) : undefined);
        if (!hashed) continue;
        await client.query(
          `INSERT INTO pgrt.login_tokens (hashed_token, user_id, "when") VALUES ($1, $2, $3)
           ON CONFLICT (hashed_token) DO NOTHING`,
          [hashed, doc._id, toDate(token.when)],
        );
      }
    });
  }

  /**
   * WAMP ticket authentication: `authid` is a user id, username or email; `ticket` is the user's password (plain)
   * or one of their unexpired resume tokens. Resolves null for any failure (unknown user and wrong ticket alike,
   * at the same bcrypt cost).
   */
  async checkTicket(authid: string, ticket: string): Promise<AccountIdentity | null> {
    const user = await this.#findUser(this.db, { id: authid, username: authid, email: authid });
    if (user) {
      const token = await this.db.query<{ when: Date }>(
        'SELECT "when" FROM pgrt.login_tokens WHERE hashed_token = $1 AND user_id = $2',
        [hashLoginToken(ticket), user.id],
      );
      const when = token.rows[0]?.when;
      if (when && tokenExpiration(when, this.loginExpirationInDays) > new Date())
        return { userId: user.id, roles: user.roles };
    }
    if (ticket.length > 256) return null;
    const digest = sha256Hex(ticket);
    if (!(await verifyDigest(digest, user?.bcrypt ?? undefined, this.bcryptRounds)) || !user) return null;
    await this.#afterPasswordCheck(this.db, user, digest);
    return { userId: user.id, roles: user.roles };
  }

  /**
   * WAMP-CRA key material of a user (by id, username or email), or null. The key exists once the user has set or
   * used their password through pgrt (created, changed, or any password login); imported users get it at their
   * first password login.
   */
  async craPrincipal(authid: string): Promise<CraMaterial | null> {
    const user = await this.#findUser(this.db, { id: authid, username: authid, email: authid });
    if (!user?.cra_key || !user.cra_salt) return null;
    return {
      userId: user.id,
      roles: user.roles,
      salt: user.cra_salt,
      key: user.cra_key,
      iterations: CRA_ITERATIONS,
      keylen: CRA_KEYLEN,
    };
  }

  // ---- methods ---------------------------------------------------------------------------------------------

  async #login(ctx: MethodContext, options: unknown): Promise<LoginResult> {
    if (!isRecord(options)) throw new MatchFailedError();
    if ('resume' in options) return await this.#resume(ctx, options.resume);
    if (!('user' in options) && !('password' in options))
      throw new ClientError(400, 'Unrecognized options for login request');
    for (const key of Object.keys(options))
      if (key !== 'user' && key !== 'password' && key !== 'code') throw new MatchFailedError();
    const query = userQuery(options.user);
    const digest = passwordDigest(options.password);
    const user = await this.#findUser(ctx, query);
    if (!(await verifyDigest(digest, user?.bcrypt ?? undefined, this.bcryptRounds)) || !user)
      throw new LoginFailedError();
    await this.#afterPasswordCheck(ctx, user, digest);
    return await this.#issueToken(ctx, user.id, new Date());
  }

  async #resume(ctx: MethodContext, token: unknown): Promise<LoginResult> {
    if (typeof token !== 'string') throw new MatchFailedError();
    const hashed = hashLoginToken(token);
    const found = await ctx.query<{ user_id: string; when: Date }>(
      'SELECT user_id, "when" FROM pgrt.login_tokens WHERE hashed_token = $1',
      [hashed],
    );
    const row = found.rows[0];
    if (!row) throw new LoggedOutError();
    const tokenExpires = tokenExpiration(row.when, this.loginExpirationInDays);
    if (tokenExpires <= new Date()) throw new SessionExpiredError();
    ctx.setUserId(row.user_id);
    this.#connectionTokens.set(ctx.connection, hashed);
    return { id: row.user_id, token, tokenExpires };
  }

  async #logout(ctx: MethodContext): Promise<void> {
    const hashed = this.#connectionTokens.get(ctx.connection);
    if (hashed) await ctx.query('DELETE FROM pgrt.login_tokens WHERE hashed_token = $1', [hashed]);
    this.#connectionTokens.delete(ctx.connection);
    ctx.setUserId(null);
  }

  async #getNewToken(ctx: MethodContext): Promise<LoginResult> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    const hashed = this.#connectionTokens.get(ctx.connection);
    const found = hashed
      ? await ctx.query<{ when: Date }>(
          'SELECT "when" FROM pgrt.login_tokens WHERE hashed_token = $1 AND user_id = $2',
          [hashed, userId],
        )
      : undefined;
    const when = found?.rows[0]?.when;
    if (!when) throw new ClientError(403, "Couldn't find login token");
    return await this.#issueToken(ctx, userId, when);
  }

  async #removeOtherTokens(ctx: MethodContext): Promise<void> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    const hashed = this.#connectionTokens.get(ctx.connection) ?? null;
    await ctx.query('DELETE FROM pgrt.login_tokens WHERE user_id = $1 AND hashed_token IS DISTINCT FROM $2', [
      userId,
      hashed,
    ]);
  }

  async #changePassword(
    ctx: MethodContext,
    oldPassword: unknown,
    newPassword: unknown,
  ): Promise<{ passwordChanged: true }> {
    const oldDigest = passwordDigest(oldPassword);
    const newDigest = passwordDigest(newPassword);
    const userId = ctx.userId;
    if (userId === null) throw new ClientError(401, 'Must be logged in');
    const user = await this.#findUser(ctx, { id: userId });
    if (!user || !(await verifyDigest(oldDigest, user.bcrypt ?? undefined, this.bcryptRounds)))
      throw new LoginFailedError();
    await this.#setPassword(ctx, userId, newDigest);
    const hashed = this.#connectionTokens.get(ctx.connection) ?? null;
    await ctx.query('DELETE FROM pgrt.login_tokens WHERE user_id = $1 AND hashed_token IS DISTINCT FROM $2', [
      userId,
      hashed,
    ]);
    return { passwordChanged: true };
  }

  async #createUserMethod(ctx: MethodContext, options: unknown): Promise<LoginResult> {
    if (!this.#allowCreateUser) throw new ClientError(403, 'Signups forbidden');
    if (!isRecord(options)) throw new MatchFailedError();
    for (const key of Object.keys(options))
      if (key !== 'username' && key !== 'email' && key !== 'password' && key !== 'profile')
        throw new MatchFailedError();
    if (options.profile !== undefined && !isRecord(options.profile)) throw new MatchFailedError();
    const username = optionalString(options.username);
    const email = optionalString(options.email);
    const id = await this.#insertUser(
      ctx,
      {
        ...(username === undefined ? {} : { username }),
        ...(email === undefined ? {} : { email }),
        password: options.password,
        ...(options.profile === undefined ? {} : { profile: options.profile as Record<string, unknown> }),
      },
      ctx.newId(this.collection),
    );
    return await this.#issueToken(ctx, id, new Date());
  }

  // ---- storage ---------------------------------------------------------------------------------------------

  async #findUser(db: Queryable, query: UserQuery): Promise<UserRow | undefined> {
    const result = await db.query<UserRow>(FIND_USER, [
      query.id ?? null,
      query.username ?? null,
      query.email ?? null,
    ]);
    return result.rows[0];
  }

  async #insertUser(db: Queryable, user: NewUser, id: string): Promise<string> {
    if (user.password === undefined) throw new MatchFailedError();
    const digest = passwordDigest(user.password);
    if (user.username === undefined && user.email === undefined)
      throw new ClientError(400, 'Need to set a username or email');
    if (user.username !== undefined && (await this.#findUser(db, { username: user.username })))
      throw new ClientError(403, 'Username already exists.');
    if (user.email !== undefined && (await this.#findUser(db, { email: user.email })))
      throw new ClientError(403, 'Email already exists.');
    try {
      await db.query(
        'INSERT INTO pgrt.users (id, username, emails, profile, roles) VALUES ($1, $2, $3, $4, $5)',
        [
          id,
          user.username ?? null,
          user.email === undefined ? null : JSON.stringify([{ address: user.email, verified: false }]),
          JSON.stringify(user.profile ?? {}),
          [...(user.roles ?? [])],
        ],
      );
    } catch (error) {
      // A concurrent signup with the same username (the unique index).
      if ((error as { code?: string }).code === '23505')
        throw new ClientError(403, 'Username already exists.', undefined, { cause: error });
      throw error;
    }
    await this.#setPassword(db, id, digest);
    return id;
  }

  async #setPassword(db: Queryable, userId: string, digest: string): Promise<void> {
    const salt = newCraSalt();
    await db.query(
      `INSERT INTO pgrt.user_passwords (user_id, bcrypt, cra_salt, cra_key) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE
         SET bcrypt = EXCLUDED.bcrypt, cra_salt = EXCLUDED.cra_salt, cra_key = EXCLUDED.cra_key`,
      [userId, await hashDigest(digest, this.bcryptRounds), salt, craKeyOf(digest, salt)],
    );
  }

  /** After a successful password check: re-hash with the configured rounds, derive the CRA key if missing. */
  async #afterPasswordCheck(db: Queryable, user: UserRow, digest: string): Promise<void> {
    if ((user.bcrypt && needsRehash(user.bcrypt, this.bcryptRounds)) || !user.cra_key)
      await this.#setPassword(db, user.id, digest);
  }

  async #issueToken(ctx: MethodContext, userId: string, when: Date): Promise<LoginResult> {
    const token = newLoginToken();
    const hashed = hashLoginToken(token);
    await ctx.query('INSERT INTO pgrt.login_tokens (hashed_token, user_id, "when") VALUES ($1, $2, $3)', [
      hashed,
      userId,
      when,
    ]);
    ctx.setUserId(userId);
    this.#connectionTokens.set(ctx.connection, hashed);
    return { id: userId, token, tokenExpires: tokenExpiration(when, this.loginExpirationInDays) };
  }
}

/** The accounts plug-in: `app.use(accounts({ bcryptRounds: 10 }))`. */
export function accounts(options: AccountsOptions = {}): Accounts {
  return new Accounts(options);
}
