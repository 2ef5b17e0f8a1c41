/**
 * The accounts plug-in: users in PostgreSQL, Meteor's login methods, hooks and login handlers, the current-user
 * publication, and the role resolver the guards use. Apps opt in with `app.use(accounts())` (or
 * `createServer({ accounts })`); nothing here is registered otherwise. docs/reference.md "Accounts" is the
 * reference; docs/migrating-from-meteor.md maps Meteor's `Accounts` API onto this class.
 *
 * This file composes the parts, one concept per file:
 * - login-pipeline.ts: login handlers and the attempt with its hooks (`validateLoginAttempt`, `onLogin`, …);
 * - login-handlers.ts: the built-in `resume` and `password` handlers;
 * - login-methods.ts: `login`, `logout`, `getNewToken`, `removeOtherTokens`, `changePassword`, `createUser`,
 *   and the logins a protocol handshake makes outside a method;
 * - user-creation.ts: `onCreateUser`, `validateNewUser`, `restrictCreationByEmailDomain`;
 * - user-documents.ts: users as Meteor documents (extra fields, `services`, `defaultFieldSelector`);
 * - user-helpers.ts: `setUsername`, `addEmail`, `findUserBy…`, `updateOrCreateUserFromExternalService`;
 * - user-store.ts: finding users and storing their password hashes; hygiene.ts: what a name or address may be;
 * - derived-credentials.ts: what a protocol's own login derives from a password (`pgrt.user_credentials`);
 * - login-tokens.ts, tokens.ts: resume tokens and their expiry sweep;
 * - revocation.ts: which connection holds which token, and closing it when the token goes, on every process;
 * - email-flows.ts, email-tokens.ts, emails.ts: `forgotPassword`, `resetPassword`, `verifyEmail` and their emails;
 * - migrations/*.sql: the tables (the migration set `pgrt.accounts`).
 */
import type { App, AppPlugin } from '../app.js';
import type { Database, Queryable } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import type { AccountsOptions } from './accounts-options.js';
import { type CredentialDeriver, DerivedCredentials } from './derived-credentials.js';
import { EmailFlows, type EmailToken, type SendAccountEmailOptions, type SentEmail } from './email-flows.js';
import { deleteEmailTokens, expireEmailTokens } from './email-tokens.js';
import { AccountEmails } from './emails.js';
import { AccountErrors } from './errors.js';
import { checkPasswordNotEmpty } from './hygiene.js';
import { passwordLoginHandler, resumeLoginHandler } from './login-handlers.js';
import { type AccountIdentity, LoginMethods } from './login-methods.js';
import {
  type HookHandle,
  type LoginCall,
  type LoginHandler,
  type LoginHandlerResult,
  type LoginHook,
  LoginPipeline,
  type LogoutHook,
  type ValidateLoginAttempt,
} from './login-pipeline.js';
import { LoginThrottle } from './login-throttle.js';
import { deleteLoginTokens, expireLoginTokens } from './login-tokens.js';
import { DEFAULT_BCRYPT_ROUNDS, passwordDigest } from './password.js';
import { ConnectionLogins } from './revocation.js';
import { type OnCreateUser, UserCreation, type ValidateNewUser } from './user-creation.js';
import { publishedFields, type UserDocument, UserDocuments } from './user-documents.js';
import {
  type AdditionalFindUser,
  type BeforeExternalLogin,
  type FindUserOptions,
  type OnExternalLogin,
  UserHelpers,
} from './user-helpers.js';
import { type MeteorUserDocument, type NewUser, UserStore } from './user-store.js';

export type { AccountsOptions } from './accounts-options.js';
export type { CredentialDeriver } from './derived-credentials.js';
export type { EmailToken, SendAccountEmailOptions, SentEmail } from './email-flows.js';
export type { AccountIdentity, LoginResult } from './login-methods.js';
export type {
  HookHandle,
  LoginAttempt,
  LoginCall,
  LoginHandler,
  LoginHandlerResult,
  LoginHook,
  LogoutHook,
  ValidateLoginAttempt,
} from './login-pipeline.js';
export type { LoginThrottleOptions, ThrottleRule } from './login-throttle.js';
export type { EmailDomainRule, OnCreateUser, ValidateNewUser } from './user-creation.js';
export type { FieldSelector, UserDocument } from './user-documents.js';
export type {
  AdditionalFindUser,
  BeforeExternalLogin,
  FindUserOptions,
  OnExternalLogin,
} from './user-helpers.js';
export type { MeteorUserDocument, NewUser } from './user-store.js';

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
  readonly #options: AccountsOptions;
  readonly #expireTokensIntervalMs: number;
  readonly #credentials = new DerivedCredentials();
  readonly #users: UserStore;
  readonly #documents: UserDocuments;
  readonly #creation: UserCreation;
  readonly #helpers: UserHelpers;
  readonly #pipeline: LoginPipeline;
  readonly #logins: ConnectionLogins;
  readonly #methods: LoginMethods;
  readonly #emailFlows: EmailFlows;
  readonly #errors: AccountErrors;
  readonly #throttle: LoginThrottle | undefined;
  #db: Database | undefined;

  constructor(options: AccountsOptions = {}) {
    this.#options = options;
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
    this.#throttle = options.loginThrottle === false ? undefined : new LoginThrottle(options.loginThrottle);
    const errors = new AccountErrors(options.ambiguousErrorMessages ?? true);
    this.#errors = errors;
    const database = () => this.db;
    const settings = { bcryptRounds: this.bcryptRounds, loginExpirationInDays: this.loginExpirationInDays };
    this.#users = new UserStore(this.#credentials, this.bcryptRounds);
    this.#documents = new UserDocuments(options.defaultFieldSelector, options.userColumns);
    this.#creation = new UserCreation(this.#users, this.#documents, {
      restrictCreationByEmailDomain: options.restrictCreationByEmailDomain,
      ambiguousErrorMessages: errors.ambiguous,
    });
    this.#helpers = new UserHelpers(this.#users, this.#documents, this.#creation, errors);
    this.#pipeline = new LoginPipeline((userId, db) => this.#documents.find(db ?? this.db, userId));
    this.#pipeline.registerLoginHandler('resume', resumeLoginHandler(settings));
    this.#pipeline.registerLoginHandler('password', passwordLoginHandler(this.#users, errors, settings));
    this.#logins = new ConnectionLogins(database);
    const forbid = options.forbidClientAccountCreation ?? options.allowCreateUser === false;
    this.#methods = new LoginMethods(
      this.#users,
      this.#creation,
      this.#pipeline,
      this.#logins,
      errors,
      { ...settings, forbidClientAccountCreation: forbid, sendVerificationEmail },
      database,
      this.#throttle,
    );
    this.#emailFlows = new EmailFlows(this.#users, emails, lifetimes, errors, database);
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
    // The tables: the migration set `pgrt.accounts` (migrations/*.sql), applied before start hooks run.
    app.migrations('pgrt.accounts', new URL('./migrations/', import.meta.url));
    app.onStart(async (db, host) => {
      await this.#documents.addDeclaredColumns(db);
      await this.#documents.loadColumns(db);
      this.#db = db;
      this.#pipeline.logger = host.logger;
      // `rateLimits: false` on the core means no limits at all: the failed-login limits too.
      if (!host.rateLimited) this.#methods.throttle = undefined;
      return this.#logins.watch(host, this.#expireTokensIntervalMs, () => this.expireTokens());
    });
    app.roles((db, userId) => this.#users.roles(db, userId));
    app.sessionLogins(this.#logins.sessionLogins(this.loginExpirationInDays));
    const collection = this.collection;
    const fields = publishedFields(this.#options.defaultFieldSelector);
    app.collection(collection, { table: 'pgrt.users' });
    app.publish(null, (ctx) =>
      ctx.userId === null ? undefined : ctx.find(collection, { _id: ctx.userId }, { fields }),
    );
    const methods = this.#methods;
    app.method('login', (ctx, options) => methods.login(ctx, options));
    app.method('logout', (ctx) => methods.logout(ctx));
    app.method('getNewToken', (ctx) => methods.getNewToken(ctx));
    app.method('removeOtherTokens', (ctx) => methods.removeOtherTokens(ctx));
    app.method('changePassword', (ctx, oldPassword, newPassword) =>
      methods.changePassword(ctx, oldPassword, newPassword),
    );
    app.method('createUser', (ctx, options) => methods.createUser(ctx, options, () => ctx.newId(collection)));
    const flows = this.#emailFlows;
    // No transaction: the token commits on its own, and no database connection waits on the mail transport.
    app.method('forgotPassword', { transaction: false }, (_ctx, options) => flows.forgotPassword(options));
    app.method('resetPassword', (ctx, token, newPassword) =>
      methods.loginMethod(ctx, 'resetPassword', [token, newPassword], 'password', () =>
        flows.resetPassword(ctx, token, newPassword),
      ),
    );
    app.method('verifyEmail', (ctx, token) =>
      methods.loginMethod(ctx, 'verifyEmail', [token], 'password', () => flows.verifyEmail(ctx, token)),
    );
  }

  // ---- hooks and handlers (Meteor's names; each may be async) -------------------------------------------------

  /** Adds a login handler after the built-in `resume` and `password` (Meteor's `registerLoginHandler`). */
  registerLoginHandler(handler: LoginHandler): void;
  registerLoginHandler(name: string, handler: LoginHandler): void;
  registerLoginHandler(a: string | LoginHandler, b?: LoginHandler): void {
    if (typeof a === 'function') this.#pipeline.registerLoginHandler(null, a);
    else this.#pipeline.registerLoginHandler(a, b as LoginHandler);
  }
  /** Every login attempt, allowed or not; a falsy result or a throw refuses it. */
  validateLoginAttempt(fn: ValidateLoginAttempt): HookHandle {
    return this.#pipeline.validateLoginAttempt(fn);
  }
  /** After each successful login. */
  onLogin(fn: LoginHook): HookHandle {
    return this.#pipeline.onLogin(fn);
  }
  /** After each refused login. */
  onLoginFailure(fn: LoginHook): HookHandle {
    return this.#pipeline.onLoginFailure(fn);
  }
  /** After each `logout` call. */
  onLogout(fn: LogoutHook): HookHandle {
    return this.#pipeline.onLogout(fn);
  }
  /** Builds the document of each new user (once; default: copy `options.profile`). */
  onCreateUser(fn: OnCreateUser): void {
    this.#creation.onCreateUser(fn);
  }
  /** Checks each new user before it is inserted: falsy → 403 "User validation failed". */
  validateNewUser(fn: ValidateNewUser): HookHandle {
    return this.#creation.validateNewUser(fn);
  }
  /** Before an external-service login (once): falsy → 403 "Login forbidden". */
  beforeExternalLogin(fn: BeforeExternalLogin): void {
    this.#helpers.beforeExternalLogin = fn;
  }
  /** What an external-service login sets on the user (once). */
  onExternalLogin(fn: OnExternalLogin): void {
    this.#helpers.onExternalLogin = fn;
  }
  /** Finds the user of an external login no user has the service id of yet (once). */
  setAdditionalFindUserOnExternalLogin(fn: AdditionalFindUser): void {
    this.#helpers.additionalFindUserOnExternalLogin = fn;
  }

  // ---- server API ------------------------------------------------------------------------------------------

  /**
   * Creates a user from the server (Meteor's `Accounts.createUserAsync`, through `onCreateUser` and
   * `validateNewUser`; the client is not logged in); resolves its id. pgrt's extras: `roles`, `id`.
   */
  async createUser(user: NewUser): Promise<string> {
    const { roles, id, ...options } = user;
    return await this.db.transaction((client) =>
      this.#creation.createUser(client, options, {
        ...(id === undefined ? {} : { id }),
        ...(roles ? { roles } : {}),
      }),
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
    checkPasswordNotEmpty(typeof newPassword === 'string' ? newPassword : undefined, digest);
    await this.db.transaction(async (client) => {
      const found = await client.query('SELECT 1 FROM pgrt.users WHERE id = $1 FOR UPDATE', [userId]);
      if (found.rowCount === 0) throw new ClientError(403, 'User not found');
      await this.#users.setPassword(client, userId, digest);
      await deleteEmailTokens(client, userId, 'reset');
      if (options.logout !== false) await deleteLoginTokens(client, userId);
    });
  }

  /** Meteor's `setUsername` (see user-helpers.ts). */
  async setUsername(userId: string, newUsername: string): Promise<void> {
    await this.db.transaction((client) => this.#helpers.setUsername(client, userId, newUsername));
  }
  /** Meteor's `addEmailAsync(userId, newEmail, verified = false)`. */
  async addEmail(userId: string, newEmail: string, verified = false): Promise<void> {
    await this.db.transaction((client) => this.#helpers.addEmail(client, userId, newEmail, verified));
  }
  /** Meteor's `removeEmail(userId, email)`. */
  async removeEmail(userId: string, email: string): Promise<void> {
    await this.#helpers.removeEmail(this.db, userId, email);
  }
  /** Meteor's `findUserByUsername` (case-insensitive, after normalization): the document or null. */
  async findUserByUsername(username: string, options?: FindUserOptions): Promise<UserDocument | null> {
    return await this.#helpers.findUserByUsername(this.db, username, options);
  }
  /** Meteor's `findUserByEmail` (case-insensitive): the document or null. */
  async findUserByEmail(email: string, options?: FindUserOptions): Promise<UserDocument | null> {
    return await this.#helpers.findUserByEmail(this.db, email, options);
  }
  /** The document of a user by id (Meteor's `Meteor.users.findOneAsync(id)` with `defaultFieldSelector`), or null. */
  async findUserById(userId: string, options?: FindUserOptions): Promise<UserDocument | null> {
    return await this.#helpers.findUserById(this.db, userId, options);
  }

  /**
   * Meteor's `updateOrCreateUserFromExternalService(serviceName, serviceData, options)` (user-helpers.ts):
   * resolves `{type: serviceName, userId}` for a login handler to return. `db`: the handler's `ctx`, so the user
   * is created in the login's transaction (default: a transaction of its own).
   */
  async updateOrCreateUserFromExternalService(
    serviceName: string,
    serviceData: Readonly<Record<string, unknown>>,
    options: Readonly<Record<string, unknown>> = {},
    db?: Queryable,
  ): Promise<LoginHandlerResult & { readonly type: string; readonly userId: string }> {
    const run = (client: Queryable) =>
      this.#helpers.updateOrCreateUserFromExternalService(client, serviceName, serviceData, options);
    return db ? await run(db) : await this.db.transaction(run);
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

  // ---- for protocol adapters (logins during a handshake) ---------------------------------------------------

  /**
   * A login outside any method (a protocol's handshake): `fn` resolves the login function result (`{userId}` or
   * `{error}`, a throw is `{error}`, `type` defaults to `type`), then the pipeline runs with its hooks as for
   * `login`. Resolves who logged in; rejects with the attempt's error (a ClientError unless a hook threw
   * something else). `call.connection` is the connection the handshake's session will have.
   */
  async authenticate(
    call: LoginCall,
    type: string,
    fn: () => Promise<LoginHandlerResult | undefined>,
  ): Promise<AccountIdentity> {
    return await this.#methods.authenticate(call, type, fn);
  }

  /**
   * A handshake login with a secret (WAMP `ticket`): `identifier` is a user id, username or email; `secret` one of
   * the user's unexpired resume tokens (type `resume`: the connection is tied to it and closed when it is removed,
   * as after `login {resume}`) or the plain password (type `password`). Rejects with the attempt's error.
   */
  async loginWithSecret(call: LoginCall, identifier: string, secret: string): Promise<AccountIdentity> {
    return await this.#methods.loginWithSecret(call, identifier, secret);
  }

  /**
   * The error a refused credential gets (Meteor's `_handleError`): the ambiguous 403 by default, `message` itself
   * (403) with `ambiguousErrorMessages: false`. For handshakes that check a credential themselves.
   */
  credentialsError(message: string): ClientError {
    return this.#errors.credentials(message);
  }

  /** The user `identifier` (id, username or email) names, or null (for a handshake that looks the user up first). */
  async findLoginUser(identifier: string): Promise<AccountIdentity | null> {
    const user = await this.#users.find(this.db, { id: identifier, username: identifier, email: identifier });
    return user ? { userId: user.id, roles: user.roles } : null;
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
   * A random 32-byte secret named `name`, made once per database and the same on every process (e.g. for the
   * challenge an unknown user gets, which must look like a known user's everywhere).
   */
  async databaseSecret(name: string): Promise<Buffer> {
    return await this.#credentials.secret(this.db, name);
  }

  /**
   * Deletes every expired resume token (Meteor's `_expireTokens`); their connections, on every process, are logged
   * out. Expired reset and enrollment tokens go too (`_expirePasswordResetTokens`,
   * `_expirePasswordEnrollTokens`), and forgotten failed-login counters. Each process runs it every `expireTokensIntervalMs`, one at a time (a process
   * that finds another sweeping skips its turn and resolves 0). Resolves to the number of resume tokens deleted.
   */
  async expireTokens(): Promise<number> {
    return await expireLoginTokens(this.db, this.loginExpirationInDays, async (client) => {
      await expireEmailTokens(client, this.#emailFlows.lifetimes);
      await this.#throttle?.sweep(client);
    });
  }
}

/** The accounts plug-in: `app.use(accounts({ bcryptRounds: 10 }))`. */
export function accounts(options: AccountsOptions = {}): Accounts {
  return new Accounts(options);
}
