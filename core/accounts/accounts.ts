/**
 * The accounts plug-in: users in PostgreSQL, Meteor-compatible login methods, the current-user publication, and
 * the role resolver the guards use. Apps opt in with `app.use(accounts())` (or `createServer({ accounts })`);
 * nothing here is registered otherwise. docs/reference.md "Accounts" is the reference.
 *
 * This file composes the parts, one concept per file:
 * - user-store.ts: users and their password hashes (`pgrt.users`, `pgrt.user_passwords`), Meteor import;
 * - derived-credentials.ts: what a protocol's own login derives from a password (`pgrt.user_credentials`);
 * - login-methods.ts: `login`, `logout`, `getNewToken`, `removeOtherTokens`, `changePassword`, `createUser`,
 *   and the login a protocol handshake makes outside a method;
 * - login-tokens.ts, tokens.ts: resume tokens and their expiry sweep;
 * - revocation.ts: which connection holds which token, and closing it when the token goes, on every process;
 * - email-flows.ts, email-tokens.ts, emails.ts: `forgotPassword`, `resetPassword`, `verifyEmail` and their emails;
 * - schema.ts: the tables.
 *
 * Protocol adapters use the same users through {@link Accounts.checkSecret} (a password or resume token during a
 * handshake) and {@link Accounts.registerDerivedCredential} / {@link Accounts.derivedCredential} (e.g. the WAMP
 * adapter's challenge-response keys).
 */
import type { App, AppPlugin } from '../app.js';
import type { ConnectionInfo } from '../contexts.js';
import type { Database } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import { cryptoRandom } from '../random/random-stream.js';
import { type CredentialDeriver, DerivedCredentials } from './derived-credentials.js';
import { EmailFlows, type EmailToken, type SendAccountEmailOptions, type SentEmail } from './email-flows.js';
import { deleteEmailTokens, expireEmailTokens } from './email-tokens.js';
import { type AccountEmailOptions, AccountEmails } from './emails.js';
import { type AccountIdentity, LoginMethods, type LoginResult } from './login-methods.js';
import { deleteLoginTokens, expireLoginTokens } from './login-tokens.js';
import { DEFAULT_BCRYPT_ROUNDS, passwordDigest } from './password.js';
import { ConnectionLogins } from './revocation.js';
import { ensureAccountsSchema } from './schema.js';
import { type MeteorUserDocument, type NewUser, UserStore } from './user-store.js';

export type { CredentialDeriver } from './derived-credentials.js';
export type { EmailToken, SendAccountEmailOptions, SentEmail } from './email-flows.js';
export type { AccountIdentity, LoginResult } from './login-methods.js';
export type { MeteorUserDocument, NewUser } from './user-store.js';

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

/** Meteor's `EXPIRE_TOKENS_INTERVAL_MS`. */
const EXPIRE_TOKENS_INTERVAL_MS = 600_000;

/** A password-derived credential of a user, with who the user is. */
export interface DerivedCredential extends AccountIdentity {
  /** What the deriver returned when the password was set or last used. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** The accounts plug-in; see the module header. One instance per app. */
export class Accounts implements AppPlugin {
  /** The collection the current user is published into. */
  readonly collection: string;
  readonly bcryptRounds: number;
  readonly loginExpirationInDays: number;
  readonly #expireTokensIntervalMs: number;
  readonly #credentials = new DerivedCredentials();
  readonly #users: UserStore;
  readonly #logins: ConnectionLogins;
  readonly #methods: LoginMethods;
  readonly #emailFlows: EmailFlows<LoginResult>;
  #db: Database | undefined;

  constructor(options: AccountsOptions = {}) {
    this.collection = options.collection ?? 'users';
    this.bcryptRounds = options.bcryptRounds ?? DEFAULT_BCRYPT_ROUNDS;
    this.loginExpirationInDays = options.loginExpirationInDays ?? 90;
    this.#expireTokensIntervalMs = options.expireTokensIntervalMs ?? EXPIRE_TOKENS_INTERVAL_MS;
    if (!Number.isInteger(this.#expireTokensIntervalMs) || this.#expireTokensIntervalMs < 0)
      throw new ConfigurationError('expireTokensIntervalMs must be a non-negative integer');
    if (!Number.isInteger(this.bcryptRounds) || this.bcryptRounds < 4 || this.bcryptRounds > 31)
      throw new ConfigurationError('bcryptRounds must be an integer from 4 to 31');
    const emails = new AccountEmails(options);
    const lifetimes = {
      reset: options.passwordResetTokenExpirationInDays ?? 3,
      enroll: options.passwordEnrollTokenExpirationInDays ?? 30,
    };
    for (const [reason, days] of Object.entries(lifetimes))
      if (!(typeof days === 'number' && days > 0 && Number.isFinite(days)))
        throw new ConfigurationError(`the ${reason} token expiration must be a positive number of days`);
    const sendVerificationEmail = options.sendVerificationEmail ?? false;
    if (sendVerificationEmail) emails.assertConfigured('verifyEmail');
    const database = () => this.db;
    this.#users = new UserStore(this.#credentials, this.bcryptRounds);
    this.#logins = new ConnectionLogins(database);
    this.#methods = new LoginMethods(
      this.#users,
      this.#logins,
      {
        bcryptRounds: this.bcryptRounds,
        loginExpirationInDays: this.loginExpirationInDays,
        allowCreateUser: options.allowCreateUser ?? true,
        sendVerificationEmail,
      },
      database,
    );
    this.#emailFlows = new EmailFlows(this.#users, emails, lifetimes, database, (ctx, userId) =>
      this.#methods.issueToken(ctx, userId, new Date()),
    );
    this.#methods.emailFlows = this.#emailFlows;
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
      return this.#logins.watch(host, this.#expireTokensIntervalMs, () => this.expireTokens());
    });
    app.roles((db, userId) => this.#users.roles(db, userId));
    const collection = this.collection;
    app.collection(collection, { table: 'pgrt.users' });
    app.publish(null, (ctx) =>
      ctx.userId === null
        ? undefined
        : ctx.find(collection, { _id: ctx.userId }, { fields: { username: 1, emails: 1, profile: 1 } }),
    );
    const methods = this.#methods;
    app.method('login', (ctx, options) => methods.login(ctx, options));
    app.method('logout', (ctx) => methods.logout(ctx));
    app.method('getNewToken', (ctx) => methods.getNewToken(ctx));
    app.method('removeOtherTokens', (ctx) => methods.removeOtherTokens(ctx));
    app.method('changePassword', (ctx, oldPassword, newPassword) =>
      methods.changePassword(ctx, oldPassword, newPassword),
    );
    app.method('createUser', (ctx, options) => methods.createUser(ctx, options, collection));
    const flows = this.#emailFlows;
    // No transaction: the token commits on its own, and no database connection waits on the mail transport.
    app.method('forgotPassword', { transaction: false }, (_ctx, options) => flows.forgotPassword(options));
    app.method('resetPassword', (ctx, token, newPassword) => flows.resetPassword(ctx, token, newPassword));
    app.method('verifyEmail', (ctx, token) => flows.verifyEmail(ctx, token));
  }

  // ---- server API ------------------------------------------------------------------------------------------

  /**
   * Creates a user from the server (seeding, admin tools); returns its id. Rejects with 403 "Username already
   * exists." / "Email already exists." like the method.
   */
  async createUser(user: NewUser): Promise<string> {
    return await this.db.transaction((client) =>
      this.#users.insert(client, user, user.id ?? cryptoRandom.id()),
    );
  }

  /** Replaces a user's roles (the first one becomes the WAMP authrole). */
  async setRoles(userId: string, roles: readonly string[]): Promise<void> {
    await this.#users.setRoles(this.db, userId, roles);
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
      await this.#users.setPassword(client, userId, digest);
      await deleteEmailTokens(client, userId, 'reset');
      if (options.logout !== false) await deleteLoginTokens(client, userId);
    });
  }

  /**
   * Makes a reset (`'resetPassword'`) or enrollment (`'enrollAccount'`) token for one of the user's addresses
   * (default: the first), replacing the user's previous token of that kind (Meteor's
   * `Accounts.generateResetToken`). Unknown user or address: the ambiguous 403 (`LoginFailedError`).
   */
  async generateResetToken(
    userId: string,
    email?: string,
    reason: 'resetPassword' | 'enrollAccount' = 'resetPassword',
    options: Pick<SendAccountEmailOptions, 'db'> = {},
  ): Promise<EmailToken> {
    return await this.#emailFlows.generate(options.db ?? this.db, userId, email, reason);
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
    return await this.#emailFlows.generate(options.db ?? this.db, userId, email, 'verifyEmail');
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
    return await this.#emailFlows.send('resetPassword', userId, email, options);
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
    return await this.#emailFlows.send('enrollAccount', userId, email, options);
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
    return await this.#emailFlows.send('verifyEmail', userId, email, options);
  }

  /**
   * Imports a Meteor user document: `_id` stays the user id; `username`, `emails`, `profile`, `roles` (an array of
   * strings), `services.password.bcrypt` and `services.resume.loginTokens` (hashed, or legacy plain tokens, which
   * are hashed here) are kept, so the user logs in with the same password and stays logged in. Re-importing the
   * same `_id` updates it.
   */
  async importMeteorUser(doc: MeteorUserDocument): Promise<void> {
    await this.db.transaction((client) => this.#users.importMeteorUser(client, doc));
  }

  /**
   * A password or resume token checked outside a method (a protocol handshake: WAMP `ticket`): `identifier` is a
   * user id, username or email; `secret` the plain password or one of the user's unexpired resume tokens. Resolves
   * null for any failure (unknown user and wrong secret alike, at the same bcrypt cost). With `connection` (the
   * connection the handshake's session will have), a login by resume token ties that connection to the token,
   * as `login {resume}` does: it is closed when the token is removed (revocation.ts).
   */
  async checkSecret(
    identifier: string,
    secret: string,
    connection?: Pick<ConnectionInfo, 'protocol' | 'id'>,
  ): Promise<AccountIdentity | null> {
    return await this.#methods.checkSecret(identifier, secret, connection);
  }

  /**
   * Registers a password-derived credential (derived-credentials.ts): `derive(digest)` runs with the password's
   * lowercase hex SHA-256 whenever a password is set or used, and its JSON result is stored per user. Register
   * before the server starts.
   */
  registerDerivedCredential(name: string, derive: CredentialDeriver): void {
    this.#credentials.register(name, derive);
  }

  /**
   * The derived credential `name` of the user an `identifier` (id, username or email) names, or null: unknown
   * user, or no such credential yet (it exists once the user has set or used their password through pgrt).
   */
  async derivedCredential(identifier: string, name: string): Promise<DerivedCredential | null> {
    const user = await this.#users.find(this.db, { id: identifier, username: identifier, email: identifier });
    if (!user?.credentials.includes(name)) return null;
    const data = await this.#credentials.get(this.db, user.id, name);
    return data === undefined ? null : { userId: user.id, roles: user.roles, data };
  }

  /**
   * Deletes every expired resume token (Meteor's `_expireTokens`); their connections, on every process, are logged
   * out. Expired reset and enrollment tokens go too (`_expirePasswordResetTokens`,
   * `_expirePasswordEnrollTokens`). Each process runs it every `expireTokensIntervalMs`, one at a time (a process
   * that finds another sweeping skips its turn and resolves 0). Resolves to the number of resume tokens deleted.
   */
  async expireTokens(): Promise<number> {
    return await expireLoginTokens(this.db, this.loginExpirationInDays, (client) =>
      expireEmailTokens(client, this.#emailFlows.lifetimes),
    );
  }
}

/** The accounts plug-in: `app.use(accounts({ bcryptRounds: 10 }))`. */
export function accounts(options: AccountsOptions = {}): Accounts {
  return new Accounts(options);
}
