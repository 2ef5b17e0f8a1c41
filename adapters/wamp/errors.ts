/**
 * Typed errors of the WAMP adapter. Each carries a stable error URI (its machine code); the router maps every
 * thrown value to the wire in one place ({@link toWireError} in to-wire-error.ts).
 *
 * - {@link WampError}: an interaction error, answered with `ERROR` for the request that caused it;
 * - {@link ProtocolViolation}: the peer broke the protocol, answered with `ABORT wamp.error.protocol_violation`
 *   and the end of the session (reference/wamp.md §1.7);
 * - {@link AuthenticationError}: the handshake failed, answered with `ABORT <uri>`.
 */
import type { Dict } from './messages.js';

/** Standard error and close URIs used by the router (reference/wamp.md §1.6). */
export const WampUri = {
  invalidUri: 'wamp.error.invalid_uri',
  noSuchProcedure: 'wamp.error.no_such_procedure',
  procedureAlreadyExists: 'wamp.error.procedure_already_exists',
  noSuchRegistration: 'wamp.error.no_such_registration',
  noSuchSubscription: 'wamp.error.no_such_subscription',
  noSuchSession: 'wamp.error.no_such_session',
  invalidArgument: 'wamp.error.invalid_argument',
  canceled: 'wamp.error.canceled',
  timeout: 'wamp.error.timeout',
  notAuthorized: 'wamp.error.not_authorized',
  noSuchRealm: 'wamp.error.no_such_realm',
  noSuchRole: 'wamp.error.no_such_role',
  protocolViolation: 'wamp.error.protocol_violation',
  noMatchingAuthMethod: 'wamp.error.no_matching_auth_method',
  noSuchPrincipal: 'wamp.error.no_such_principal',
  authenticationFailed: 'wamp.error.authentication_failed',
  authenticationDenied: 'wamp.error.authentication_denied',
  optionNotAllowed: 'wamp.error.option_not_allowed',
  featureNotSupported: 'wamp.error.feature_not_supported',
  systemShutdown: 'wamp.close.system_shutdown',
  closeRealm: 'wamp.close.close_realm',
  goodbyeAndOut: 'wamp.close.goodbye_and_out',
  killed: 'wamp.close.killed',
} as const;

/** An interaction error: sent as `ERROR` with this URI, Arguments and ArgumentsKw. */
export class WampError extends Error {
  override readonly name = 'WampError';
  readonly uri: string;
  readonly args: readonly unknown[] | undefined;
  readonly kwargs: Dict | undefined;

  constructor(
    uri: string,
    message?: string,
    options?: { args?: readonly unknown[]; kwargs?: Dict; cause?: unknown },
  ) {
    super(message ?? uri, options?.cause === undefined ? undefined : { cause: options.cause });
    this.uri = uri;
    this.args = options?.args ?? (message === undefined ? undefined : [message]);
    this.kwargs = options?.kwargs;
  }
}

/** The peer broke the protocol; the session is aborted with `wamp.error.protocol_violation`. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
  readonly uri = WampUri.protocolViolation;
}

/** The handshake failed (`uri` is the ABORT reason, e.g. `wamp.error.authentication_failed`). */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
  readonly uri: string;

  constructor(uri: string, message?: string, options?: { cause?: unknown }) {
    super(message ?? uri, options);
    this.uri = uri;
  }
}

/** An internal failure already logged where it happened: sent as `pgrt.error.internal`, not logged again. */
export class ReportedInternalError extends Error {
  override readonly name = 'ReportedInternalError';
}
