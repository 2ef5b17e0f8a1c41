/**
 * One realm: its sessions, broker and dealer, URI checking, authorization and the meta API events. Connections
 * hand it the messages of established sessions ({@link Realm.handle}); it validates each (URI syntax for the
 * realm's `uriCheck`, then the {@link AccessPolicy}: reserved namespaces, grants, the authorizer), routes it, and
 * answers interaction errors with ERROR.
 *
 * Every path that publishes goes through the same rules: a client's PUBLISH and its testaments
 * (`wamp.session.add_testament`) are checked by the policy as PUBLISH; the router's own events (meta events, the
 * core bridge's private topics) are published only on reserved topics ({@link Realm.publish}) and reach only the
 * sessions the policy lets receive them.
 *
 * Listeners (the core bridge) hear joins, leaves and (un)subscriptions, after the client was answered.
 */
import type { Logger } from '../../core/logger.js';
import { AccessPolicy, type RealmGrants, reservedNamespace } from './access-policy.js';
import type { Authenticator } from './authentication.js';
import type { Authorizer } from './authorization.js';
import {
  Broker,
  type PublishOptions,
  parsePublishOptions,
  type RetentionLimits,
  type Subscription,
} from './broker.js';
import { Dealer } from './dealer.js';
import { ProtocolViolation, ReportedInternalError, WampError, WampUri } from './errors.js';
import type { IdSequence } from './ids.js';
import { type ClientMessage, type Dict, MessageCode, Out, type Payload } from './messages.js';
import type { Peer } from './peer.js';
import { type InternalProcedure, parseInvoke, type Registration } from './registration.js';
import { toWireError, type WireError } from './to-wire-error.js';
import { isValidUri, type MatchPolicy, parseMatch, type UriCheck } from './uri.js';

export { PRIVATE_TOPIC_PREFIX, privateTopic } from './access-policy.js';

/** Settings of a realm (resolved from the adapter's options). */
export interface RealmSettings {
  readonly name: string;
  readonly uriCheck: UriCheck;
  readonly authenticators: readonly Authenticator[];
  readonly authorizer: Authorizer;
  /** What the realm opens to which roles (meta API, pattern registrations, disclosure). */
  readonly grants: RealmGrants;
  /** Send ERROR after a `skip` cancel (default false, Crossbar's behaviour). */
  readonly skipSendsError: boolean;
  /** Retained events kept at most, in events and bytes (oldest topic dropped first). */
  readonly retention: RetentionLimits;
  /** Testaments a session may hold at once; one more is refused with `wamp.error.testament_error`. */
  readonly maxTestaments: number;
}

/** Hears session lifecycle events of a realm (the core bridge). */
export interface RealmListener {
  joined(peer: Peer): void;
  left(peer: Peer): void;
  subscribed(peer: Peer, subscription: Subscription): void;
  unsubscribed(peer: Peer, subscription: Subscription): void;
}

/** Messages of an established session that the realm routes. */
export type RoutedMessage = Extract<
  ClientMessage,
  {
    type:
      | 'PUBLISH'
      | 'SUBSCRIBE'
      | 'UNSUBSCRIBE'
      | 'CALL'
      | 'CANCEL'
      | 'REGISTER'
      | 'UNREGISTER'
      | 'YIELD'
      | 'ERROR';
  }
>;

const META_OPTIONS: PublishOptions = {
  acknowledge: false,
  excludeMe: false,
  discloseMe: false,
  retain: false,
};

/** The error of a refused testament (Crossbar's URI for testament errors). */
export const TESTAMENT_ERROR = 'wamp.error.testament_error';

/** A testament: an event published when its session leaves. */
interface Testament {
  readonly topic: string;
  readonly options: PublishOptions;
  readonly payload: Payload;
}

/** A realm of the router. */
export class Realm {
  readonly name: string;
  readonly sessions = new Map<number, Peer>();
  readonly broker: Broker;
  readonly dealer: Dealer;
  readonly policy: AccessPolicy;
  readonly #listeners: RealmListener[] = [];
  readonly #testaments = new Map<Peer, Testament[]>();

  constructor(
    readonly settings: RealmSettings,
    ids: IdSequence,
    private readonly logger: Logger,
  ) {
    this.name = settings.name;
    this.policy = new AccessPolicy(settings.grants, settings.authorizer);
    this.broker = new Broker(
      ids,
      {
        onCreate: (peer, s) => this.#subscriptionMeta('on_create', peer, s, [peer.session, s.info()]),
        onSubscribe: (peer, s) => this.#subscriptionMeta('on_subscribe', peer, s, [peer.session, s.id]),
        onUnsubscribe: (peer, s) => {
          for (const listener of this.#listeners) listener.unsubscribed(peer, s);
          this.#subscriptionMeta('on_unsubscribe', peer, s, [peer.session, s.id]);
        },
        onDelete: (peer, s) => this.#subscriptionMeta('on_delete', peer, s, [peer.session, s.id]),
      },
      settings.retention,
    );
    this.dealer = new Dealer(
      ids,
      {
        onCreate: (peer, r) => this.#registrationMeta('on_create', [peer?.session ?? null, r.info()]),
        onRegister: (peer, r) => this.#registrationMeta('on_register', [peer?.session ?? null, r.id]),
        onUnregister: (peer, r) => this.#registrationMeta('on_unregister', [peer?.session ?? null, r.id]),
        onDelete: (peer, r) => this.#registrationMeta('on_delete', [peer?.session ?? null, r.id]),
      },
      {
        skipSendsError: settings.skipSendsError,
        exactOnly: (procedure) => reservedNamespace(procedure) !== undefined,
      },
      (error) => this.mapError(error),
    );
  }

  /** Adds a listener of session lifecycle events. */
  addListener(listener: RealmListener): void {
    this.#listeners.push(listener);
  }

  /** Registers a built-in procedure (meta API). */
  addBuiltin(uri: string, handler: InternalProcedure): void {
    this.dealer.addBuiltin(uri, handler);
  }

  /** Maps an error for the wire, logging unexpected ones in full. */
  mapError(error: unknown): WireError {
    const wire = toWireError(error);
    if (
      !(error instanceof WampError) &&
      !(error instanceof ReportedInternalError) &&
      wire.kwargs?.error === 500
    ) {
      this.logger.error({ err: error, realm: this.name }, 'WAMP procedure failed');
    }
    return wire;
  }

  /**
   * Publishes a router event (meta API, core bridge) with `options`. Only reserved topics (`wamp.`, `pgrt.`) carry
   * router events; each subscriber must pass {@link AccessPolicy.mayReceiveRouterEvent}.
   * @throws Error for a topic outside the reserved namespaces (a bug: clients' topics are theirs).
   */
  publish(topic: string, payload: Payload, options: PublishOptions = META_OPTIONS): void {
    this.broker.publish(null, topic, options, payload, this.policy.routerEventFilter(topic));
  }

  #subscriptionMeta(event: string, peer: Peer, subscription: Subscription, args: unknown[]): void {
    if (event === 'on_subscribe')
      for (const listener of this.#listeners) listener.subscribed(peer, subscription);
    if (subscription.uri.startsWith('wamp.')) return;
    this.publish(`wamp.subscription.${event}`, { args });
  }

  #registrationMeta(event: string, args: unknown[]): void {
    this.publish(`wamp.registration.${event}`, { args });
  }

  /** A session joined (after WELCOME was sent). */
  join(peer: Peer): void {
    this.sessions.set(peer.session, peer);
    for (const listener of this.#listeners) listener.joined(peer);
    this.publish('wamp.session.on_join', { args: [peer.details()] });
  }

  /** A session left (GOODBYE, ABORT, kill, protocol violation or transport loss): frees everything it held. */
  leave(peer: Peer): void {
    if (this.sessions.get(peer.session) !== peer) return;
    this.sessions.delete(peer.session);
    for (const listener of this.#listeners) listener.left(peer);
    this.dealer.removeSession(peer);
    this.broker.removeSession(peer);
    const testaments = this.#testaments.get(peer);
    this.#testaments.delete(peer);
    // Published as the leaving session, which was checked as their publisher when they were added.
    for (const t of testaments ?? []) this.broker.publish(peer, t.topic, t.options, t.payload);
    this.publish('wamp.session.on_leave', { args: [peer.session, peer.authid, peer.authrole] });
  }

  /**
   * Stores a testament of `peer` (`wamp.session.add_testament`): checked now exactly as a PUBLISH of `peer` to
   * `topic` would be (URI, reserved namespaces, authorization, disclosure), so it cannot publish what `peer`
   * could not publish itself.
   */
  addTestament(peer: Peer, topic: string, options: Dict, payload: Payload): void {
    const parsed = this.#publishOptions(peer, topic, options);
    const list = this.#testaments.get(peer) ?? [];
    if (list.length >= this.settings.maxTestaments) {
      throw new WampError(
        TESTAMENT_ERROR,
        `a session holds at most ${this.settings.maxTestaments} testaments (flush_testaments drops them)`,
      );
    }
    list.push({ topic, options: { ...parsed, acknowledge: false }, payload });
    this.#testaments.set(peer, list);
  }

  /** Validates and authorizes a publication of `peer`; the parsed options, disclosure decided. */
  #publishOptions(peer: Peer, topic: string, options: Dict): PublishOptions {
    const parsed = parsePublishOptions(options);
    this.#uri(topic);
    const { disclose } = this.policy.check(peer, topic, 'publish', 'exact', options);
    return parsed.discloseMe && !disclose ? { ...parsed, discloseMe: false } : parsed;
  }

  /** Drops `peer`'s testaments; returns how many there were. */
  flushTestaments(peer: Peer): number {
    const n = this.#testaments.get(peer)?.length ?? 0;
    this.#testaments.delete(peer);
    return n;
  }

  #uri(uri: string, match: MatchPolicy = 'exact'): void {
    if (!isValidUri(uri, this.settings.uriCheck, match)) throw new WampError(WampUri.invalidUri);
  }

  #match(options: Dict): MatchPolicy {
    const match = parseMatch(options.match);
    if (!match)
      throw new WampError(WampUri.invalidArgument, 'option match must be exact, prefix or wildcard');
    return match;
  }

  /**
   * Routes one message of an established session.
   * @throws ProtocolViolation (the connection aborts the session).
   */
  handle(peer: Peer, message: RoutedMessage): void {
    switch (message.type) {
      case 'SUBSCRIBE':
        this.#answer(peer, MessageCode.SUBSCRIBE, message.request, () => {
          const match = this.#match(message.options);
          this.#uri(message.topic, match);
          this.policy.check(peer, message.topic, 'subscribe', match, message.options);
          const { subscription } = this.broker.subscribe(peer, message.topic, match, (s) =>
            peer.send(Out.subscribed(message.request, s.id)),
          );
          if (message.options.get_retained === true) this.broker.sendRetained(peer, subscription);
        });
        return;
      case 'UNSUBSCRIBE':
        this.#answer(peer, MessageCode.UNSUBSCRIBE, message.request, () => {
          this.broker.unsubscribe(peer, message.subscription);
          peer.send(Out.unsubscribed(message.request));
        });
        return;
      case 'PUBLISH': {
        const acknowledge = message.options.acknowledge === true;
        this.#answer(
          peer,
          MessageCode.PUBLISH,
          message.request,
          () => {
            const options = this.#publishOptions(peer, message.topic, message.options);
            const publication = this.broker.publish(peer, message.topic, options, message);
            if (acknowledge) peer.send(Out.published(message.request, publication));
          },
          acknowledge,
        );
        return;
      }
      case 'REGISTER':
        this.#answer(peer, MessageCode.REGISTER, message.request, () => {
          const match = this.#match(message.options);
          const invoke = parseInvoke(message.options.invoke);
          if (!invoke) throw new WampError(WampUri.invalidArgument, 'unknown invoke policy');
          this.#uri(message.procedure, match);
          this.policy.check(peer, message.procedure, 'register', match, message.options);
          const registration: Registration = this.dealer.register(
            { kind: 'remote', peer, discloseCaller: message.options.disclose_caller === true },
            message.procedure,
            match,
            invoke,
          );
          peer.send(Out.registered(message.request, registration.id));
        });
        return;
      case 'UNREGISTER':
        this.#answer(peer, MessageCode.UNREGISTER, message.request, () => {
          this.dealer.unregister(peer, message.registration);
          peer.send(Out.unregistered(message.request));
        });
        return;
      case 'CALL':
        if (message.options.progress === true) {
          throw new ProtocolViolation('progressive call invocations are not supported');
        }
        this.#answer(peer, MessageCode.CALL, message.request, () => {
          this.#uri(message.procedure);
          const { disclose } = this.policy.check(peer, message.procedure, 'call', 'exact', message.options);
          this.dealer.call(peer, message.request, message.procedure, message.options, message, disclose);
        });
        return;
      case 'CANCEL':
        this.dealer.cancel(peer, message.request, message.options);
        return;
      case 'YIELD':
        this.dealer.yield(peer, message.request, message.options, message);
        return;
      case 'ERROR':
        if (message.requestType !== MessageCode.INVOCATION) {
          throw new ProtocolViolation(`ERROR for request type ${message.requestType}`);
        }
        this.dealer.error(peer, message.request, message.error, message);
        return;
    }
  }

  /** Runs `action`; an error becomes ERROR for the request (unless `reply` is false: unacknowledged publish). */
  #answer(peer: Peer, requestType: number, request: number, action: () => void, reply = true): void {
    try {
      action();
    } catch (error) {
      if (error instanceof ProtocolViolation) throw error;
      if (!reply) return;
      const { uri, ...payload } = this.mapError(error);
      peer.send(Out.error(requestType, request, {}, uri, payload));
    }
  }
}
