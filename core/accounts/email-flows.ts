/**
 * The email flows of Meteor's accounts-password: the methods `forgotPassword({email})` (sends a reset email),
 * `resetPassword(token, newPassword)` and `verifyEmail(token)` (both log the caller in), and the server calls
 * that make and send those tokens (`generateResetToken`, `sendResetPasswordEmail`, …). Tokens live in
 * `pgrt.email_tokens` (email-tokens.ts); links and messages are built by emails.ts and delivered by the app's
 * `sendEmail`.
 *
 * `resetPassword` sets the password, marks the address verified and removes every login token of the user, so
 * their other connections are closed on every process (revocation.ts); the caller gets a fresh token.
 */
import type { MethodContext } from '../contexts.js';
import type { Database, Queryable } from '../database/database.js';
import { ClientError } from '../errors.js';
import {
  deleteEmailToken,
  deleteEmailTokens,
  type EmailTokenLifetimes,
  type EmailTokenReason,
  storeEmailToken,
  takeEmailToken,
} from './email-tokens.js';
import type { AccountEmailKind, AccountEmails, EmailMessage, EmailUser } from './emails.js';
import { type AccountErrors, TokenExpiredError, VerifyEmailLinkExpiredError } from './errors.js';
import { checkPasswordNotEmpty } from './hygiene.js';
import type { LoginHandlerResult } from './login-pipeline.js';
import { deleteLoginTokens } from './login-tokens.js';
import { MatchFailedError, passwordDigest } from './password.js';
import { isRecord, type UserStore } from './user-store.js';

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

/** The token `reason` of each email. */
const EMAIL_TOKEN_REASONS: Readonly<Record<AccountEmailKind, EmailTokenReason>> = {
  resetPassword: 'reset',
  enrollAccount: 'enroll',
  verifyEmail: 'verifyEmail',
};

/** The email flows of one accounts plug-in. */
export class EmailFlows {
  constructor(
    private readonly users: UserStore,
    private readonly emails: AccountEmails,
    /** Lifetimes of the emailed tokens in days (verification tokens do not expire, as in Meteor). */
    readonly lifetimes: EmailTokenLifetimes,
    private readonly errors: AccountErrors,
    private readonly database: () => Database,
  ) {}

  /**
   * Meteor's `forgotPassword`: `{email}` exactly. An unknown address gets the ambiguous 403; a known one gets a
   * reset email at the address as stored. Without `sendEmail` every call fails alike (a logged
   * ConfigurationError; the client sees 500), whether or not the address exists.
   */
  async forgotPassword(options: unknown): Promise<void> {
    if (!isRecord(options) || Object.keys(options).length !== 1 || typeof options.email !== 'string')
      throw new MatchFailedError();
    this.emails.assertConfigured('resetPassword');
    const user = await this.users.findByEmail(this.database(), options.email);
    if (!user) throw this.errors.credentials('User not found');
    await this.send('resetPassword', user.id, user.address, {});
  }

  /**
   * Meteor's `resetPassword(token, newPassword)` for reset and enrollment tokens: sets the password, uses up the
   * token, marks its address verified, removes every login token of the user (their other connections close on
   * every process) and logs the caller in with a fresh one. Unknown, used or expired token: 403 "Token expired";
   * the address is no longer the user's: 403 "Token has invalid email address". The login itself (token, hooks)
   * is the caller's: this resolves Meteor's login function result.
   */
  async resetPassword(ctx: MethodContext, token: unknown, newPassword: unknown): Promise<LoginHandlerResult> {
    if (typeof token !== 'string') throw new MatchFailedError();
    const digest = passwordDigest(newPassword);
    checkPasswordNotEmpty(typeof newPassword === 'string' ? newPassword : undefined, digest);
    const record = await takeEmailToken(ctx, token, ['reset', 'enroll'], this.lifetimes);
    if (!record || record.expired) throw new TokenExpiredError();
    if (!(await this.users.markEmailVerified(ctx, record.userId, record.email)))
      return { userId: record.userId, error: new ClientError(403, 'Token has invalid email address') };
    await this.users.setPassword(ctx, record.userId, digest);
    await deleteEmailToken(ctx, token);
    // The caller's own token may be among those removed; its connection is not closed for it, because the new
    // login replaces the connection's before the removal commits (and is counted at the new `tokens_revoked`).
    await deleteLoginTokens(ctx, record.userId);
    return { userId: record.userId };
  }

  /**
   * Meteor's `verifyEmail(token)`: marks the token's address verified, uses up every verification token of that
   * address and logs the caller in. Unknown or used token: 403 "Verify email link expired"; the address is no
   * longer the user's: 403 "Verify email link is for unknown address". Resolves Meteor's login function result.
   */
  async verifyEmail(ctx: MethodContext, token: unknown): Promise<LoginHandlerResult> {
    if (typeof token !== 'string') throw new MatchFailedError();
    const record = await takeEmailToken(ctx, token, ['verifyEmail'], this.lifetimes);
    if (!record) throw new VerifyEmailLinkExpiredError();
    if (!(await this.users.markEmailVerified(ctx, record.userId, record.email)))
      return {
        userId: record.userId,
        error: new ClientError(403, 'Verify email link is for unknown address'),
      };
    await deleteEmailTokens(ctx, record.userId, 'verifyEmail', record.email);
    return { userId: record.userId };
  }

  /**
   * Meteor's `generateResetToken` / `generateVerificationToken`: a token of `kind` for one of the user's
   * addresses (default: the first; for verification the first unverified). Unknown user or address, or nothing
   * left to verify: the credentials 403 (ambiguous by default).
   */
  async generate(
    db: Queryable,
    userId: string,
    email: string | undefined,
    kind: AccountEmailKind,
  ): Promise<EmailToken> {
    const user = await this.users.emailUser(db, userId);
    if (!user) throw this.errors.credentials("Can't find user");
    let address = email;
    if (address === undefined || address === '') {
      address =
        kind === 'verifyEmail' ? user.emails.find((e) => !e.verified)?.address : user.emails[0]?.address;
      if (address === undefined && kind === 'verifyEmail')
        throw this.errors.credentials('That user has no unverified email addresses.');
    }
    if (address === undefined || !user.emails.some((e) => e.address === address))
      throw this.errors.credentials('No such email for user.');
    const token = await storeEmailToken(db, userId, EMAIL_TOKEN_REASONS[kind], address);
    return { email: address, user, token };
  }

  /** Meteor's `send…Email`: checks the configuration, makes the token, builds the message, sends it. */
  async send(
    kind: AccountEmailKind,
    userId: string,
    email: string | undefined,
    options: SendAccountEmailOptions,
  ): Promise<SentEmail> {
    this.emails.assertConfigured(kind);
    const generated = await this.generate(options.db ?? this.database(), userId, email, kind);
    const url = this.emails.url(kind, generated.token, options.extraParams);
    const message = await this.emails.message(kind, generated.email, generated.user, url);
    await this.emails.send(message);
    return { ...generated, url, message };
  }
}
