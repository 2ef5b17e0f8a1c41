/**
 * WAMP v2 message type codes and the standard URIs the cases expect (wamp.md §1.1, §1.6), plus the roles and
 * feature flags the test peer announces by default.
 */
import type { WampDict } from './serializers.js';

/** Message type codes (Basic and Advanced Profile). */
export const MSG = {
  HELLO: 1,
  WELCOME: 2,
  ABORT: 3,
  CHALLENGE: 4,
  AUTHENTICATE: 5,
  GOODBYE: 6,
  ERROR: 8,
  PUBLISH: 16,
  PUBLISHED: 17,
  SUBSCRIBE: 32,
  SUBSCRIBED: 33,
  UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35,
  EVENT: 36,
  CALL: 48,
  CANCEL: 49,
  RESULT: 50,
  REGISTER: 64,
  REGISTERED: 65,
  UNREGISTER: 66,
  UNREGISTERED: 67,
  INVOCATION: 68,
  INTERRUPT: 69,
  YIELD: 70,
} as const;

/** A message type name. */
export type MessageName = keyof typeof MSG;

const NAMES = new Map<number, MessageName>(
  (Object.entries(MSG) as [MessageName, number][]).map(([name, code]) => [code, name]),
);

/** `EVENT` for 36; `#99` for an unknown code; `?` for a non-number. */
export function messageName(code: unknown): string {
  if (typeof code !== 'number') return '?';
  return NAMES.get(code) ?? `#${code}`;
}

/** Standard error and close URIs (wamp.md §1.6). */
export const URI = {
  invalidUri: 'wamp.error.invalid_uri',
  noSuchProcedure: 'wamp.error.no_such_procedure',
  procedureAlreadyExists: 'wamp.error.procedure_already_exists',
  noSuchRegistration: 'wamp.error.no_such_registration',
  noSuchSubscription: 'wamp.error.no_such_subscription',
  invalidArgument: 'wamp.error.invalid_argument',
  canceled: 'wamp.error.canceled',
  timeout: 'wamp.error.timeout',
  notAuthorized: 'wamp.error.not_authorized',
  noSuchRealm: 'wamp.error.no_such_realm',
  noSuchSession: 'wamp.error.no_such_session',
  protocolViolation: 'wamp.error.protocol_violation',
  goodbyeAndOut: 'wamp.close.goodbye_and_out',
  closeRealm: 'wamp.close.close_realm',
  authenticationFailed: 'wamp.error.authentication_failed',
  noMatchingAuthMethod: 'wamp.error.no_matching_auth_method',
} as const;

/** The largest WAMP id (2^53). */
export const MAX_ID = 2 ** 53;

/** True for a WAMP id: an integer in [1, 2^53]. */
export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

/**
 * Roles and features the test peer announces unless a case says otherwise: all four client roles with the
 * Advanced Profile features the cases exercise. The callee announces `call_canceling` (so routers send
 * INTERRUPT) but not `call_timeout` (so the dealer, not the callee, enforces CALL timeouts).
 */
export const DEFAULT_ROLES: WampDict = {
  caller: {
    features: {
      caller_identification: true,
      call_canceling: true,
      progressive_call_results: true,
      call_timeout: true,
    },
  },
  callee: {
    features: {
      caller_identification: true,
      call_canceling: true,
      pattern_based_registration: true,
      shared_registration: true,
      progressive_call_results: true,
    },
  },
  publisher: {
    features: {
      publisher_identification: true,
      subscriber_blackwhite_listing: true,
      publisher_exclusion: true,
    },
  },
  subscriber: {
    features: {
      publisher_identification: true,
      pattern_based_subscription: true,
    },
  },
};

/**
 * The roles Autobahn|JS announces (wamp.md §4.2): notably its callee lacks `call_canceling`, so a router treats
 * every cancel of its invocations as `skip`.
 */
export const AUTOBAHN_ROLES: WampDict = {
  caller: {
    features: { caller_identification: true, call_canceling: true, progressive_call_results: true },
  },
  callee: {
    features: {
      caller_identification: true,
      pattern_based_registration: true,
      shared_registration: true,
      progressive_call_results: true,
      registration_revocation: true,
    },
  },
  publisher: {
    features: {
      publisher_identification: true,
      subscriber_blackwhite_listing: true,
      publisher_exclusion: true,
    },
  },
  subscriber: {
    features: {
      publisher_identification: true,
      pattern_based_subscription: true,
      subscription_revocation: true,
    },
  },
};
