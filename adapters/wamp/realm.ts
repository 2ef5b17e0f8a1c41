/**
 * One realm: its sessions, broker and dealer, URI checking, authorization and the meta API events. Connections
 * hand it the messages of established sessions ({@link Realm.handle}); it validates each (URI syntax for the
 * realm's `uriCheck`, reserved namespaces, authorization), routes it, and answers interaction errors with ERROR.
 *
 * Fixed rules, before the configurable authorizer:
 * - `wamp.*` may not be registered or published by clients (`wamp.error.invalid_uri`);
 * - `pgrt.session.<id>` may be subscribed (exact match) only by session `<id>`, and nothing under
 *   `pgrt.session.` may be published by clients (`wamp.error.not_authorized`): the private topics carry the core
 *   bridge's data (core-bridge.ts).
 *
 * Listeners (the core bridge) hear joins, leaves and (un)subscriptions, after the client was answered.
 */
import type { Logger } from '../../core/logger.js';
import type { Authenticator } from './authentication.js';
import type { Action, Authorizer } from './authorization.js';
import { Broker, type PublishOptions, parsePublishOptions, type Subscription } from './broker.js';
import { Dealer, type InternalProcedure, parseInvoke, type Registration } from './dealer.js';
import { ProtocolViolation, ReportedInternalError, WampError, WampUri } from './errors.js';
import type { IdSequence } from './ids.js';
import { type ClientMessage, type Dict, MessageCode, Out, type Payload } from './messages.js';
import type { Peer } from './peer.js';
import { toWireError, type WireError } from './to-wire-error.js';
import { isValidUri, type MatchPolicy, parseMatch, type UriCheck } from './uri.js';

/** Prefix of the per-session private topics. */
export const PRIVATE_TOPIC_PREFIX = 'pgrt.session.';

/** The private topic of a session: `pgrt.session.<id>`. */
export function privateTopic(session: number): string {
  return `${PRIVATE_TOPIC_PREFIX}${session}`;
}

/** Settings of a realm (resolved from the adapter's options). */
export interface RealmSettings {
  readonly name: string;
  readonly uriCheck: UriCheck;
  readonly authenticators: readonly Authenticator[];
  readonly authorizer: Authorizer;
  /** Send ERROR after a `skip` cancel (default false, Crossbar's behaviour). */
  readonly skipSendsError: boolean;
  /** Retained events kept at most (oldest topic dropped first). */
  readonly maxRetained: number;
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
  readonly #listeners: RealmListener[] = [];
  readonly #testaments = new Map<Peer, Testament[]>();

  constructor(
    readonly settings: RealmSettings,
    ids: IdSequence,
    private readonly logger: Logger,
  ) {
    this.name = settings.name;
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
      settings.maxRetained,
    );
    this.dealer = new Dealer(
      ids,
      {
        onCreate: (peer, r) => this.#registrationMeta('on_create', [peer?.session ?? null, r.info()]),
        onRegister: (peer, r) => this.#registrationMeta('on_register', [peer?.session ?? null, r.id]),
        onUnregister: (peer, r) => this.#registrationMeta('on_unregister', [peer?.session ?? null, r.id]),
        onDelete: (peer, r) => this.#registrationMeta('on_delete', [peer?.session ?? null, r.id]),
      },
      { skipSendsError: settings.skipSendsError },
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

  /** Publishes a router event (meta API, core bridge) with `options`. */
  publish(topic: string, payload: Payload, options: PublishOptions = META_OPTIONS): void {
    this.broker.publish(null, topic, options, payload);
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
    for (const t of testaments ?? []) this.broker.publish(null, t.topic, t.options, t.payload);
    this.publish('wamp.session.on_leave', { args: [peer.session, peer.authid, peer.authrole] });
  }

  /** Stores a testament of `peer` (`wamp.session.add_testament`). */
  addTestament(peer: Peer, topic: string, options: Dict, payload: Payload): void {
    if (!isValidUri(topic, this.settings.uriCheck)) throw new WampError(WampUri.invalidUri);
    this.#check(peer, topic, 'publish', options);
    const parsed = parsePublishOptions(options);
    const list = this.#testaments.get(peer) ?? [];
    list.push({ topic, options: { ...parsed, acknowledge: false }, payload });
    this.#testaments.set(peer, list);
  }

  /** Drops `peer`'s testaments; returns how many there were. */
  flushTestaments(peer: Peer): number {
    const n = this.#testaments.get(peer)?.length ?? 0;
    this.#testaments.delete(peer);
    return n;
  }

  /** The fixed rules, then the authorizer. */
  authorize(peer: Peer, uri: string, action: Action, options: Dict): boolean {
    if (uri.startsWith(PRIVATE_TOPIC_PREFIX)) {
      if (action === 'publish') return false;
      if (action === 'subscribe' && (options.match ?? 'exact') === 'exact')
        return uri === privateTopic(peer.session);
    }
    return this.settings.authorizer.authorize(peer, uri, action, options);
  }

  #check(peer: Peer, uri: string, action: Action, options: Dict): void {
    if (!this.authorize(peer, uri, action, options)) throw new WampError(WampUri.notAuthorized);
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
          this.#check(peer, message.topic, 'subscribe', message.options);
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
            const options = parsePublishOptions(message.options);
            this.#uri(message.topic);
            if (message.topic.startsWith('wamp.')) throw new WampError(WampUri.invalidUri);
            this.#check(peer, message.topic, 'publish', message.options);
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
          if (message.procedure.startsWith('wamp.')) throw new WampError(WampUri.invalidUri);
          this.#check(peer, message.procedure, 'register', message.options);
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
          this.#check(peer, message.procedure, 'call', message.options);
          this.dealer.call(peer, message.request, message.procedure, message.options, message);
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
