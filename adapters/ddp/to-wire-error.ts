/**
 * The one place where errors become DDP's wire form (Meteor.Error's shape, reference/ddp.md §1.8):
 * `{isClientSafe: true, error, reason, details?, message, errorType: 'Meteor.Error'}`. Client errors pass
 * through; anything else becomes `500 Internal server error` — its message and stack never leave the server.
 */
import { isClientError } from '../../core/errors.js';

/** A Meteor.Error as sent on the wire (plain JSON). */
export interface WireError {
  readonly isClientSafe: true;
  readonly error: string | number;
  readonly reason?: string;
  readonly details?: unknown;
  readonly message: string;
  readonly errorType: 'Meteor.Error';
}

const INTERNAL: WireError = {
  isClientSafe: true,
  error: 500,
  reason: 'Internal server error',
  message: 'Internal server error [500]',
  errorType: 'Meteor.Error',
};

/** Maps any thrown value to its DDP wire form. */
export function toWireError(error: unknown): WireError {
  if (!isClientError(error)) return INTERNAL;
  const { reason, details } = error;
  // Meteor's field order: isClientSafe, error, reason, details, message, errorType.
  return {
    isClientSafe: true,
    error: error.error,
    ...(reason === undefined ? {} : { reason }),
    ...(details === undefined ? {} : { details }),
    message: reason === undefined ? `[${error.error}]` : `${reason} [${error.error}]`,
    errorType: 'Meteor.Error',
  };
}
