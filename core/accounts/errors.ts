/**
 * The accounts errors, with Meteor's exact codes and reasons (reference/ddp.md §1.15), so stock Meteor clients show
 * what they would show against Meteor.
 */
import { ClientError } from '../errors.js';

/**
 * 403 "Something went wrong. Please check your credentials.": what Meteor's `Accounts._handleError(msg)` sends
 * with `ambiguousErrorMessages` on (its default in every environment since Meteor 3.0.3): any password failure
 * (unknown user, wrong password, no password set), `forgotPassword` with an unknown email, and the token helpers'
 * "Can't find user" / "No such email for user." / "That user has no unverified email addresses.". The same for
 * every cause on purpose; `why` (Meteor's unambiguous message) becomes the `cause`, for the server's log only.
 */
export class LoginFailedError extends ClientError {
  override readonly name = 'LoginFailedError';
  constructor(why?: string) {
    super(403, 'Something went wrong. Please check your credentials.', undefined, { cause: why });
  }
}

/** 403 "You've been logged out by the server. Please log in again.": unknown (forged, removed) resume token. */
export class LoggedOutError extends ClientError {
  override readonly name = 'LoggedOutError';
  constructor() {
    super(403, "You've been logged out by the server. Please log in again.");
  }
}

/** 403 "Your session has expired. Please log in again.": a resume token older than the expiry. */
export class SessionExpiredError extends ClientError {
  override readonly name = 'SessionExpiredError';
  constructor() {
    super(403, 'Your session has expired. Please log in again.');
  }
}

/** 403 "You are not logged in.": `getNewToken`/`removeOtherTokens` without a login (Meteor's wording). */
export class NotLoggedInError extends ClientError {
  override readonly name = 'NotLoggedInError';
  constructor() {
    super(403, 'You are not logged in.');
  }
}

/** 403 "Token expired": `resetPassword` with an unknown, used or expired reset or enrollment token. */
export class TokenExpiredError extends ClientError {
  override readonly name = 'TokenExpiredError';
  constructor() {
    super(403, 'Token expired');
  }
}

/** 403 "Verify email link expired": `verifyEmail` with an unknown or used verification token. */
export class VerifyEmailLinkExpiredError extends ClientError {
  override readonly name = 'VerifyEmailLinkExpiredError';
  constructor() {
    super(403, 'Verify email link expired');
  }
}

/**
 * Meteor's `Accounts._handleError(msg)`: with `ambiguousErrorMessages` (default true, Meteor ≥ 3.0.3) every
 * credentials failure is the ambiguous {@link LoginFailedError} (its `cause` says which, for the log); without it,
 * 403 with Meteor's specific message ("User not found", "Incorrect password", "Username already exists.", …).
 */
export class AccountErrors {
  constructor(readonly ambiguous: boolean) {}

  /** The error for a credentials failure `message`. */
  credentials(message: string, cause?: unknown): ClientError {
    if (this.ambiguous) return new LoginFailedError(message);
    return new ClientError(403, message, undefined, cause === undefined ? undefined : { cause });
  }
}
