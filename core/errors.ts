/**
 * Typed errors of pgrt. Each has a stable machine `code` (the wire `error` field for DDP) and `name`; adapters
 * map them to the wire in one place each (`toWireError`). Anything that is not a {@link ClientError} is internal:
 * it reaches clients as `500 Internal server error` and is logged in full.
 */

/** An error meant for the client, Meteor.Error-shaped: `error` code, `reason`, optional `details`. */
export class ClientError extends Error {
  override readonly name: string = 'ClientError';
  /** Meteor's `error` field: a string code (`'validation-error'`) or a legacy number (`404`). */
  readonly error: string | number;
  readonly reason: string | undefined;
  readonly details: unknown;

  constructor(error: string | number, reason?: string, details?: unknown, options?: { cause?: unknown }) {
    super(reason === undefined ? `[${error}]` : `${reason} [${error}]`, options);
    this.error = error;
    this.reason = reason;
    this.details = details;
  }
}

/** 404: no method or publication of that name is registered. */
export class NotFoundError extends ClientError {
  override readonly name = 'NotFoundError';
}

/** One failed check of a method's or publication's parameters. */
export interface ValidationIssue {
  /** Dotted path of the offending value: `0.title` is the `title` of the first parameter. */
  readonly name: string;
  /** Machine code of the failure, e.g. `invalid_type`, `too_big`. */
  readonly type: string;
  readonly message: string;
}

/**
 * Bad parameters: Meteor's `validation-error` (mdg:validation-error's shape), with one entry per failed field in
 * `details` and the first failure in `reason`.
 */
export class ValidationError extends ClientError {
  override readonly name = 'ValidationError';
  constructor(issues: readonly ValidationIssue[], reason?: string) {
    const first = issues[0];
    super(
      'validation-error',
      reason ?? (first ? `${first.name}: ${first.message}` : 'Validation failed'),
      issues,
    );
  }
}

/** Raised by the server when a client exceeds a rate limit. */
export class TooManyRequestsError extends ClientError {
  override readonly name = 'TooManyRequestsError';
  /** How long until the broken rule's window resets, in ms (also `details.timeToReset`). */
  readonly timeToResetMs: number;
  constructor(timeToResetMs: number) {
    super(
      'too-many-requests',
      `Error, too many requests. Please slow down. You must wait ${Math.ceil(timeToResetMs / 1000)} seconds before trying again.`,
      { timeToReset: timeToResetMs },
    );
    this.timeToResetMs = timeToResetMs;
  }
}

/** A programming or configuration error on the server side (bad registration, schema problem). Never sent. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

/** True for errors whose fields may be shown to a client. */
export function isClientError(error: unknown): error is ClientError {
  return error instanceof ClientError;
}
