/**
 * The login methods of Meteor's accounts-base / accounts-password (reference/ddp.md §1.15), callable by every
 * protocol, each a login through the pipeline (login-pipeline.ts) where Meteor's is: `login(options)` (the
 * registered handlers) → `{id, token, tokenExpires, type}`; `createUser(options)` (type `password`) → the same;
 * `logout()` (runs the `onLogout` hooks); `getNewToken()`; `removeOtherTokens()`; `changePassword(old, new)` →
 * `{passwordChanged: true}`. Logins and logout change the session's user after their transaction commits: every
 * subscription reruns and the client gets the differences.
 *
 * Also the logins a protocol makes during its handshake, outside any method ({@link LoginMethods.authenticate}):
 * the same pipeline and hooks, without a token.
 */
import type { MethodContext } from '../contexts.js';
import type { Database } from '../database/database.js';
import { ClientError, isClientError } from '../errors.js';
import { unstorableParam } from '../storable-strings.js';
import type { EmailFlows } from './email-flows.js';
import { deleteEmailTokens } from './email-tokens.js';
import { type AccountErrors, NotLoggedInError } from './errors.js';
import { checkPasswordNotEmpty } from './hygiene.js';
import type { AllowedLogin, LoginCall, LoginHandlerResult, LoginPipeline } from './login-pipeline.js';
import { tryLogin } from './login-pipeline.js';
import type { LoginThrottle, ThrottleSubject } from './login-throttle.js';
import { deleteLoginToken, deleteLoginTokens, findLoginToken, insertLoginToken } from './login-tokens.js';
import { MatchFailedError, passwordDigest, sha256Hex, verifyDigest } from './password.js';
import type { ConnectionLogins } from './revocation.js';
import { hashLoginToken, tokenExpiration } from './tokens.js';
import type { UserCreation } from './user-creation.js';
import { isRecord, type UserStore } from './user-store.js';

/** What `login`-style methods return (`tokenExpires` goes out as EJSON `$date`). */
export interface LoginResult {
  readonly id: string;
  readonly token: string;
  readonly tokenExpires: Date;
  /** The login's type: `password`, `resume`, or the handler's name (Meteor's). */
  readonly type: string;
  /** A handler's `options` are merged in. */
  readonly [extra: string]: unknown;
}

/** Who a login made outside a method belongs to, and how they logged in. */
export interface AccountIdentity {
  readonly userId: string;
  readonly roles: readonly string[];
  /** The attempt's type (`password`, `resume`, or the handshake's). */
  readonly type?: string;
}

/** The settings the login methods read. */
export interface LoginSettings {
  readonly bcryptRounds: number;
  readonly loginExpirationInDays: number;
  readonly forbidClientAccountCreation: boolean;
  readonly sendVerificationEmail: boolean;
}

/** The login methods of one accounts plug-in. */
export class LoginMethods {
  /** Set once the email flows exist (createUser sends through them). */
  emailFlows: EmailFlows | undefined;

  constructor(
    private readonly users: UserStore,
    private readonly creation: UserCreation,
    private readonly pipeline: LoginPipeline,
    private readonly logins: ConnectionLogins,
    private readonly errors: AccountErrors,
    private readonly settings: LoginSettings,
    private readonly database: () => Database,
    /** The failed-login limits; undefined: none (the core runs with `rateLimits: false`, or the option is false). */
    public throttle: LoginThrottle | undefined,
  ) {}

  /**
   * Runs a login under the failed-login limits (login-throttle.ts): refused at once while blocked; a refused
   * credential (a 403) counts, a success clears the name's counter for the address. The counters are written on the pool, so they
   * stay whatever the method's transaction does.
   */
  async #throttled<R>(call: LoginCall, run: () => Promise<R>): Promise<R> {
    const throttle = this.throttle;
    if (!throttle) return await run();
    const subject: ThrottleSubject = { identity: call.identity, address: call.connection.clientAddress };
    const db = this.database();
    const counted = await throttle.check(db, subject);
    let value: R;
    try {
      value = await run();
    } catch (error) {
      // A refused credential (403: wrong password, unknown user or token, a hook's refusal) counts; a malformed
      // request (400) or a server failure does not.
      if (isClientError(error) && error.error === 403) await throttle.failed(db, subject);
      throw error;
    }
    if (counted) await throttle.succeeded(db, subject);
    return value;
  }

  /**
   * A login method (Meteor's `_loginMethod`): runs `fn` (a throw becomes `{error}`, `type` defaults to `type`),
   * then the attempt; allowed: the caller's connection is logged in with a token and the `login` result resolves.
   */
  async loginMethod(
    ctx: MethodContext,
    methodName: string,
    methodArguments: readonly unknown[],
    type: string,
    fn: () => Promise<LoginHandlerResult | undefined>,
  ): Promise<LoginResult> {
    const result = (await tryLogin(type, fn)) ?? {
      error: new ClientError(500, 'A login method must specify a userId or an error'),
    };
    return await this.#attempt(ctx, methodName, methodArguments, result);
  }

  /** Meteor's `login(options)`: the handlers, then the attempt, under the failed-login limits. */
  async login(ctx: MethodContext, options: unknown): Promise<LoginResult> {
    if (!isRecord(options)) throw new MatchFailedError();
    const user = isRecord(options.user) ? Object.values(options.user)[0] : undefined;
    const call: LoginCall = {
      connection: ctx.connection,
      methodName: 'login',
      methodArguments: [options],
      db: ctx,
      ...(typeof user === 'string' ? { identity: user } : {}),
    };
    return await this.#throttled(call, async () => {
      const result = await this.pipeline.runHandlers(options, ctx);
      return await this.pipeline.attempt(call, result, (allowed) => this.#logIn(ctx, allowed));
    });
  }

  async #attempt(
    ctx: MethodContext,
    methodName: string,
    methodArguments: readonly unknown[],
    result: LoginHandlerResult,
  ): Promise<LoginResult> {
    const call: LoginCall = { connection: ctx.connection, methodName, methodArguments, db: ctx };
    return await this.pipeline.attempt(call, result, (allowed) => this.#logIn(ctx, allowed));
  }

  /** Meteor's `_loginUser`: the token (made, or the resumed one), the connection's login, the session's user. */
  async #logIn(ctx: MethodContext, allowed: AllowedLogin): Promise<LoginResult> {
    const { userId, result, type } = allowed;
    const stamped = result.stampedLoginToken;
    let token: string;
    let hashedToken: string;
    let when: Date;
    let revision: number;
    if (stamped) {
      token = stamped.token;
      hashedToken = hashLoginToken(token);
      when = stamped.when;
      revision = stamped.revision ?? (await findLoginToken(ctx, hashedToken))?.revision ?? 0;
    } else {
      const stored = await insertLoginToken(ctx, userId, new Date());
      ({ token, hashedToken, when, revision } = stored);
    }
    this.logins.set(ctx.connection, { userId, hashedToken, revision });
    ctx.setUserId(userId);
    return {
      id: userId,
      token,
      tokenExpires: tokenExpiration(when, this.settings.loginExpirationInDays),
      ...(result.options ?? {}),
      type,
    };
  }

  /** Meteor's `logout`: forgets and removes the connection's token, runs `onLogout`, logs the session out. */
  async logout(ctx: MethodContext): Promise<void> {
    const login = this.logins.get(ctx.connection);
    // Forgotten first: this connection is not logged out by its own token's removal (Meteor stops the observe).
    this.logins.delete(ctx.connection);
    if (login && ctx.userId !== null) await deleteLoginToken(ctx, login.hashedToken);
    await this.pipeline.loggedOut(ctx.connection, ctx.userId);
    ctx.setUserId(null);
  }

  /**
   * Meteor's `getNewToken`: a new token with the current one's `when` (never a later expiry), not a login attempt.
   * Not logged in: 403 "You are not logged in."; no token on this connection: 403 "Couldn't find login token".
   */
  async getNewToken(ctx: MethodContext): Promise<Omit<LoginResult, 'type'>> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    const hashed = this.logins.get(ctx.connection)?.hashedToken;
    const found = hashed ? await findLoginToken(ctx, hashed, { userId }) : undefined;
    if (!found) throw new ClientError(403, "Couldn't find login token");
    const stored = await insertLoginToken(ctx, userId, found.when);
    this.logins.set(ctx.connection, { userId, hashedToken: stored.hashedToken, revision: stored.revision });
    ctx.setUserId(userId);
    return {
      id: userId,
      token: stored.token,
      tokenExpires: tokenExpiration(found.when, this.settings.loginExpirationInDays),
    };
  }

  async removeOtherTokens(ctx: MethodContext): Promise<void> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    await deleteLoginTokens(ctx, userId, this.logins.get(ctx.connection)?.hashedToken ?? null);
  }

  /**
   * Meteor's `changePassword(oldPassword, newPassword)`: not logged in: 401 "Must be logged in"; wrong old
   * password or none set: the credentials 403. Other tokens are removed (their connections closed); a pending
   * reset link stops working.
   */
  async changePassword(
    ctx: MethodContext,
    oldPassword: unknown,
    newPassword: unknown,
  ): Promise<{ passwordChanged: true }> {
    const oldDigest = passwordDigest(oldPassword);
    const newDigest = passwordDigest(newPassword);
    checkPasswordNotEmpty(typeof newPassword === 'string' ? newPassword : undefined, newDigest);
    const userId = ctx.userId;
    if (userId === null) throw new ClientError(401, 'Must be logged in');
    const user = await this.users.find(ctx, { id: userId });
    if (!user) throw this.errors.credentials('User not found');
    if (!user.bcrypt) throw this.errors.credentials('User has no password set');
    if (!(await verifyDigest(oldDigest, user.bcrypt, this.settings.bcryptRounds)))
      throw this.errors.credentials('Incorrect password');
    await this.users.setPassword(ctx, userId, newDigest);
    // As Meteor's `$unset: {'services.password.reset': 1}`: a pending reset link stops working.
    await deleteEmailTokens(ctx, userId, 'reset');
    await deleteLoginTokens(ctx, userId, this.logins.get(ctx.connection)?.hashedToken ?? null);
    return { passwordChanged: true };
  }

  /**
   * Meteor's `createUser` method: a login of type `password` whose function creates the user (user-creation.ts)
   * and, with `sendVerificationEmail` and an address, sends the verification email (or, without a password, the
   * enrollment email) inside the method's transaction, so a failed send leaves no user.
   */
  async createUser(ctx: MethodContext, options: unknown, newId: () => string): Promise<LoginResult> {
    return await this.loginMethod(ctx, 'createUser', [options], 'password', async () => {
      if (!isRecord(options)) throw new MatchFailedError();
      if (this.settings.forbidClientAccountCreation)
        return { error: new ClientError(403, 'Signups forbidden') };
      const userId = await this.creation.createUser(ctx, options, { id: newId() });
      // The address as stored (cleaned) is the user's only one: the first, and the first unverified.
      if (options.email && this.settings.sendVerificationEmail && this.emailFlows) {
        const kind = options.password === undefined ? 'enrollAccount' : 'verifyEmail';
        await this.emailFlows.send(kind, userId, undefined, { db: ctx });
      }
      return { userId };
    });
  }

  /**
   * A login outside any method (a protocol handshake): `fn` names the user or the error, then the pipeline runs
   * (validateLoginAttempt, onLogin / onLoginFailure). Resolves who logged in; rejects with the attempt's error, or
   * with 400 `Match failed` when `call.identity` or `call.methodArguments` hold a string PostgreSQL cannot store.
   * `onAllowed` runs before the `onLogin` hooks (e.g. to tie the connection to a resume token).
   */
  async authenticate(
    call: LoginCall,
    type: string,
    fn: () => Promise<LoginHandlerResult | undefined>,
    onAllowed?: (allowed: AllowedLogin) => void,
  ): Promise<AccountIdentity> {
    // A handshake's fields did not pass a core session's check (core/session.ts): 400 before any SQL, not counted.
    const unstorableField = unstorableParam([call.identity, ...call.methodArguments]);
    if (unstorableField) throw unstorableField;
    return await this.#throttled(call, async () => {
      const result = (await tryLogin(type, fn)) ?? { error: this.errors.credentials('Unknown login') };
      return await this.pipeline.attempt(call, result, async (allowed) => {
        onAllowed?.(allowed);
        return {
          userId: allowed.userId,
          roles: await this.users.roles(this.database(), allowed.userId),
          type: allowed.type,
        };
      });
    });
  }

  /**
   * A handshake login with a secret: `identifier` is a user id, username or email; `secret` one of the user's
   * unexpired resume tokens (type `resume`, the connection is tied to it: revocation.ts) or their plain password
   * (type `password`). Every failure is the same credentials error (at the same bcrypt cost).
   */
  async loginWithSecret(call: LoginCall, identifier: string, secret: string): Promise<AccountIdentity> {
    const db = this.database();
    let pending: { hashedToken: string } | undefined;
    const identity = await this.authenticate(
      call,
      'password',
      async () => {
        const user = await this.users.find(db, { id: identifier, username: identifier, email: identifier });
        if (user) {
          const hashedToken = hashLoginToken(secret);
          const token = await findLoginToken(db, hashedToken, { userId: user.id });
          if (token && tokenExpiration(token.when, this.settings.loginExpirationInDays) > new Date()) {
            pending = { hashedToken };
            return {
              type: 'resume',
              userId: user.id,
              stampedLoginToken: { token: secret, when: token.when, revision: token.revision },
            };
          }
        }
        const digest = secret.length > 256 ? undefined : sha256Hex(secret);
        const ok = await verifyDigest(digest ?? '', user?.bcrypt ?? undefined, this.settings.bcryptRounds);
        if (!user) throw this.errors.credentials('User not found');
        if (!ok || digest === undefined)
          return { userId: user.id, error: this.errors.credentials('Incorrect password') };
        await this.users.afterPasswordCheck(db, user, digest);
        return { userId: user.id };
      },
      (allowed) => {
        const revision = allowed.result.stampedLoginToken?.revision;
        if (pending && revision !== undefined)
          this.logins.setPending(call.connection, {
            userId: allowed.userId,
            hashedToken: pending.hashedToken,
            revision,
          });
      },
    );
    return identity;
  }
}
