/**
 * The accounts errors, with Meteor's exact codes and reasons (reference/ddp.md §1.15), so stock Meteor clients show
 * what they would show against Meteor.
 */
import { ClientError } from '../errors.js';

/**
 * 403 "Something went wrong. Please check your credentials.": any password failure (unknown user, wrong
 * password, no password set). Meteor's `ambiguousErrorMessages` default; the same for every cause on purpose.
 */
export class LoginFailedError extends ClientError {
  override readonly name = 'LoginFailedError';
  constructor() {
    super(403, 'Something went wrong. Please check your credentials.');
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
