/**
 * The broker of one realm: subscriptions (exact, prefix, wildcard), publication routing with publisher exclusion,
 * black/whitelisting and publisher identification, and event retention (reference/wamp.md §1.8–1.9).
 *
 * A subscription is one (uri, match) pair shared by all its subscribers (router-scope id), so each EVENT is
 * encoded once per subscription and serializer. Events are sent synchronously while publishing: per
 * (publisher, subscriber) order holds across topics, and SUBSCRIBED always precedes a subscription's EVENTs.
 *
 * Inputs are validated by the caller (realm.ts) except publish options, parsed here
 * ({@link parsePublishOptions}, which throws `wamp.error.invalid_argument`). Lifecycle hooks feed the
 * subscription meta API and the core bridge.
 */
import { WampError, WampUri } from './errors.js';
import { type IdSequence, randomId } from './ids.js';
import { type Dict, Out, type Payload } from './messages.js';
import type { Peer } from './peer.js';
import { type MatchPolicy, matches, wildcardMatches } from './uri.js';
import { UriTable } from './uri-table.js';

/** A subscription: one (uri, match) pair and its subscribers. */
export class Subscription {
  readonly subscribers = new Set<Peer>();
  readonly created = new Date();
  readonly components: readonly string[];

  constructor(
    readonly id: number,
    readonly uri: string,
    readonly match: MatchPolicy,
  ) {
    this.components = uri.split('.');
  }

  /** The dict of the subscription meta API (`wamp.subscription.get`, `on_create`). */
  info(): Dict {
    return { id: this.id, created: this.created.toISOString(), uri: this.uri, match: this.match };
  }

  /** True if a publication to `topic` (split: `components`) reaches this subscription. */
  matches(topic: string, components: readonly string[]): boolean {
    switch (this.match) {
      case 'exact':
        return this.uri === topic;
      case 'prefix':
        return topic.startsWith(this.uri);
      case 'wildcard':
        return wildcardMatches(this.components, components);
    }
  }
}

/** Parsed PUBLISH.Options. */
export interface PublishOptions {
  readonly acknowledge: boolean;
  readonly excludeMe: boolean;
  readonly discloseMe: boolean;
  readonly retain: boolean;
  readonly exclude?: ReadonlySet<number>;
  readonly excludeAuthid?: ReadonlySet<string>;
  readonly excludeAuthrole?: ReadonlySet<string>;
  readonly eligible?: ReadonlySet<number>;
  readonly eligibleAuthid?: ReadonlySet<string>;
  readonly eligibleAuthrole?: ReadonlySet<string>;
}

function bool(options: Dict, key: string, fallback: boolean): boolean {
  const value = options[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new WampError(WampUri.invalidArgument, `option ${key} must be a boolean`);
  return value;
}

function idSet(options: Dict, key: string): ReadonlySet<number> | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    throw new WampError(WampUri.invalidArgument, `option ${key} must be a list of session ids`);
  }
  return new Set(value as number[]);
}

function stringSet(options: Dict, key: string): ReadonlySet<string> | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new WampError(WampUri.invalidArgument, `option ${key} must be a list of strings`);
  }
  return new Set(value as string[]);
}

/**
 * Parses PUBLISH.Options (unknown keys ignored).
 * @throws WampError `wamp.error.invalid_argument` for a known option of the wrong type.
 */
export function parsePublishOptions(options: Dict): PublishOptions {
  const exclude = idSet(options, 'exclude');
  const excludeAuthid = stringSet(options, 'exclude_authid');
  const excludeAuthrole = stringSet(options, 'exclude_authrole');
  const eligible = idSet(options, 'eligible');
  const eligibleAuthid = stringSet(options, 'eligible_authid');
  const eligibleAuthrole = stringSet(options, 'eligible_authrole');
  return {
    acknowledge: bool(options, 'acknowledge', false),
    excludeMe: bool(options, 'exclude_me', true),
    discloseMe: bool(options, 'disclose_me', false),
    retain: bool(options, 'retain', false),
    ...(exclude ? { exclude } : {}),
    ...(excludeAuthid ? { excludeAuthid } : {}),
    ...(excludeAuthrole ? { excludeAuthrole } : {}),
    ...(eligible ? { eligible } : {}),
    ...(eligibleAuthid ? { eligibleAuthid } : {}),
    ...(eligibleAuthrole ? { eligibleAuthrole } : {}),
  };
}

/** True if `peer` may receive an event published with `options` (all conditions ANDed). */
export function isEligible(peer: Peer, options: PublishOptions): boolean {
  if (options.eligible && !options.eligible.has(peer.session)) return false;
  if (options.eligibleAuthid && !options.eligibleAuthid.has(peer.authid)) return false;
  if (options.eligibleAuthrole && !options.eligibleAuthrole.has(peer.authrole)) return false;
  if (options.exclude?.has(peer.session)) return false;
  if (options.excludeAuthid?.has(peer.authid)) return false;
  if (options.excludeAuthrole?.has(peer.authrole)) return false;
  return true;
}

/** Lifecycle hooks (the subscription meta API and the core bridge listen). `peer` is who caused it. */
export interface BrokerHooks {
  onCreate(peer: Peer, subscription: Subscription): void;
  onSubscribe(peer: Peer, subscription: Subscription): void;
  onUnsubscribe(peer: Peer, subscription: Subscription): void;
  onDelete(peer: Peer, subscription: Subscription): void;
}

interface RetainedEvent {
  readonly publication: number;
  readonly options: PublishOptions;
  readonly publisherDetails: Dict;
  readonly payload: Payload;
  /** {@link payloadBytes} of the payload plus the topic: what the event counts against the byte bound. */
  readonly bytes: number;
}

/** How many retained events a realm keeps, in events and in bytes (the oldest topic goes first). */
export interface RetentionLimits {
  readonly events: number;
  readonly bytes: number;
}

/**
 * About how many bytes `value` takes once serialized (JSON's size for text, the byte length of binaries): what a
 * retained event is charged. Walks the value once; nesting is already bounded by the transport's depth check.
 */
export function payloadBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (value === null || typeof value !== 'object') return 8;
  if (value instanceof Uint8Array) return value.byteLength;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value) bytes += payloadBytes(item) + 1;
    return bytes;
  }
  for (const [key, item] of Object.entries(value)) bytes += key.length + 4 + payloadBytes(item);
  return bytes;
}

/** The result of {@link Broker.subscribe}. */
export interface SubscribeOutcome {
  readonly subscription: Subscription;
  /** False when the session was already subscribed (same id returned, nothing else happens). */
  readonly added: boolean;
}

/** Subscriptions and publications of one realm. */
export class Broker {
  readonly #table = new UriTable<Subscription>();
  readonly #retained = new Map<string, RetainedEvent>();
  #retainedBytes = 0;

  constructor(
    private readonly ids: IdSequence,
    private readonly hooks: BrokerHooks,
    private readonly retention: RetentionLimits = { events: 10_000, bytes: 16 * 1024 * 1024 },
  ) {}

  /** Retained events held now, and the bytes they are charged (the bound's bookkeeping; tests read it). */
  get retainedSize(): { readonly events: number; readonly bytes: number } {
    return { events: this.#retained.size, bytes: this.#retainedBytes };
  }

  /**
   * Subscribes `peer` (uri and match already validated). `confirm` runs first (the realm sends SUBSCRIBED there),
   * then the hooks, so nothing a hook causes can overtake SUBSCRIBED.
   */
  subscribe(
    peer: Peer,
    uri: string,
    match: MatchPolicy,
    confirm: (subscription: Subscription) => void,
  ): SubscribeOutcome {
    let subscription = this.#table.lookup(uri, match);
    let created = false;
    if (!subscription) {
      subscription = new Subscription(this.ids.next(), uri, match);
      this.#table.add(subscription);
      created = true;
    }
    if (subscription.subscribers.has(peer)) {
      confirm(subscription);
      return { subscription, added: false };
    }
    subscription.subscribers.add(peer);
    confirm(subscription);
    if (created) this.hooks.onCreate(peer, subscription);
    this.hooks.onSubscribe(peer, subscription);
    return { subscription, added: true };
  }

  /** Sends the retained events matching `subscription` to `peer` (after its SUBSCRIBED). */
  sendRetained(peer: Peer, subscription: Subscription): void {
    const send = (topic: string, event: RetainedEvent) => {
      if (!isEligible(peer, event.options)) return;
      const details: Dict = { retained: true, ...event.publisherDetails };
      if (subscription.match !== 'exact') details.topic = topic;
      peer.send(Out.event(subscription.id, event.publication, details, event.payload));
    };
    if (subscription.match === 'exact') {
      const event = this.#retained.get(subscription.uri);
      if (event) send(subscription.uri, event);
      return;
    }
    for (const [topic, event] of this.#retained) {
      if (matches(subscription.uri, subscription.match, topic)) send(topic, event);
    }
  }

  /**
   * Removes `peer` from subscription `id`.
   * @throws WampError `wamp.error.no_such_subscription` when the session is not subscribed to it.
   */
  unsubscribe(peer: Peer, id: number): Subscription {
    const subscription = this.#table.get(id);
    if (!subscription?.subscribers.has(peer)) {
      throw new WampError(WampUri.noSuchSubscription);
    }
    this.#remove(peer, subscription);
    return subscription;
  }

  #remove(peer: Peer, subscription: Subscription): void {
    subscription.subscribers.delete(peer);
    this.hooks.onUnsubscribe(peer, subscription);
    if (subscription.subscribers.size === 0) {
      this.#table.delete(subscription);
      this.hooks.onDelete(peer, subscription);
    }
  }

  /** Drops every subscription of a leaving session. */
  removeSession(peer: Peer): void {
    for (const subscription of this.#table.all()) {
      if (subscription.subscribers.has(peer)) this.#remove(peer, subscription);
    }
  }

  /**
   * Publishes to `topic` (validated and authorized by the caller); `publisher` null for the router's own events.
   * `accept`, when given, is asked for every subscriber (`pattern`: reached through a prefix or wildcard
   * subscription) and filters on top of the options: the realm keeps router events on reserved topics from pattern
   * subscriptions that an exact subscription could not see. Returns the publication id.
   */
  publish(
    publisher: Peer | null,
    topic: string,
    options: PublishOptions,
    payload: Payload,
    accept?: (peer: Peer, pattern: boolean) => boolean,
  ): number {
    const publication = randomId();
    const publisherDetails: Dict =
      options.discloseMe && publisher
        ? {
            publisher: publisher.session,
            publisher_authid: publisher.authid,
            publisher_authrole: publisher.authrole,
          }
        : {};
    if (options.retain) {
      const bytes = topic.length + payloadBytes(payload.args ?? null) + payloadBytes(payload.kwargs ?? null);
      this.#retain(topic, { publication, options, publisherDetails, payload, bytes });
    }
    const deliver = (subscription: Subscription, pattern: boolean) => {
      let encoded: Map<string, string | Uint8Array> | undefined;
      for (const peer of subscription.subscribers) {
        if (peer === publisher && options.excludeMe) continue;
        if (!isEligible(peer, options)) continue;
        if (accept && !accept(peer, pattern)) continue;
        encoded ??= new Map();
        let data = encoded.get(peer.serializer.name);
        if (data === undefined) {
          const details = pattern ? { ...publisherDetails, topic } : publisherDetails;
          data = peer.serializer.encode(Out.event(subscription.id, publication, details, payload));
          encoded.set(peer.serializer.name, data);
        }
        peer.sendEncoded(data);
      }
    };
    const exact = this.#table.exact.get(topic);
    if (exact) deliver(exact, false);
    if (this.#table.prefix.size > 0) {
      for (const subscription of this.#table.prefix.values()) {
        if (topic.startsWith(subscription.uri)) deliver(subscription, true);
      }
    }
    if (this.#table.wildcard.size > 0) {
      const components = topic.split('.');
      for (const subscription of this.#table.wildcard.values()) {
        if (wildcardMatches(subscription.components, components)) deliver(subscription, true);
      }
    }
    return publication;
  }

  /**
   * Keeps `event` as the topic's retained event (replacing the previous one), then drops the oldest topics until
   * both bounds hold. An event larger than the whole byte bound is not kept (the topic then has none: the newer
   * publication still supersedes the older one).
   */
  #retain(topic: string, event: RetainedEvent): void {
    this.#unretain(topic);
    if (event.bytes > this.retention.bytes || this.retention.events < 1) return;
    this.#retained.set(topic, event);
    this.#retainedBytes += event.bytes;
    while (this.#retained.size > this.retention.events || this.#retainedBytes > this.retention.bytes) {
      const oldest = this.#retained.keys().next();
      if (oldest.done) break;
      this.#unretain(oldest.value);
    }
  }

  #unretain(topic: string): void {
    const previous = this.#retained.get(topic);
    if (!previous) return;
    this.#retained.delete(topic);
    this.#retainedBytes -= previous.bytes;
  }

  // ---- meta API ----------------------------------------------------------------------------------------------

  /** Subscription by id. */
  get(id: number): Subscription | undefined {
    return this.#table.get(id);
  }

  /** Ids of all subscriptions by match policy (`wamp.subscription.list`). */
  list(): Dict {
    return this.#table.ids();
  }

  /** The subscription of exactly (uri, match), or undefined (`wamp.subscription.lookup`). */
  lookup(uri: string, match: MatchPolicy): Subscription | undefined {
    return this.#table.lookup(uri, match);
  }

  /** All subscriptions a publication to `topic` would reach (`wamp.subscription.match`). */
  matching(topic: string): Subscription[] {
    const components = topic.split('.');
    return this.#table.all().filter((s) => s.matches(topic, components));
  }
}
