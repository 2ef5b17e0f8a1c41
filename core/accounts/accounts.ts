/**
 * The accounts plug-in: users in PostgreSQL, Meteor-compatible login methods, the current-user publication, and
 * the role resolver the guards use. Apps opt in with `app.use(accounts())` (or `createServer({ accounts })`);
 * nothing here is registered otherwise.
 *
 * Methods (names and shapes as Meteor's accounts-base / accounts-password, reference/ddp.md §1.15):
 * `login({user, password} | {resume})` → `{id, token, tokenExpires}`; `logout()`; `getNewToken()`;
 * `removeOtherTokens()`; `createUser({username?, email?, password, profile?})` → like login (unless disabled);
 * `changePassword(oldPassword, newPassword)` → `{passwordChanged: true}`; the email flows of accounts-password:
 * `forgotPassword({email})` (sends a reset email), `resetPassword(token, newPassword)` and `verifyEmail(token)`
 * (both log in, like `login`). Login, createUser, resetPassword, verifyEmail and logout change the session's user
 * after their transaction commits: every subscription reruns and the client gets the differences.
 *
 * Emails (Meteor's `Accounts.sendResetPasswordEmail`, `sendEnrollmentEmail`, `sendVerificationEmail`): a token
 * (email-tokens.ts) in a link (emails.ts) handed to the app's `sendEmail`. `resetPassword` sets the password,
 * marks the address verified and removes every login token of the user, so their other connections are closed on
 * every process ("Revocation" below); the caller gets a fresh token.
 *
 * Publication: a universal one publishing the current user's `username`, `emails` and `profile` into `users`.
 *
 * WAMP uses the same users through {@link Accounts.checkTicket} (password or resume token) and
 * {@link Accounts.craPrincipal} (adapters/wamp/authentication.ts `accountsAuthenticators`).
 *
 * Revocation (Meteor's `_setLoginToken` observe on `services.resume.loginTokens`): a connection logged in with a
 * resume token is logged out by the server when that token is removed, whoever removed it on whichever process:
 * `changePassword` and `removeOtherTokens` (other tokens), `resetPassword` and {@link Accounts.setPassword} (all
 * tokens), `logout` elsewhere with the same token, the expiry sweep ({@link Accounts.expireTokens}), a deleted user,
 * plain SQL. As Meteor (`removed: connection.close`), the connection is closed: a DDP socket closes (the session
 * is not kept for resumption), so the client reconnects and its `login {resume}` with the token fails with 403
 * "You've been logged out by the server. Please log in again."; a WAMP session gets GOODBYE `wamp.close.killed`.
 * A session whose adapter cannot close its connection (no `SessionOutput.closeConnection`) is logged out in place
 * instead, as a `logout` call would: its user becomes null, every subscription reruns and the client gets the
 * differences.
 *
 * How it reaches every process: through the change bus, not a channel of its own. A statement trigger on
 * `pgrt.login_tokens` increments the owner's `pgrt.users.tokens_revoked` in the removing transaction
 * (schema.ts); `pgrt.users` is a captured table, so that update reaches every process in commit order in every
 * capture mode (notify, outbox, logical), with the outbox's gap replay, and without a token hash leaving the
 * database (its own NOTIFY channel would need a second LISTEN connection per process, its own gap handling, and a
 * NOTIFY in writers' transactions that outbox and logical modes exist to avoid). Each process keeps, per
 * connection, the token it logged in with and the counter it was last seen valid at; a counter above that
 * re-checks those tokens in the database (one query) and logs out the connections whose token is gone. A deleted
 * user logs out all of its sessions; a bus `resync` re-checks every token.
 */
import type { App, AppPlugin, PluginHost } from '../app.js';
import type { BusEvent } from '../bus/change-bus.js';
import type { ConnectionInfo, MethodContext } from '../contexts.js';
import type { Database, Queryable } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import { cryptoRandom } from '../random/random-stream.js';
import type { Session } from '../session.js';
import {
  deleteEmailToken,
  deleteEmailTokens,
  type EmailTokenLifetimes,
  type EmailTokenReason,
  expireEmailTokens,
  storeEmailToken,
  takeEmailToken,
} from './email-tokens.js';
import {
  type AccountEmailKind,
  type AccountEmailOptions,
  AccountEmails,
  type EmailMessage,
  type EmailUser,
} from './emails.js';
import {
  LoggedOutError,
  LoginFailedError,
  NotLoggedInError,
  SessionExpiredError,
  TokenExpiredError,
  VerifyEmailLinkExpiredError,
} from './errors.js';
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

/**
 * Options of {@link accounts}. The email ones ({@link AccountEmailOptions}: `sendEmail`, `rootUrl`, `urls`,
 * `emailTemplates`) are needed only by the email flows; without them those fail with a {@link ConfigurationError}.
 */
export interface AccountsOptions extends AccountEmailOptions {
  /** Collection the current user is published into (default `users`, as Meteor clients expect). */
  readonly collection?: string;
  /** bcrypt rounds for new hashes; older hashes are re-hashed at their next login (default 10). */
  readonly bcryptRounds?: number;
  /** Resume tokens expire this many days after they were made (default 90). */
  readonly loginExpirationInDays?: number;
  /** Whether clients may call `createUser` (default true; false: 403 "Signups forbidden"). */
  readonly allowCreateUser?: boolean;
  /**
   * How often each process runs {@link Accounts.expireTokens} and forgets the logins of closed connections, in ms
   * (default 600000, Meteor's `EXPIRE_TOKENS_INTERVAL_MS`; 0: never).
   */
  readonly expireTokensIntervalMs?: number;
  /** A reset link works this many days after it was made (default 3, Meteor's). */
  readonly passwordResetTokenExpirationInDays?: number;
  /** An enrollment link works this many days after it was made (default 30, Meteor's). */
  readonly passwordEnrollTokenExpirationInDays?: number;
  /**
   * The `createUser` method sends a verification email to the new user's address (Meteor's
   * `Accounts.config({sendVerificationEmail: true})`); needs `sendEmail` and `rootUrl` or `urls.verifyEmail`.
   * Default false.
   */
  readonly sendVerificationEmail?: boolean;
}

/** Options of the `send…Email` server calls. */
export interface SendAccountEmailOptions {
  /** Query parameters added to the link (Meteor's `extraParams`). */
  readonly extraParams?: Readonly<Record<string, string>>;
  /**
   * Where the token is stored: a method's `ctx`, so it commits (or not) with the method's writes, e.g. for a user
   * the method just inserted. Default: the accounts database, committed before the email is sent.
   */
  readonly db?: Queryable;
}

/** A token made by the server API, with the address it is for and the user (Meteor's `{email, user, token}`). */
export interface EmailToken {
  readonly email: string;
  readonly user: EmailUser;
  /** The secret; only its hash is stored. */
  readonly token: string;
}

/** What the `send…Email` server calls resolve to (Meteor's `{email, user, token, url, options}`). */
export interface SentEmail extends EmailToken {
  readonly url: string;
  readonly message: EmailMessage;
}

/** Meteor's `EXPIRE_TOKENS_INTERVAL_MS`. */
const EXPIRE_TOKENS_INTERVAL_MS = 600_000;
/** `pgrt.users` as the change bus names it. */
const USERS_TABLE = 'pgrt.users';
/** Advisory lock of the expiry sweep ('pgex'): one process sweeps at a time. */
const EXPIRE_LOCK = 0x7067_6578;
/** A WAMP ticket login whose session was never seen is forgotten after this long. */
const TICKET_LOGIN_TTL_MS = 60_000;
/** The token `reason` of each email. */
const EMAIL_TOKEN_REASONS: Readonly<Record<AccountEmailKind, EmailTokenReason>> = {
  resetPassword: 'reset',
  enrollAccount: 'enroll',
  verifyEmail: 'verifyEmail',
};

/** `u.emails` as an array (an app's SQL may have stored anything in it). */
const EMAILS_ARRAY = `CASE WHEN jsonb_typeof(u.emails) = 'array' THEN u.emails ELSE '[]'::jsonb END`;

/** Marks an address of a user verified (Meteor's `'emails.$.verified': true`); no row: not one of theirs. */
const MARK_EMAIL_VERIFIED = `
UPDATE pgrt.users u
   SET emails = (SELECT jsonb_agg(CASE WHEN e->>'address' = $2 THEN e || '{"verified": true}'::jsonb ELSE e END
                                  ORDER BY i)
                   FROM jsonb_array_elements(${EMAILS_ARRAY}) WITH ORDINALITY AS x (e, i))
 WHERE u.id = $1
   AND EXISTS (SELECT 1 FROM jsonb_array_elements(${EMAILS_ARRAY}) e WHERE e->>'address' = $2)
RETURNING u.id`;

/** How a connection is logged in: Meteor's per-connection `loginToken`, plus what revocation needs. */
interface Login {
  readonly userId: string;
  readonly hashedToken: string;
  /** The user's `tokens_revoked` when the token was last seen in the database. */
  revision: number;
}

/** The sessions of one connection selected for a re-check, with the login and user they had then. */
interface Selected {
  readonly login: Login | undefined;
  readonly userId: string | null;
  readonly sessions: Session[];
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
  /** Plain password or Meteor digest object; absent: no password yet (Meteor's enrollment flow). */
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
  readonly #expireTokensIntervalMs: number;
  readonly #sendVerificationEmail: boolean;
  readonly #emails: AccountEmails;
  /** Lifetimes of the emailed tokens in days (verification tokens do not expire, as in Meteor). */
  readonly #emailTokenLifetimes: EmailTokenLifetimes;
  /** The token each connection logged in with (logout, getNewToken, removeOtherTokens, revocation). */
  readonly #logins = new WeakMap<ConnectionInfo, Login>();
  /**
   * Logins of WAMP sessions that authenticated with a resume token as ticket, by session id, until the session's
   * connection is first seen (then they move to {@link #logins}).
   */
  readonly #ticketLogins = new Map<string, { readonly login: Login; readonly at: number }>();
  /**
   * Per user with logins on this process: the `tokens_revoked` up to which they are checked. A bus update of the
   * user's row with a higher value re-checks them; users absent here have nothing to check (the cheap filter that
   * keeps ordinary profile updates from scanning the sessions).
   */
  readonly #checkedRevision = new Map<string, number>();
  /** A re-check failed: the next housekeeping re-checks every login. */
  #recheckAll = false;
  #host: PluginHost | undefined;
  #db: Database | undefined;

  constructor(options: AccountsOptions = {}) {
    this.collection = options.collection ?? 'users';
    this.bcryptRounds = options.bcryptRounds ?? DEFAULT_BCRYPT_ROUNDS;
    this.loginExpirationInDays = options.loginExpirationInDays ?? 90;
    this.#allowCreateUser = options.allowCreateUser ?? true;
    this.#expireTokensIntervalMs = options.expireTokensIntervalMs ?? EXPIRE_TOKENS_INTERVAL_MS;
    if (!Number.isInteger(this.#expireTokensIntervalMs) || this.#expireTokensIntervalMs < 0)
      throw new ConfigurationError('expireTokensIntervalMs must be a non-negative integer');
    if (!Number.isInteger(this.bcryptRounds) || this.bcryptRounds < 4 || this.bcryptRounds > 31)
      throw new ConfigurationError('bcryptRounds must be an integer from 4 to 31');
    this.#emails = new AccountEmails(options);
    this.#emailTokenLifetimes = {
      reset: options.passwordResetTokenExpirationInDays ?? 3,
      enroll: options.passwordEnrollTokenExpirationInDays ?? 30,
    };
    for (const [reason, days] of Object.entries(this.#emailTokenLifetimes))
      if (!(typeof days === 'number' && days > 0 && Number.isFinite(days)))
        throw new ConfigurationError(`the ${reason} token expiration must be a positive number of days`);
    this.#sendVerificationEmail = options.sendVerificationEmail ?? false;
    if (this.#sendVerificationEmail) this.#emails.assertConfigured('verifyEmail');
  }

  /** The database, once the core started. */
  get db(): Database {
    if (!this.#db) throw new ConfigurationError('accounts: the core has not started');
    return this.#db;
  }

  /**
   * Registers the tables and the revocation watch (start hook), the `users` collection and publication, the
   * methods and roles.
   */
  install(app: App): void {
    app.onStart(async (db, host) => {
      await ensureAccountsSchema(db);
      this.#db = db;
      return this.#watch(host);
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
    // No transaction: the token commits on its own, and no database connection waits on the mail transport.
    app.method('forgotPassword', { transaction: false }, (_ctx, options) => this.#forgotPassword(options));
    app.method('resetPassword', (ctx, token, newPassword) => this.#resetPassword(ctx, token, newPassword));
    app.method('verifyEmail', (ctx, token) => this.#verifyEmail(ctx, token));
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
   * Sets a user's password without the old one (Meteor's `Accounts.setPasswordAsync`) and drops their reset
   * token. `logout` (default true) removes every login token of the user, closing their connections on every
   * process. Unknown user: 403 "User not found".
   */
  async setPassword(userId: string, newPassword: unknown, options: { logout?: boolean } = {}): Promise<void> {
    const digest = passwordDigest(newPassword);
    await this.db.transaction(async (client) => {
      const found = await client.query('SELECT 1 FROM pgrt.users WHERE id = $1 FOR UPDATE', [userId]);
      if (found.rowCount === 0) throw new ClientError(403, 'User not found');
      await this.#setPassword(client, userId, digest);
      await deleteEmailTokens(client, userId, 'reset');
      if (options.logout !== false)
        await client.query('DELETE FROM pgrt.login_tokens WHERE user_id = $1', [userId]);
    });
  }

  /**
   * Makes a reset (`'resetPassword'`) or enrollment (`'enrollAccount'`) token for one of the user's addresses
   * (default: the first), replacing the user's previous token of that kind (Meteor's
   * `Accounts.generateResetToken`). Unknown user or address: the ambiguous 403 ({@link LoginFailedError}).
   */
  async generateResetToken(
    userId: string,
    email?: string,
    reason: 'resetPassword' | 'enrollAccount' = 'resetPassword',
    options: Pick<SendAccountEmailOptions, 'db'> = {},
  ): Promise<EmailToken> {
    return await this.#generateToken(options.db ?? this.db, userId, email, reason);
  }

  /**
   * Makes a verification token for one of the user's addresses (default: the first unverified one); earlier
   * tokens stay valid (Meteor's `Accounts.generateVerificationToken`). Unknown user, unknown address or nothing
   * left to verify: the ambiguous 403.
   */
  async generateVerificationToken(
    userId: string,
    email?: string,
    options: Pick<SendAccountEmailOptions, 'db'> = {},
  ): Promise<EmailToken> {
    return await this.#generateToken(options.db ?? this.db, userId, email, 'verifyEmail');
  }

  /**
   * Emails the user a link to set a new password without the old one (Meteor's
   * `Accounts.sendResetPasswordEmail`); `email` defaults to their first address. The link works once, for
   * `passwordResetTokenExpirationInDays`. Rejects with a {@link ConfigurationError} before anything is stored
   * when `sendEmail` or the link's base is missing, and with `sendEmail`'s own rejection.
   */
  async sendResetPasswordEmail(
    userId: string,
    email?: string,
    options: SendAccountEmailOptions = {},
  ): Promise<SentEmail> {
    return await this.#sendTokenEmail('resetPassword', userId, email, options);
  }

  /**
   * Emails the user a link to choose their first password, which also marks the address verified (Meteor's
   * `Accounts.sendEnrollmentEmail`; for users created without a password). The link works once, for
   * `passwordEnrollTokenExpirationInDays`. Rejects as {@link sendResetPasswordEmail}.
   */
  async sendEnrollmentEmail(
    userId: string,
    email?: string,
    options: SendAccountEmailOptions = {},
  ): Promise<SentEmail> {
    return await this.#sendTokenEmail('enrollAccount', userId, email, options);
  }

  /**
   * Emails the user a link that marks the address verified and logs them in (Meteor's
   * `Accounts.sendVerificationEmail`); `email` defaults to their first unverified address. Verification links do
   * not expire (as in Meteor); verifying an address uses up every link sent to it. Rejects as
   * {@link sendResetPasswordEmail}.
   */
  async sendVerificationEmail(
    userId: string,
    email?: string,
    options: SendAccountEmailOptions = {},
  ): Promise<SentEmail> {
    return await this.#sendTokenEmail('verifyEmail', userId, email, options);
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
   * at the same bcrypt cost). `session`: the WAMP session id being authenticated; when the ticket is a resume
   * token, that session's core session is logged out when the token is removed (module header, "Revocation").
   */
  async checkTicket(
    authid: string,
    ticket: string,
    session?: number | string,
  ): Promise<AccountIdentity | null> {
    const user = await this.#findUser(this.db, { id: authid, username: authid, email: authid });
    if (user) {
      const hashedToken = hashLoginToken(ticket);
      const token = await this.db.query<{ when: Date; revision: string }>(
        `SELECT t."when", u.tokens_revoked AS revision
           FROM pgrt.login_tokens t JOIN pgrt.users u ON u.id = t.user_id
          WHERE t.hashed_token = $1 AND t.user_id = $2`,
        [hashedToken, user.id],
      );
      const row = token.rows[0];
      if (row && tokenExpiration(row.when, this.loginExpirationInDays) > new Date()) {
        if (session !== undefined) {
          const login = { userId: user.id, hashedToken, revision: Number(row.revision) };
          this.#ticketLogins.set(String(session), { login, at: Date.now() });
          this.#watchUser(login);
        }
        return { userId: user.id, roles: user.roles };
      }
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

  /**
   * Deletes every expired resume token (Meteor's `_expireTokens`); their connections, on every process, are logged
   * out. Expired reset and enrollment tokens go too (`_expirePasswordResetTokens`,
   * `_expirePasswordEnrollTokens`). Each process runs it every `expireTokensIntervalMs`, one at a time (a process
   * that finds another sweeping skips its turn and resolves 0). Resolves to the number of resume tokens deleted.
   */
  async expireTokens(): Promise<number> {
    return await this.db.transaction(async (client) => {
      const lock = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        EXPIRE_LOCK,
      ]);
      if (lock.rows[0]?.locked !== true) return 0;
      const removed = await client.query(
        'DELETE FROM pgrt.login_tokens WHERE "when" <= now() - make_interval(secs => $1)',
        [this.loginExpirationInDays * 86_400],
      );
      await expireEmailTokens(client, this.#emailTokenLifetimes);
      return removed.rowCount ?? 0;
    });
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
    // KEY SHARE: a concurrent removal of this token waits for this login to commit, so its bus event comes after
    // the login is registered and logs the connection out again.
    const found = await ctx.query<{ user_id: string; when: Date; revision: string }>(
      `SELECT t.user_id, t."when", u.tokens_revoked AS revision
         FROM pgrt.login_tokens t JOIN pgrt.users u ON u.id = t.user_id
        WHERE t.hashed_token = $1 FOR KEY SHARE OF t`,
      [hashed],
    );
    const row = found.rows[0];
    if (!row) throw new LoggedOutError();
    const tokenExpires = tokenExpiration(row.when, this.loginExpirationInDays);
    if (tokenExpires <= new Date()) throw new SessionExpiredError();
    ctx.setUserId(row.user_id);
    this.#setLogin(ctx.connection, {
      userId: row.user_id,
      hashedToken: hashed,
      revision: Number(row.revision),
    });
    return { id: row.user_id, token, tokenExpires };
  }

  async #logout(ctx: MethodContext): Promise<void> {
    const login = this.#loginOf(ctx.connection);
    // Forgotten first: this connection is not logged out by its own token's removal (Meteor stops the observe).
    this.#logins.delete(ctx.connection);
    if (login) await ctx.query('DELETE FROM pgrt.login_tokens WHERE hashed_token = $1', [login.hashedToken]);
    ctx.setUserId(null);
  }

  async #getNewToken(ctx: MethodContext): Promise<LoginResult> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    const hashed = this.#loginOf(ctx.connection)?.hashedToken;
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
    const hashed = this.#loginOf(ctx.connection)?.hashedToken ?? null;
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
    // As Meteor's `$unset: {'services.password.reset': 1}`: a pending reset link stops working.
    await deleteEmailTokens(ctx, userId, 'reset');
    const hashed = this.#loginOf(ctx.connection)?.hashedToken ?? null;
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
    if (options.password === undefined) throw new MatchFailedError();
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
    // Meteor's `createUserVerifyingEmail`; inside the transaction, so a failed send leaves no user behind.
    if (email !== undefined && this.#sendVerificationEmail)
      await this.#sendTokenEmail('verifyEmail', id, email, { db: ctx });
    return await this.#issueToken(ctx, id, new Date());
  }

  /**
   * Meteor's `forgotPassword`: `{email}` exactly. An unknown address gets the ambiguous 403; a known one gets a
   * reset email at the address as stored. Without `sendEmail` every call fails alike (a logged
   * {@link ConfigurationError}; the client sees 500), whether or not the address exists.
   */
  async #forgotPassword(options: unknown): Promise<void> {
    if (!isRecord(options) || Object.keys(options).length !== 1 || typeof options.email !== 'string')
      throw new MatchFailedError();
    this.#emails.assertConfigured('resetPassword');
    const user = await this.#findUserByEmail(options.email);
    if (!user) throw new LoginFailedError('User not found');
    await this.#sendTokenEmail('resetPassword', user.id, user.address, {});
  }

  /**
   * Meteor's `resetPassword(token, newPassword)` for reset and enrollment tokens: sets the password, uses up the
   * token, marks its address verified, removes every login token of the user (their other connections close on
   * every process) and logs the caller in with a fresh one. Unknown, used or expired token: 403 "Token expired";
   * the address is no longer the user's: 403 "Token has invalid email address".
   */
  async #resetPassword(ctx: MethodContext, token: unknown, newPassword: unknown): Promise<LoginResult> {
    if (typeof token !== 'string') throw new MatchFailedError();
    const digest = passwordDigest(newPassword);
    const record = await takeEmailToken(ctx, token, ['reset', 'enroll'], this.#emailTokenLifetimes);
    if (!record || record.expired) throw new TokenExpiredError();
    const verified = await ctx.query(MARK_EMAIL_VERIFIED, [record.userId, record.email]);
    if (verified.rowCount === 0) throw new ClientError(403, 'Token has invalid email address');
    await this.#setPassword(ctx, record.userId, digest);
    await deleteEmailToken(ctx, token);
    // The caller's own token may be among those removed; its connection is not closed for it, because the new
    // login replaces the connection's before the removal commits (and is counted at the new `tokens_revoked`).
    await ctx.query('DELETE FROM pgrt.login_tokens WHERE user_id = $1', [record.userId]);
    return await this.#issueToken(ctx, record.userId, new Date());
  }

  /**
   * Meteor's `verifyEmail(token)`: marks the token's address verified, uses up every verification token of that
   * address and logs the caller in. Unknown or used token: 403 "Verify email link expired"; the address is no
   * longer the user's: 403 "Verify email link is for unknown address".
   */
  async #verifyEmail(ctx: MethodContext, token: unknown): Promise<LoginResult> {
    if (typeof token !== 'string') throw new MatchFailedError();
    const record = await takeEmailToken(ctx, token, ['verifyEmail'], this.#emailTokenLifetimes);
    if (!record) throw new VerifyEmailLinkExpiredError();
    const verified = await ctx.query(MARK_EMAIL_VERIFIED, [record.userId, record.email]);
    if (verified.rowCount === 0) throw new ClientError(403, 'Verify email link is for unknown address');
    await deleteEmailTokens(ctx, record.userId, 'verifyEmail', record.email);
    return await this.#issueToken(ctx, record.userId, new Date());
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

  /**
   * The user with that address (Meteor's `findUserByEmail`: an exact match first, else a case-insensitive one if
   * only one user has it) and the first of their addresses equal to it case-insensitively.
   */
  async #findUserByEmail(email: string): Promise<{ id: string; address: string } | undefined> {
    const found = await this.db.query<{ id: string; address: string; exact: boolean }>(
      `SELECT u.id, e.value->>'address' AS address, e.value->>'address' = $1 AS exact
         FROM pgrt.users u
        CROSS JOIN LATERAL jsonb_array_elements(${EMAILS_ARRAY}) WITH ORDINALITY AS e (value, i)
        WHERE lower(e.value->>'address') = lower($1)
        ORDER BY u.id, e.i`,
      [email],
    );
    const users = new Map<string, { id: string; address: string; exact: boolean }>();
    for (const row of found.rows) {
      const user = users.get(row.id);
      if (!user) users.set(row.id, { ...row });
      else user.exact ||= row.exact;
    }
    const candidates = [...users.values()];
    const exact = candidates.find((user) => user.exact);
    if (exact) return { id: exact.id, address: exact.address };
    const only = candidates.length === 1 ? candidates[0] : undefined;
    return only && { id: only.id, address: only.address };
  }

  /** The user as email templates see it. */
  async #emailUser(db: Queryable, userId: string): Promise<EmailUser | undefined> {
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

  /** Meteor's `generateResetToken` / `generateVerificationToken`. */
  async #generateToken(
    db: Queryable,
    userId: string,
    email: string | undefined,
    kind: AccountEmailKind,
  ): Promise<EmailToken> {
    const user = await this.#emailUser(db, userId);
    if (!user) throw new LoginFailedError("Can't find user");
    let address = email;
    if (address === undefined || address === '') {
      address =
        kind === 'verifyEmail' ? user.emails.find((e) => !e.verified)?.address : user.emails[0]?.address;
      if (address === undefined && kind === 'verifyEmail')
        throw new LoginFailedError('That user has no unverified email addresses.');
    }
    if (address === undefined || !user.emails.some((e) => e.address === address))
      throw new LoginFailedError('No such email for user.');
    const token = await storeEmailToken(db, userId, EMAIL_TOKEN_REASONS[kind], address);
    return { email: address, user, token };
  }

  /** Meteor's `send…Email`: checks the configuration, makes the token, builds the message, sends it. */
  async #sendTokenEmail(
    kind: AccountEmailKind,
    userId: string,
    email: string | undefined,
    options: SendAccountEmailOptions,
  ): Promise<SentEmail> {
    this.#emails.assertConfigured(kind);
    const generated = await this.#generateToken(options.db ?? this.db, userId, email, kind);
    const url = this.#emails.url(kind, generated.token, options.extraParams);
    const message = await this.#emails.message(kind, generated.email, generated.user, url);
    await this.#emails.send(message);
    return { ...generated, url, message };
  }

  async #insertUser(db: Queryable, user: NewUser, id: string): Promise<string> {
    const digest = user.password === undefined ? undefined : passwordDigest(user.password);
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
    if (digest !== undefined) await this.#setPassword(db, id, digest);
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
    const inserted = await ctx.query<{ revision: string }>(
      `INSERT INTO pgrt.login_tokens (hashed_token, user_id, "when") VALUES ($1, $2, $3)
       RETURNING (SELECT tokens_revoked FROM pgrt.users WHERE id = $2) AS revision`,
      [hashed, userId, when],
    );
    ctx.setUserId(userId);
    this.#setLogin(ctx.connection, {
      userId,
      hashedToken: hashed,
      revision: Number(inserted.rows[0]?.revision),
    });
    return { id: userId, token, tokenExpires: tokenExpiration(when, this.loginExpirationInDays) };
  }

  // ---- revocation (module header) ---------------------------------------------------------------------------

  /** Starts watching the bus and the housekeeping timer; returns their stop (the core calls it at close). */
  #watch(host: PluginHost): () => void {
    this.#host = host;
    const unsubscribe = host.bus.subscribe((event) => this.#busEvent(event));
    const timer =
      this.#expireTokensIntervalMs > 0
        ? setInterval(() => {
            this.#housekeeping().catch((error: unknown) =>
              host.logger.error({ err: error }, 'accounts: expiring login tokens failed'),
            );
          }, this.#expireTokensIntervalMs)
        : undefined;
    timer?.unref();
    return () => {
      unsubscribe();
      clearInterval(timer);
      this.#host = undefined;
    };
  }

  #setLogin(connection: ConnectionInfo, login: Login): void {
    this.#logins.set(connection, login);
    this.#watchUser(login);
  }

  #watchUser(login: Login): void {
    // Not raised when present: logins already here may not be checked up to this login's revision yet.
    if (!this.#checkedRevision.has(login.userId)) this.#checkedRevision.set(login.userId, login.revision);
  }

  /** The login of a connection; a WAMP session's ticket login moves to {@link #logins} when first asked for. */
  #loginOf(connection: ConnectionInfo): Login | undefined {
    const login = this.#logins.get(connection);
    if (login || connection.protocol !== 'wamp' || this.#ticketLogins.size === 0) return login;
    const ticket = this.#ticketLogins.get(connection.id);
    if (!ticket) return undefined;
    this.#ticketLogins.delete(connection.id);
    this.#logins.set(connection, ticket.login);
    return ticket.login;
  }

  /** Called synchronously for each bus event, in commit order. */
  #busEvent(event: BusEvent): void {
    switch (event.kind) {
      case 'change': {
        if (event.table !== USERS_TABLE) return;
        const userId = String(event.key);
        if (event.op === 'delete') {
          this.#checkedRevision.delete(userId);
          this.#recheck((login, session) => (login?.userId ?? session.userId) === userId);
          return;
        }
        const checked = this.#checkedRevision.get(userId);
        if (checked === undefined) return;
        const revision = Number(event.row?.tokens_revoked);
        if (Number.isFinite(revision)) {
          if (revision <= checked) return;
          this.#checkedRevision.set(userId, revision);
        }
        this.#recheck(
          (login) => login?.userId === userId && (!Number.isFinite(revision) || login.revision < revision),
        );
        return;
      }
      case 'truncate':
        if (event.table !== USERS_TABLE) return;
        this.#checkedRevision.clear();
        this.#recheck((login, session) => login !== undefined || session.userId !== null);
        return;
      case 'resync':
        this.#recheck((login) => login !== undefined);
        return;
      case 'fence':
        return;
    }
  }

  /**
   * Re-checks the sessions `match` selects: those logged in with a token still in the database stay (and are
   * marked checked); the others are logged out. A matched session without a login (WAMP password or CRA, or an
   * app's own `setUserId`) is only selected when its user is gone, and is logged out.
   */
  #recheck(match: (login: Login | undefined, session: Session) => boolean): void {
    const host = this.#host;
    if (!host) return;
    const selected = new Map<ConnectionInfo, Selected>();
    for (const session of host.sessions) {
      const login = this.#loginOf(session.connection);
      if (!match(login, session)) continue;
      const entry = selected.get(session.connection);
      if (entry) entry.sessions.push(session);
      else
        selected.set(session.connection, {
          login,
          userId: login?.userId ?? session.userId,
          sessions: [session],
        });
    }
    if (selected.size === 0) return;
    this.#logOutRevoked(selected).catch((error: unknown) => {
      this.#recheckAll = true;
      host.logger.error({ err: error }, 'accounts: checking login tokens failed; retried at housekeeping');
    });
  }

  async #logOutRevoked(selected: ReadonlyMap<ConnectionInfo, Selected>): Promise<void> {
    const hashes = new Set<string>();
    for (const { login } of selected.values()) if (login) hashes.add(login.hashedToken);
    const valid = new Map<string, { user_id: string; revision: string }>();
    if (hashes.size > 0) {
      const found = await this.db.query<{ hashed_token: string; user_id: string; revision: string }>(
        `SELECT t.hashed_token, t.user_id, u.tokens_revoked AS revision
           FROM pgrt.login_tokens t JOIN pgrt.users u ON u.id = t.user_id
          WHERE t.hashed_token = ANY($1)`,
        [[...hashes]],
      );
      for (const row of found.rows) valid.set(row.hashed_token, row);
    }
    for (const [connection, { login, userId, sessions }] of selected) {
      const row = login ? valid.get(login.hashedToken) : undefined;
      if (login && row?.user_id === login.userId) {
        login.revision = Math.max(login.revision, Number(row.revision));
        continue;
      }
      // Logged in again (or out) while the query ran: that login is not the one found missing.
      if (this.#logins.get(connection) !== login) continue;
      this.#logins.delete(connection);
      for (const session of sessions) {
        // Without a login, only the user found gone is logged out (not one a method set since).
        if (!login && session.userId !== userId) continue;
        this.#host?.logger.info(
          { session: connection.id, protocol: connection.protocol, user: userId },
          'login token removed: logged out by the server',
        );
        // As Meteor: the connection is closed (its client reconnects and its resume fails). An adapter that
        // cannot close it gets the session logged out in place.
        if (session.closeConnection('logged out by the server')) continue;
        session.setUserId(null).catch((error: unknown) => {
          this.#host?.logger.error({ err: error, session: connection.id }, 'accounts: logging out failed');
        });
      }
    }
  }

  /**
   * Every `expireTokensIntervalMs`: forgets what closed connections left (users without logins here, WAMP ticket
   * logins whose session never appeared), re-checks every login after a failed re-check, then sweeps expired
   * tokens.
   */
  async #housekeeping(): Promise<void> {
    const host = this.#host;
    if (!host) return;
    const users = new Set<string>();
    for (const session of host.sessions) {
      const login = this.#loginOf(session.connection);
      if (login) users.add(login.userId);
    }
    const stale = Date.now() - TICKET_LOGIN_TTL_MS;
    for (const [id, ticket] of this.#ticketLogins) {
      if (ticket.at < stale) this.#ticketLogins.delete(id);
      else users.add(ticket.login.userId);
    }
    for (const userId of this.#checkedRevision.keys())
      if (!users.has(userId)) this.#checkedRevision.delete(userId);
    if (this.#recheckAll) {
      this.#recheckAll = false;
      this.#recheck((login) => login !== undefined);
    }
    await this.expireTokens();
  }
}

/** The accounts plug-in: `app.use(accounts({ bcryptRounds: 10 }))`. */
export function accounts(options: AccountsOptions = {}): Accounts {
  return new Accounts(options);
}
