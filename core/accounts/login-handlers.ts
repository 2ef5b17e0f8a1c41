/**
 * The built-in login handlers, registered in Meteor's order (accounts-base registers `resume` in its constructor,
 * accounts-password then registers `password`); an app's handlers come after them, and so does the OAuth one.
 *
 * - `resume` (accounts_server.js `defaultResumeLoginHandler`): `{resume: token}`; skipped when `resume` is falsy.
 *   Not a string: 400 "Match failed". Unknown token: 403 "You've been logged out by the server. Please log in
 *   again."; expired: 403 "Your session has expired. Please log in again." (the user is known: hooks see it).
 * - `password` (password_server.js): `{user: {id} | {username} | {email}, password, code?}`; skipped when
 *   `password` is falsy. Other keys or shapes: 400 "Match failed". Unknown user, no password set, wrong password:
 *   the ambiguous 403 "Something went wrong. Please check your credentials." (with `ambiguousErrorMessages`
 *   false: "User not found", "User has no password set", "Incorrect password"). An unknown user costs the same
 *   bcrypt time as a wrong password. `code` (accounts-2fa) is accepted and ignored: pgrt has no 2FA.
 */
import type { MethodContext } from '../contexts.js';
import { type AccountErrors, LoggedOutError, SessionExpiredError } from './errors.js';
import type { LoginHandler, LoginHandlerResult } from './login-pipeline.js';
import { findLoginToken } from './login-tokens.js';
import { MatchFailedError, passwordDigest, verifyDigest } from './password.js';
import { hashLoginToken, tokenExpiration } from './tokens.js';
import { type UserStore, userQuery } from './user-store.js';

/** What the built-in handlers read. */
export interface HandlerSettings {
  readonly bcryptRounds: number;
  readonly loginExpirationInDays: number;
}

/** The `resume` handler. */
export function resumeLoginHandler(settings: HandlerSettings): LoginHandler {
  return async (options, ctx) => {
    if (!options.resume) return undefined;
    if (typeof options.resume !== 'string') throw new MatchFailedError();
    return await resumeLogin(ctx, options.resume, settings);
  };
}

/** Logs in with a resume token inside a method (the token row stays locked until the method's transaction ends). */
export async function resumeLogin(
  ctx: Pick<MethodContext, 'query'>,
  token: string,
  settings: HandlerSettings,
): Promise<LoginHandlerResult> {
  const hashedToken = hashLoginToken(token);
  const found = await findLoginToken(ctx, hashedToken, { lock: true });
  if (!found) return { error: new LoggedOutError() };
  if (tokenExpiration(found.when, settings.loginExpirationInDays) <= new Date())
    return { userId: found.userId, error: new SessionExpiredError() };
  return {
    userId: found.userId,
    stampedLoginToken: { token, when: found.when, revision: found.revision },
  };
}

/** The `password` handler. */
export function passwordLoginHandler(
  users: UserStore,
  errors: AccountErrors,
  settings: HandlerSettings,
): LoginHandler {
  return async (options, ctx) => {
    if (!options.password) return undefined;
    for (const key of Object.keys(options))
      if (key !== 'user' && key !== 'password' && key !== 'code') throw new MatchFailedError();
    const query = userQuery(options.user);
    const digest = passwordDigest(options.password);
    if (options.code !== undefined && (typeof options.code !== 'string' || options.code === ''))
      throw new MatchFailedError();
    const user = await users.find(ctx, query);
    // Compared even without a user or a hash, so every failure costs one bcrypt comparison.
    const ok = await verifyDigest(digest, user?.bcrypt ?? undefined, settings.bcryptRounds);
    if (!user) throw errors.credentials('User not found');
    if (!user.bcrypt) throw errors.credentials('User has no password set');
    if (!ok) return { userId: user.id, error: errors.credentials('Incorrect password') };
    await users.afterPasswordCheck(ctx, user, digest);
    return { userId: user.id };
  };
}
