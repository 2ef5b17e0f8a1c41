/**
 * The login methods of Meteor's accounts-base / accounts-password (reference/ddp.md §1.15), callable by every
 * protocol: `login({user, password} | {resume})` → `{id, token, tokenExpires}`; `logout()`; `getNewToken()`;
 * `removeOtherTokens()`; `changePassword(oldPassword, newPassword)` → `{passwordChanged: true}`;
 * `createUser({username?, email?, password, profile?})` → like login. Login, createUser and logout change the
 * session's user after their transaction commits: every subscription reruns and the client gets the differences.
 *
 * Also the login a protocol handshake makes outside any method ({@link LoginMethods.checkSecret}): a password or a
 * resume token for a user named by id, username or email.
 */
import type { ConnectionInfo, MethodContext } from '../contexts.js';
import type { Database } from '../database/database.js';
import { ClientError } from '../errors.js';
import type { EmailFlows } from './email-flows.js';
import { deleteEmailTokens } from './email-tokens.js';
import { LoggedOutError, LoginFailedError, NotLoggedInError, SessionExpiredError } from './errors.js';
import { deleteLoginToken, deleteLoginTokens, findLoginToken, insertLoginToken } from './login-tokens.js';
import { MatchFailedError, passwordDigest, sha256Hex, verifyDigest } from './password.js';
import type { ConnectionLogins } from './revocation.js';
import { hashLoginToken, tokenExpiration } from './tokens.js';
import { isRecord, optionalString, type UserStore, userQuery } from './user-store.js';

/** What `login`-style methods return (`tokenExpires` goes out as EJSON `$date`). */
export interface LoginResult {
  readonly id: string;
  readonly token: string;
  readonly tokenExpires: Date;
}

/** Who a credential checked outside a method belongs to. */
export interface AccountIdentity {
  readonly userId: string;
  readonly roles: readonly string[];
}

/** The settings the login methods read. */
export interface LoginSettings {
  readonly bcryptRounds: number;
  readonly loginExpirationInDays: number;
  readonly allowCreateUser: boolean;
  readonly sendVerificationEmail: boolean;
}

/** The login methods of one accounts plug-in. */
export class LoginMethods {
  /** Set once the email flows exist (they log in through {@link issueToken}). */
  emailFlows: EmailFlows<LoginResult> | undefined;

  constructor(
    private readonly users: UserStore,
    private readonly logins: ConnectionLogins,
    private readonly settings: LoginSettings,
    private readonly database: () => Database,
  ) {}

  /** Makes a token stamped `when`, logs the caller's connection in with it and resolves to the `login` result. */
  async issueToken(ctx: MethodContext, userId: string, when: Date): Promise<LoginResult> {
    const stored = await insertLoginToken(ctx, userId, when);
    ctx.setUserId(userId);
    this.logins.set(ctx.connection, { userId, hashedToken: stored.hashedToken, revision: stored.revision });
    return {
      id: userId,
      token: stored.token,
      tokenExpires: tokenExpiration(when, this.settings.loginExpirationInDays),
    };
  }

  async login(ctx: MethodContext, options: unknown): Promise<LoginResult> {
    if (!isRecord(options)) throw new MatchFailedError();
    if ('resume' in options) return await this.#resume(ctx, options.resume);
    if (!('user' in options) && !('password' in options))
      throw new ClientError(400, 'Unrecognized options for login request');
    for (const key of Object.keys(options))
      if (key !== 'user' && key !== 'password' && key !== 'code') throw new MatchFailedError();
    const query = userQuery(options.user);
    const digest = passwordDigest(options.password);
    const user = await this.users.find(ctx, query);
    if (!(await verifyDigest(digest, user?.bcrypt ?? undefined, this.settings.bcryptRounds)) || !user)
      throw new LoginFailedError();
    await this.users.afterPasswordCheck(ctx, user, digest);
    return await this.issueToken(ctx, user.id, new Date());
  }

  async #resume(ctx: MethodContext, token: unknown): Promise<LoginResult> {
    if (typeof token !== 'string') throw new MatchFailedError();
    const hashedToken = hashLoginToken(token);
    const found = await findLoginToken(ctx, hashedToken, { lock: true });
    if (!found) throw new LoggedOutError();
    const tokenExpires = tokenExpiration(found.when, this.settings.loginExpirationInDays);
    if (tokenExpires <= new Date()) throw new SessionExpiredError();
    ctx.setUserId(found.userId);
    this.logins.set(ctx.connection, { userId: found.userId, hashedToken, revision: found.revision });
    return { id: found.userId, token, tokenExpires };
  }

  async logout(ctx: MethodContext): Promise<void> {
    const login = this.logins.get(ctx.connection);
    // Forgotten first: this connection is not logged out by its own token's removal (Meteor stops the observe).
    this.logins.delete(ctx.connection);
    if (login) await deleteLoginToken(ctx, login.hashedToken);
    ctx.setUserId(null);
  }

  async getNewToken(ctx: MethodContext): Promise<LoginResult> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    const hashed = this.logins.get(ctx.connection)?.hashedToken;
    const found = hashed ? await findLoginToken(ctx, hashed, { userId }) : undefined;
    if (!found) throw new ClientError(403, "Couldn't find login token");
    return await this.issueToken(ctx, userId, found.when);
  }

  async removeOtherTokens(ctx: MethodContext): Promise<void> {
    const userId = ctx.userId;
    if (userId === null) throw new NotLoggedInError();
    await deleteLoginTokens(ctx, userId, this.logins.get(ctx.connection)?.hashedToken ?? null);
  }

  async changePassword(
    ctx: MethodContext,
    oldPassword: unknown,
    newPassword: unknown,
  ): Promise<{ passwordChanged: true }> {
    const oldDigest = passwordDigest(oldPassword);
    const newDigest = passwordDigest(newPassword);
    const userId = ctx.userId;
    if (userId === null) throw new ClientError(401, 'Must be logged in');
    const user = await this.users.find(ctx, { id: userId });
    if (!user || !(await verifyDigest(oldDigest, user.bcrypt ?? undefined, this.settings.bcryptRounds)))
      throw new LoginFailedError();
    await this.users.setPassword(ctx, userId, newDigest);
    // As Meteor's `$unset: {'services.password.reset': 1}`: a pending reset link stops working.
    await deleteEmailTokens(ctx, userId, 'reset');
    await deleteLoginTokens(ctx, userId, this.logins.get(ctx.connection)?.hashedToken ?? null);
    return { passwordChanged: true };
  }

  async createUser(ctx: MethodContext, options: unknown, collection: string): Promise<LoginResult> {
    if (!this.settings.allowCreateUser) throw new ClientError(403, 'Signups forbidden');
    if (!isRecord(options)) throw new MatchFailedError();
    for (const key of Object.keys(options))
      if (key !== 'username' && key !== 'email' && key !== 'password' && key !== 'profile')
        throw new MatchFailedError();
    if (options.profile !== undefined && !isRecord(options.profile)) throw new MatchFailedError();
    const username = optionalString(options.username);
    const email = optionalString(options.email);
    if (options.password === undefined) throw new MatchFailedError();
    const id = await this.users.insert(
      ctx,
      {
        ...(username === undefined ? {} : { username }),
        ...(email === undefined ? {} : { email }),
        password: options.password,
        ...(options.profile === undefined ? {} : { profile: options.profile as Record<string, unknown> }),
      },
      ctx.newId(collection),
    );
    // Meteor's `createUserVerifyingEmail`; inside the transaction, so a failed send leaves no user behind.
    if (email !== undefined && this.settings.sendVerificationEmail && this.emailFlows)
      await this.emailFlows.send('verifyEmail', id, email, { db: ctx });
    return await this.issueToken(ctx, id, new Date());
  }

  /**
   * A password or resume token checked outside a method, e.g. during a protocol handshake: `identifier` is a user
   * id, username or email; `secret` the user's password (plain) or one of their unexpired resume tokens. Resolves
   * null for any failure (unknown user and wrong secret alike, at the same bcrypt cost). With `connection`, a
   * connection that logged in with a resume token is tied to it as a `login {resume}` would (revocation.ts).
   */
  async checkSecret(
    identifier: string,
    secret: string,
    connection?: Pick<ConnectionInfo, 'protocol' | 'id'>,
  ): Promise<AccountIdentity | null> {
    const db = this.database();
    const user = await this.users.find(db, { id: identifier, username: identifier, email: identifier });
    if (user) {
      const hashedToken = hashLoginToken(secret);
      const token = await findLoginToken(db, hashedToken, { userId: user.id });
      if (token && tokenExpiration(token.when, this.settings.loginExpirationInDays) > new Date()) {
        if (connection)
          this.logins.setPending(connection, { userId: user.id, hashedToken, revision: token.revision });
        return { userId: user.id, roles: user.roles };
      }
    }
    if (secret.length > 256) return null;
    const digest = sha256Hex(secret);
    if (!(await verifyDigest(digest, user?.bcrypt ?? undefined, this.settings.bcryptRounds)) || !user)
      return null;
    await this.users.afterPasswordCheck(db, user, digest);
    return { userId: user.id, roles: user.roles };
  }
}
