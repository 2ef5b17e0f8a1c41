/**
 * A session as the realm's broker and dealer see it: identity, announced features, and a way to send. The
 * remote implementation sits on a WAMP connection ({@link RemotePeer}); broker and dealer never see transports.
 */
import type { AuthIdentity } from './authentication.js';
import type { SessionIdentity } from './authorization.js';
import { IdSequence } from './ids.js';
import { type Dict, isDict, type RouterMessage } from './messages.js';
import type { Serializer } from './serializers.js';

/** A client role of HELLO.Details.roles. */
export type ClientRole = 'publisher' | 'subscriber' | 'caller' | 'callee';

/** The client roles the spec defines. */
export const CLIENT_ROLES: readonly ClientRole[] = ['publisher', 'subscriber', 'caller', 'callee'];

/** A joined session. */
export interface Peer extends SessionIdentity {
  readonly realm: string;
  readonly serializer: Serializer;
  /** True if HELLO announced `feature` for `role`. */
  supports(role: ClientRole, feature: string): boolean;
  /**
   * True for clients known to settle a canceled call locally (Autobahn|JS for every mode but `kill`): the
   * router then sends no ERROR after their CANCEL (reference/wamp.md §4.2).
   */
  readonly settlesCancelLocally: boolean;
  /** Sends a message (dropped once the session is gone). */
  send(message: RouterMessage): void;
  /** Sends an already encoded message (same serializer). */
  sendEncoded(data: string | Uint8Array): void;
  /** The next router-to-client request id (INVOCATION). */
  nextInvocationId(): number;
  /** The last invocation id issued (late answers to ids up to it are discarded, not violations). */
  readonly lastInvocationId: number;
  /** The session details dict of the session meta API and `on_join`. */
  details(): Dict;
  /** Client address of the transport. */
  readonly remoteAddress: string;
  /** HTTP headers of the transport's upgrade request (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Ends the session from the router side: GOODBYE with `reason` (and `message`), then leave. */
  kill(reason: string, message?: string): void;
}

// Autobahn|JS (22.x–26.x) HELLO fingerprint: no `agent`, and exactly these caller/callee features.
const AUTOBAHN_CALLER = ['call_canceling', 'caller_identification', 'progressive_call_results'];
const AUTOBAHN_CALLEE = [
  'caller_identification',
  'pattern_based_registration',
  'progressive_call_results',
  'registration_revocation',
  'shared_registration',
];

function featureKeys(roles: Dict, role: string): string[] | undefined {
  const r = roles[role];
  if (!isDict(r) || !isDict(r.features)) return undefined;
  return Object.keys(r.features)
    .filter((k) => (r.features as Dict)[k] === true)
    .sort();
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}

/** True if a HELLO's details look like Autobahn|JS's (see {@link Peer.settlesCancelLocally}). */
export function looksLikeAutobahn(details: Dict): boolean {
  if (details.agent !== undefined || !isDict(details.roles)) return false;
  return (
    sameList(featureKeys(details.roles, 'caller'), AUTOBAHN_CALLER) &&
    sameList(featureKeys(details.roles, 'callee'), AUTOBAHN_CALLEE)
  );
}

/** What a {@link RemotePeer} needs from its connection. */
export interface PeerTransport {
  readonly serializer: Serializer;
  send(message: RouterMessage): void;
  sendEncoded(data: string | Uint8Array): void;
  kill(reason: string, message: string | undefined): void;
  readonly remoteAddress: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** `websocket` or `rawsocket` (the session details' `transport.type`). */
  readonly type: string;
}

/** A session of a WAMP client over a connection. */
export class RemotePeer implements Peer {
  readonly session: number;
  readonly realm: string;
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod: string;
  readonly authprovider: string;
  readonly settlesCancelLocally: boolean;
  readonly #roles: Dict;
  readonly #invocations = new IdSequence();
  readonly #transport: PeerTransport;
  readonly #hello: Dict;
  /** Highest request id seen from the client (the sequence rule, §1.7). */
  lastRequestId = 0;

  constructor(
    session: number,
    realm: string,
    identity: AuthIdentity,
    hello: Dict,
    transport: PeerTransport,
    cancelCompat: boolean,
  ) {
    this.session = session;
    this.realm = realm;
    this.authid = identity.authid;
    this.authrole = identity.authrole;
    this.authmethod = identity.authmethod;
    this.authprovider = identity.authprovider;
    this.#roles = isDict(hello.roles) ? hello.roles : {};
    this.#hello = hello;
    this.#transport = transport;
    this.settlesCancelLocally = cancelCompat && looksLikeAutobahn(hello);
  }

  get remoteAddress(): string {
    return this.#transport.remoteAddress;
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.#transport.headers;
  }

  get serializer(): Serializer {
    return this.#transport.serializer;
  }

  supports(role: ClientRole, feature: string): boolean {
    const r = this.#roles[role];
    return isDict(r) && isDict(r.features) && r.features[feature] === true;
  }

  send(message: RouterMessage): void {
    this.#transport.send(message);
  }

  sendEncoded(data: string | Uint8Array): void {
    this.#transport.sendEncoded(data);
  }

  nextInvocationId(): number {
    return this.#invocations.next();
  }

  get lastInvocationId(): number {
    return this.#invocations.last;
  }

  details(): Dict {
    return {
      session: this.session,
      authid: this.authid,
      authrole: this.authrole,
      authmethod: this.authmethod,
      authprovider: this.authprovider,
      transport: {
        type: this.#transport.type,
        serializer: this.serializer.name,
        peer: this.#transport.remoteAddress,
      },
      ...(typeof this.#hello.agent === 'string' ? { agent: this.#hello.agent } : {}),
    };
  }

  kill(reason: string, message?: string): void {
    this.#transport.kill(reason, message);
  }
}
