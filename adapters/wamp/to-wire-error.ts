/**
 * The one place where errors become WAMP's wire form: an error URI plus Arguments/ArgumentsKw.
 *
 * - {@link WampError}: its own URI and payload (router errors: `wamp.error.*`);
 * - a core {@link ClientError} (Meteor.Error-shaped): URI `pgrt.error.<code>`, kwargs `{error, reason, details}`
 *   (`details` EJSON-encoded to JSON). `<code>` is the error code made a strict URI component
 *   ({@link errorUriComponent}): `validation-error` → `pgrt.error.validation_error`, `404` → `pgrt.error.404`;
 *   the exact original code stays in `kwargs.error`;
 * - anything else: `pgrt.error.internal`, kwargs `{error: 500, reason: 'Internal server error'}`; its message and
 *   stack never leave the server (the caller logs it).
 */

import { toJSONValue } from '../../core/ejson.js';
import { isClientError } from '../../core/errors.js';
import { WampError } from './errors.js';
import type { Dict } from './messages.js';

/** Prefix of the error URIs of the core bridge. */
export const PGRT_ERROR_PREFIX = 'pgrt.error.';

/** URI of internal (non-client) errors. */
export const INTERNAL_ERROR_URI = 'pgrt.error.internal';

/** An error as sent in ERROR. */
export interface WireError {
  readonly uri: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Dict;
}

/**
 * Makes an error code a strict URI component: lower-cased, every run of characters outside `[0-9a-z_]` replaced by
 * one `_`, and `_` alone (`error`) when nothing is left. Not reversible; the original is in `kwargs.error`.
 */
export function errorUriComponent(code: string | number): string {
  const sanitized = String(code)
    .toLowerCase()
    .replace(/[^0-9a-z_]+/g, '_');
  return sanitized === '' || sanitized === '_' ? 'error' : sanitized;
}

const INTERNAL: WireError = {
  uri: INTERNAL_ERROR_URI,
  kwargs: { error: 500, reason: 'Internal server error' },
};

/** Maps any thrown value to its WAMP wire form. */
export function toWireError(error: unknown): WireError {
  if (error instanceof WampError) {
    return {
      uri: error.uri,
      ...(error.args ? { args: error.args } : {}),
      ...(error.kwargs ? { kwargs: error.kwargs } : {}),
    };
  }
  if (isClientError(error)) {
    const kwargs: Dict = { error: error.error };
    if (error.reason !== undefined) kwargs.reason = error.reason;
    if (error.details !== undefined) kwargs.details = toJSONValue(error.details);
    return { uri: PGRT_ERROR_PREFIX + errorUriComponent(error.error), kwargs };
  }
  return INTERNAL;
}
