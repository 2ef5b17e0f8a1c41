/**
 * The OAuth errors with Meteor's codes and reasons (accounts-oauth, service-configuration), so a stock Meteor client
 * reacts as it does against Meteor: `Accounts.LoginCancelledError` is recognised by its numeric code.
 */
import { ClientError } from '../../errors.js';

/** Meteor's `Accounts.LoginCancelledError.numericError` (`0x8acdc2f`). */
export const LOGIN_CANCELLED_CODE = 0x8acdc2f;

/**
 * `login({oauth})` found no pending credential for that token and secret: never stored, already used, expired,
 * or a wrong secret (accounts-oauth's "No matching login attempt found"; the Meteor client turns it into
 * `Accounts.LoginCancelledError`).
 */
export class LoginCancelledError extends ClientError {
  override readonly name = 'LoginCancelledError';
  constructor(reason = 'No matching login attempt found') {
    super(LOGIN_CANCELLED_CODE, reason);
  }
}

/** A login service that is registered in code but has no configuration row (Meteor's `ConfigError`). */
export class ServiceNotConfiguredError extends Error {
  override readonly name = 'ServiceConfiguration.ConfigError';
  constructor(service: string) {
    super(`Service ${service} not configured`);
  }
}

/**
 * The provider's redirect could not be turned into a login (bad or unknown `state`, provider error, failed code
 * exchange). Shown to nobody: the end-of-login page carries no details, and `login({oauth})` with the token and
 * a null secret gets {@link OAuthLoginFailedError}; the server log has the cause.
 */
export class OAuthCallbackError extends Error {
  override readonly name = 'OAuthCallbackError';
}

/**
 * What `login({oauth: {credentialToken, credentialSecret: null}})` gets for a login whose provider step failed
 * (Meteor re-throws the stored error; a non-Meteor.Error reaches its client as 500, so does this one unless the
 * stored error was a {@link ClientError}, whose code and reason are kept).
 */
export class OAuthLoginFailedError extends Error {
  override readonly name = 'OAuthLoginFailedError';
}
