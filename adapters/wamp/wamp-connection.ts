/**
 * One WAMP transport (a WebSocket): the session state machine of reference/wamp.md §1.2 over a neutral
 * {@link Connection}, with its serializer.
 *
 * States: `hello` (only HELLO or ABORT), `authenticating` (only AUTHENTICATE or ABORT), `established` (routed to
 * the realm), `shutting-down` (the router sent GOODBYE; everything but GOODBYE is ignored), `closed`. After a
 * GOODBYE exchange the transport goes back to `hello` and may carry another session.
 *
 * Every decoding failure, malformed or out-of-place message, oversized message or out-of-sequence request id is a
 * protocol violation: ABORT `wamp.error.protocol_violation` (with `Details.message`), the session leaves its realm
 * (subscriptions and registrations freed) and the transport is closed. A router GOODBYE frees the session at
 * once and does not wait for the echo (Autobahn|JS never delivers it, §4.2).
 */
import type { Connection, ConnectionListener } from '../../core/connection.js';
import type { Logger } from '../../core/logger.js';
import { exceedsNestingDepth } from '../../core/nesting-depth.js';
import type { CoalescedWriter, WriteCoalescer } from '../../transports/write-coalescer.js';
import type { Authenticator, AuthIdentity, AuthStart } from './authentication.js';
import { AuthenticationError, ProtocolViolation, WampUri } from './errors.js';
import {
  type ClientMessage,
  type Dict,
  isDict,
  isSequenced,
  Out,
  parseClientMessage,
  type RouterMessage,
} from './messages.js';
import { CLIENT_ROLES, RemotePeer } from './peer.js';
import type { Realm, RoutedMessage } from './realm.js';
import type { Serializer } from './serializers.js';
import { isValidUri } from './uri.js';

/** Per-connection settings (from the adapter's options). */
export interface WampConnectionSettings {
  /** Larger incoming messages are a protocol violation. */
  readonly maxMessageBytes: number;
  /** Messages nested deeper than this many levels are a protocol violation. */
  readonly maxNestingDepth: number;
  /** Require request ids to grow by exactly 1 (default: strictly increasing is enough). */
  readonly strictRequestIds: boolean;
  /** Send no ERROR after a non-`kill` CANCEL to Autobahn|JS callers (see peer.ts). */
  readonly autobahnCancelCompat: boolean;
  /** After a router GOODBYE, close the transport if the client has not answered within this many ms. */
  readonly goodbyeTimeoutMs: number;
  /** `WELCOME.Details.agent`. */
  readonly agent: string;
  /**
   * Outbound coalescing shared by the adapter's connections (undefined: one socket write per message): a
   * connection's messages of one window leave in one write, each still its own WebSocket message.
   */
  readonly coalescer: WriteCoalescer | undefined;
}

/** What a connection needs from the router. */
export interface RouterContext {
  realm(name: string): Realm | undefined;
  /** A fresh session id, unique in the router. */
  newSessionId(): number;
  /** The id is no longer used. */
  releaseSessionId(id: number): void;
}

/** The roles and features the router announces in WELCOME. */
export const ROUTER_ROLES: Dict = {
  broker: {
    features: {
      publisher_identification: true,
      publisher_exclusion: true,
      subscriber_blackwhite_listing: true,
      pattern_based_subscription: true,
      event_retention: true,
      session_meta_api: true,
      subscription_meta_api: true,
    },
  },
  dealer: {
    features: {
      caller_identification: true,
      progressive_call_results: true,
      call_canceling: true,
      call_timeout: true,
      pattern_based_registration: true,
      shared_registration: true,
      session_meta_api: true,
      registration_meta_api: true,
      testament_meta_api: true,
    },
  },
};

type State =
  | { readonly kind: 'hello' }
  | {
      readonly kind: 'authenticating';
      readonly realm: Realm;
      readonly session: number;
      readonly hello: Dict;
      verify: ((signature: string, extra: Dict) => Promise<AuthIdentity>) | undefined;
    }
  | { readonly kind: 'established'; readonly realm: Realm; readonly peer: RemotePeer }
  | { readonly kind: 'shutting-down'; readonly timer: NodeJS.Timeout }
  | { readonly kind: 'closed' };

/** Runs WAMP over one connection (as its listener). */
export class WampConnection implements ConnectionListener, CoalescedWriter {
  #state: State = { kind: 'hello' };
  /** True while this connection is corked for the coalescer's current window (uncorked by {@link releaseCork}). */
  #corked = false;

  constructor(
    private readonly connection: Connection,
    readonly serializer: Serializer,
    private readonly router: RouterContext,
    private readonly settings: WampConnectionSettings,
    private readonly logger: Logger,
  ) {
    connection.attach(this);
  }

  /** The established session's peer, if any. */
  get peer(): RemotePeer | undefined {
    return this.#state.kind === 'established' ? this.#state.peer : undefined;
  }

  // ---- inbound ---------------------------------------------------------------------------------------------

  /** Called by the connection with each message. */
  receive(data: string | Uint8Array): void {
    if (this.#state.kind === 'closed') return;
    let message: ClientMessage;
    try {
      const size = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
      if (size > this.settings.maxMessageBytes) {
        throw new ProtocolViolation(`message of ${size} bytes exceeds ${this.settings.maxMessageBytes}`);
      }
      const decoded = this.serializer.decode(data);
      if (exceedsNestingDepth(decoded, this.settings.maxNestingDepth)) {
        throw new ProtocolViolation(`message nested deeper than ${this.settings.maxNestingDepth} levels`);
      }
      message = parseClientMessage(decoded);
      this.#dispatch(message);
    } catch (error) {
      if (error instanceof ProtocolViolation) this.#violation(error);
      else {
        this.logger.error({ err: error }, 'WAMP message handling failed');
        this.#abort(WampUri.protocolViolation, 'internal error');
      }
    }
  }

  #dispatch(message: ClientMessage): void {
    const state = this.#state;
    switch (state.kind) {
      case 'hello':
        if (message.type === 'HELLO') this.#hello(message.realm, message.details);
        else if (message.type === 'ABORT') this.#close(1000);
        else throw new ProtocolViolation(`${message.type} before HELLO`);
        return;
      case 'authenticating':
        if (message.type === 'AUTHENTICATE' && state.verify)
          this.#authenticate(state, message.signature, message.extra);
        else if (message.type === 'ABORT') this.#close(1000);
        else throw new ProtocolViolation(`${message.type} during authentication`);
        return;
      case 'established':
        this.#established(state.realm, state.peer, message);
        return;
      case 'shutting-down':
        if (message.type === 'GOODBYE') {
          clearTimeout(state.timer);
          this.#state = { kind: 'hello' };
        }
        return;
      case 'closed':
        return;
    }
  }

  #established(realm: Realm, peer: RemotePeer, message: ClientMessage): void {
    switch (message.type) {
      case 'HELLO':
      case 'AUTHENTICATE':
        throw new ProtocolViolation(`${message.type} in an established session`);
      case 'GOODBYE':
        this.send(Out.goodbye({}, WampUri.goodbyeAndOut));
        this.#leave();
        this.#state = { kind: 'hello' };
        return;
      case 'ABORT':
        this.#leave();
        this.#close(1000);
        return;
      default: {
        if (isSequenced(message)) {
          const expected = peer.lastRequestId + 1;
          if (this.settings.strictRequestIds ? message.request !== expected : message.request < expected) {
            throw new ProtocolViolation(
              `request id ${message.request} out of sequence (last ${peer.lastRequestId})`,
            );
          }
          peer.lastRequestId = message.request;
        }
        const routed: RoutedMessage = message;
        realm.handle(peer, routed);
      }
    }
  }

  // ---- handshake -------------------------------------------------------------------------------------------

  #hello(realmName: string, details: Dict): void {
    if (!isValidUri(realmName, 'loose')) {
      this.#abort(WampUri.invalidUri, `invalid realm ${JSON.stringify(realmName)}`);
      return;
    }
    const roles = details.roles;
    if (!isDict(roles) || !CLIENT_ROLES.some((role) => isDict(roles[role]))) {
      throw new ProtocolViolation('HELLO.Details.roles must announce at least one client role');
    }
    const realm = this.router.realm(realmName);
    if (!realm) {
      this.#abort(WampUri.noSuchRealm, `no realm ${realmName}`);
      return;
    }
    const methods = details.authmethods ?? ['anonymous'];
    if (!Array.isArray(methods) || !methods.every((m) => typeof m === 'string')) {
      throw new ProtocolViolation('HELLO.Details.authmethods must be a list of strings');
    }
    let authenticator: Authenticator | undefined;
    for (const method of methods) {
      authenticator = realm.settings.authenticators.find((a) => a.authmethod === method);
      if (authenticator) break;
    }
    if (!authenticator) {
      this.#abort(WampUri.noMatchingAuthMethod, `no matching auth method (offered: ${methods.join(', ')})`);
      return;
    }
    const authid = details.authid;
    if (authid !== undefined && typeof authid !== 'string') {
      throw new ProtocolViolation('HELLO.Details.authid must be a string');
    }
    const session = this.router.newSessionId();
    const state: State & { kind: 'authenticating' } = {
      kind: 'authenticating',
      realm,
      session,
      hello: details,
      verify: undefined,
    };
    this.#state = state;
    const started = authenticator.start({
      realm: realmName,
      session,
      authid,
      authextra: isDict(details.authextra) ? details.authextra : {},
      details,
      transport: { remoteAddress: this.connection.remoteAddress, headers: this.connection.headers },
    });
    started.then(
      (start: AuthStart) => {
        if (this.#state !== state) return;
        if (start.kind === 'welcome') this.#welcome(state, start.identity);
        else {
          state.verify = start.verify;
          this.send(Out.challenge(authenticator.authmethod, start.extra));
        }
      },
      (error: unknown) => this.#authFailed(state, error),
    );
  }

  #authenticate(state: State & { kind: 'authenticating' }, signature: string, extra: Dict): void {
    const verify = state.verify!;
    state.verify = undefined;
    verify(signature, extra).then(
      (identity) => {
        if (this.#state === state) this.#welcome(state, identity);
      },
      (error: unknown) => this.#authFailed(state, error),
    );
  }

  #authFailed(state: State & { kind: 'authenticating' }, error: unknown): void {
    this.router.releaseSessionId(state.session);
    if (this.#state !== state) return;
    if (error instanceof AuthenticationError) {
      this.#abort(error.uri, error.message);
    } else {
      this.logger.error({ err: error }, 'WAMP authenticator failed');
      this.#abort(WampUri.authenticationFailed, 'authentication failed');
    }
  }

  #welcome(state: State & { kind: 'authenticating' }, identity: AuthIdentity): void {
    const peer = new RemotePeer(
      state.session,
      state.realm.name,
      identity,
      state.hello,
      {
        serializer: this.serializer,
        remoteAddress: this.connection.remoteAddress,
        headers: this.connection.headers,
        type: this.connection.transportKind ?? 'websocket',
        send: (message) => this.send(message),
        sendEncoded: (data) => this.#sendEncoded(data),
        kill: (reason, message) => this.#kill(peer, reason, message),
      },
      this.settings.autobahnCancelCompat,
    );
    this.send(
      Out.welcome(state.session, {
        realm: state.realm.name,
        authid: identity.authid,
        authrole: identity.authrole,
        authmethod: identity.authmethod,
        authprovider: identity.authprovider,
        ...(identity.authextra ? { authextra: identity.authextra } : {}),
        roles: ROUTER_ROLES,
        agent: this.settings.agent,
      }),
    );
    this.#state = { kind: 'established', realm: state.realm, peer };
    state.realm.join(peer);
  }

  // ---- outbound and endings ------------------------------------------------------------------------------

  /** Sends a message (dropped once closed; an unencodable message is logged and dropped). */
  send(message: RouterMessage): void {
    if (this.#state.kind === 'closed') return;
    let data: string | Uint8Array;
    try {
      data = this.serializer.encode(message);
    } catch (error) {
      this.logger.error({ err: error, type: message[0] }, 'WAMP message could not be encoded');
      return;
    }
    this.#write(data);
  }

  #sendEncoded(data: string | Uint8Array): void {
    if (this.#state.kind !== 'closed') this.#write(data);
  }

  /**
   * Writes one message. With a coalescer, the first message of a window corks the connection and enlists this
   * one; the window's messages then leave together, in order, when it ends ({@link releaseCork}).
   */
  #write(data: string | Uint8Array): void {
    const coalescer = this.settings.coalescer;
    if (coalescer && !this.#corked && this.connection.cork) {
      this.connection.cork();
      this.#corked = true;
      coalescer.hold(this);
    }
    this.connection.send(data);
  }

  /** The coalescer's window ended: uncork (also after the session ended; a closed connection ignores it). */
  releaseCork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.connection.uncork?.();
  }

  /** The router ends the session: GOODBYE, free it now, close the transport if no echo comes. */
  #kill(peer: RemotePeer, reason: string, message: string | undefined): void {
    if (this.#state.kind !== 'established' || this.#state.peer !== peer) return;
    this.send(Out.goodbye(message === undefined ? {} : { message }, reason));
    this.#leave();
    const timer = setTimeout(() => {
      if (this.#state.kind === 'shutting-down') this.#close(1000);
    }, this.settings.goodbyeTimeoutMs);
    timer.unref();
    this.#state = { kind: 'shutting-down', timer };
  }

  #violation(error: ProtocolViolation): void {
    this.logger.debug({ reason: error.message }, 'WAMP protocol violation');
    this.#abort(WampUri.protocolViolation, error.message);
  }

  /** ABORT with `reason`, free the session, close the transport. */
  #abort(reason: string, message: string): void {
    this.send(Out.abort({ message }, reason));
    this.#leave();
    this.#close(1000);
  }

  /** Closes the transport (shutdown: no WAMP message, so clients reconnect). */
  close(code = 1001, reason = 'server shutting down'): void {
    this.#leave();
    this.#close(code, reason);
  }

  #leave(): void {
    const state = this.#state;
    if (state.kind === 'established') {
      state.realm.leave(state.peer);
      this.router.releaseSessionId(state.peer.session);
    } else if (state.kind === 'authenticating') {
      this.router.releaseSessionId(state.session);
    }
  }

  #close(code: number, reason = ''): void {
    if (this.#state.kind === 'shutting-down') clearTimeout(this.#state.timer);
    this.#state = { kind: 'closed' };
    this.connection.close(code, reason);
  }

  /** Called by the connection once the transport has closed. */
  connectionClosed(): void {
    if (this.#state.kind === 'closed') return;
    this.#leave();
    if (this.#state.kind === 'shutting-down') clearTimeout(this.#state.timer);
    this.#state = { kind: 'closed' };
  }
}
