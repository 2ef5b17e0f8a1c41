/**
 * What a session may do in a realm: the router's fixed rules first, then the realm's {@link Authorizer}. Closed by
 * default (DESIGN.md decision 14); a realm opens each part to the roles it names ({@link RealmGrants}), and the
 * authorizer can narrow a grant further but never widen it.
 *
 * Reserved namespaces (Crossbar reserves `wamp.` alone; pgrt's core bridge adds `pgrt.`):
 * - `wamp.`: the router's meta API. No client registers or publishes there (`wamp.error.invalid_uri`, as
 *   Crossbar). Meta procedures are callable, and meta events (`wamp.session.on_join`, …) receivable, only by the
 *   roles in {@link RealmGrants.metaApiRoles}; the exceptions are {@link OWN_SESSION_PROCEDURES}
 *   (`add_testament`, `flush_testaments`), which concern the caller's own session only and are open to every
 *   session the authorizer lets call them.
 * - `pgrt.`: the core bridge. No client registers or publishes there (`wamp.error.not_authorized`); the only
 *   subscription allowed is a session's own private topic `pgrt.session.<id>`, exact; `pgrt.subscribe` and
 *   `pgrt.unsubscribe` are callable as the authorizer says.
 * - A pattern subscription that merely overlaps a reserved namespace (the prefix `""`) is allowed, but router
 *   events reach it only as they would reach an exact subscription: `wamp.` events only for meta roles, `pgrt.`
 *   events never (see {@link AccessPolicy.mayReceiveRouterEvent}). Calls to reserved URIs are never routed to a
 *   pattern registration (dealer.ts).
 *
 * Pattern registrations (`prefix`, `wildcard`, including the prefix `""`) are allowed only to the roles in
 * {@link RealmGrants.patternRegistrationRoles}; one inside a reserved namespace is refused like an exact one. They
 * never capture the core's methods: those are exact registrations, and an exact registration always wins.
 *
 * Disclosure (Crossbar's rule: the router decides, nothing is disclosed by default): the identity of a caller or
 * publisher (session id, authid, authrole) reaches callees or subscribers only when the call or publication asks
 * for it (`disclose_me`, or the registration's `disclose_caller`) **and** its role is in
 * {@link RealmGrants.disclosureRoles} or the authorizer answered `{allow: true, disclose: true}`. Otherwise the
 * request is ignored, as Crossbar ignores it.
 */
import {
  type Action,
  type Authorizer,
  normalizeAuthorization,
  type SessionIdentity,
} from './authorization.js';
import { WampError, WampUri } from './errors.js';
import type { Dict } from './messages.js';
import type { MatchPolicy } from './uri.js';

/** Prefix of the router's meta API. */
export const META_PREFIX = 'wamp.';

/** Prefix of the core bridge's procedures and topics. */
export const BRIDGE_PREFIX = 'pgrt.';

/** Prefix of the per-session private topics of the core bridge. */
export const PRIVATE_TOPIC_PREFIX = 'pgrt.session.';

/** The private topic of a session: `pgrt.session.<id>`. */
export function privateTopic(session: number): string {
  return `${PRIVATE_TOPIC_PREFIX}${session}`;
}

/** Meta procedures that act on the caller's own session only: open to every session (as the authorizer says). */
export const OWN_SESSION_PROCEDURES: ReadonlySet<string> = new Set([
  'wamp.session.add_testament',
  'wamp.session.flush_testaments',
]);

/** A reserved namespace. */
export type ReservedNamespace = 'wamp' | 'pgrt';

/** The reserved namespace `uri` lies in, if any. */
export function reservedNamespace(uri: string): ReservedNamespace | undefined {
  if (uri.startsWith(META_PREFIX)) return 'wamp';
  if (uri.startsWith(BRIDGE_PREFIX)) return 'pgrt';
  return undefined;
}

/**
 * The reserved namespace that holds every URI `pattern` can match, if any: `wamp.session.` (prefix) and
 * `wamp..on_join` (wildcard) lie inside `wamp.`; `""`, `wamp` (prefix) and `.session.list` (wildcard) do not.
 */
export function patternNamespace(pattern: string, match: MatchPolicy): ReservedNamespace | undefined {
  if (match !== 'wildcard') return reservedNamespace(pattern);
  const dot = pattern.indexOf('.');
  if (dot < 0) return undefined;
  const first = pattern.slice(0, dot);
  return first === 'wamp' || first === 'pgrt' ? first : undefined;
}

/** Roles a realm grants what is closed by default. Every set is empty by default. */
export interface RealmGrants {
  /** May call the meta API (`wamp.session.*`, `wamp.subscription.*`, `wamp.registration.*`) and receive its events. */
  readonly metaApiRoles: ReadonlySet<string>;
  /** May register `prefix` and `wildcard` procedures. */
  readonly patternRegistrationRoles: ReadonlySet<string>;
  /** May have their identity disclosed to callees and subscribers when a call or publication asks for it. */
  readonly disclosureRoles: ReadonlySet<string>;
}

/** No grants: the default of every realm. */
export const NO_GRANTS: RealmGrants = {
  metaApiRoles: new Set(),
  patternRegistrationRoles: new Set(),
  disclosureRoles: new Set(),
};

/** The outcome of an allowed action. */
export interface Permit {
  /** The identity of the caller (action `call`) or publisher (`publish`) may be disclosed when asked. */
  readonly disclose: boolean;
}

const NO_DISCLOSURE: Permit = Object.freeze({ disclose: false });
const DISCLOSURE: Permit = Object.freeze({ disclose: true });

const DENIED_META = 'the WAMP meta API is open only to the roles the realm grants it (metaApiRoles)';
const DENIED_PATTERN =
  'pattern registrations are open only to the roles the realm grants them (patternRegistrationRoles)';

function exactOnly(_session: SessionIdentity, pattern: boolean): boolean {
  return !pattern;
}

/** The fixed rules and grants of one realm, in front of its authorizer. */
export class AccessPolicy {
  constructor(
    private readonly grants: RealmGrants,
    private readonly authorizer: Authorizer,
  ) {}

  /**
   * May `session` do `action` on `uri` (a pattern under `match` for subscribe and register)?
   * @throws WampError `wamp.error.invalid_uri` (registering or publishing under `wamp.`) or
   *   `wamp.error.not_authorized` (everything else refused).
   */
  check(session: SessionIdentity, uri: string, action: Action, match: MatchPolicy, options: Dict): Permit {
    this.#fixedRules(session, uri, action, match);
    if (action === 'subscribe' && match === 'exact' && uri === privateTopic(session.session)) {
      return NO_DISCLOSURE;
    }
    const answer = normalizeAuthorization(this.authorizer.authorize(session, uri, action, options));
    if (!answer.allow) throw new WampError(WampUri.notAuthorized);
    if (action !== 'call' && action !== 'publish') return NO_DISCLOSURE;
    return answer.disclose || this.grants.disclosureRoles.has(session.authrole) ? DISCLOSURE : NO_DISCLOSURE;
  }

  /**
   * The delivery filter of router events on `topic` (see {@link mayReceiveRouterEvent}), for the broker; cheap
   * for the core bridge's private topics, which reach only exact subscriptions (whose only possible subscriber
   * is the owner).
   * @throws Error for a topic outside the reserved namespaces: router events never go to clients' topics.
   */
  routerEventFilter(topic: string): (session: SessionIdentity, pattern: boolean) => boolean {
    switch (reservedNamespace(topic)) {
      case 'pgrt':
        return exactOnly;
      case 'wamp':
        return (session, pattern) => this.mayReceiveRouterEvent(session, topic, pattern);
      case undefined:
        throw new Error(`router event on a client topic: ${topic}`);
    }
  }

  /**
   * May `session` receive a router event on `topic` (a reserved URI) through a subscription? Exact subscriptions
   * passed {@link check}; this also keeps pattern subscriptions such as the prefix `""` from seeing events that
   * an exact subscription of the same session could not.
   */
  mayReceiveRouterEvent(session: SessionIdentity, topic: string, pattern: boolean): boolean {
    switch (reservedNamespace(topic)) {
      case 'wamp':
        return (
          this.grants.metaApiRoles.has(session.authrole) &&
          normalizeAuthorization(this.authorizer.authorize(session, topic, 'subscribe', {})).allow
        );
      case 'pgrt':
        return !pattern && topic === privateTopic(session.session);
      case undefined:
        return true;
    }
  }

  #fixedRules(session: SessionIdentity, uri: string, action: Action, match: MatchPolicy): void {
    const namespace = patternNamespace(uri, match);
    switch (action) {
      case 'publish':
      case 'register':
        if (namespace === 'wamp') throw new WampError(WampUri.invalidUri);
        if (namespace === 'pgrt') throw new WampError(WampUri.notAuthorized);
        if (
          action === 'register' &&
          match !== 'exact' &&
          !this.grants.patternRegistrationRoles.has(session.authrole)
        ) {
          throw new WampError(WampUri.notAuthorized, DENIED_PATTERN);
        }
        return;
      case 'subscribe':
        if (namespace === 'wamp' && !this.grants.metaApiRoles.has(session.authrole)) {
          throw new WampError(WampUri.notAuthorized, DENIED_META);
        }
        if (namespace === 'pgrt' && !(match === 'exact' && uri === privateTopic(session.session))) {
          throw new WampError(WampUri.notAuthorized);
        }
        return;
      case 'call':
        if (
          namespace === 'wamp' &&
          !OWN_SESSION_PROCEDURES.has(uri) &&
          !this.grants.metaApiRoles.has(session.authrole)
        ) {
          throw new WampError(WampUri.notAuthorized, DENIED_META);
        }
        return;
    }
  }
}
