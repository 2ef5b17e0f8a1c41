/**
 * A small client helper for pgrt publications over WAMP, for Autobahn|JS sessions (any object with Autobahn's
 * `id`, `call`, `subscribe` and `unsubscribe` works). It speaks the bridge's mapping (core-bridge.ts, README.md):
 * subscribes once per session to the private topic `pgrt.session.<id>`, calls `pgrt.subscribe`, and keeps the
 * session's merged view of the documents, one Map per collection, with fields EJSON-decoded (dates are Dates).
 *
 * ```ts
 * const sub = await subscribe(session, 'presentations');
 * await sub.ready;
 * sub.onChange(() => render([...sub.collection('presentations').values()]));
 * await sub.stop();
 * ```
 *
 * As with DDP, the view is the session's, not the subscription's: documents published by several subscriptions
 * appear once, and `collection()` of any subscription of a session shows the same Map.
 */
import { fromJSONValue } from '../../core/ejson.js';

/** The part of an Autobahn|JS session the helper uses. */
export interface WampSessionLike {
  readonly id: number;
  call(procedure: string, args?: unknown[], kwargs?: object, options?: object): PromiseLike<unknown>;
  subscribe(
    topic: string,
    handler: (args?: unknown, kwargs?: unknown, details?: unknown) => void,
    options?: object,
  ): PromiseLike<unknown>;
}

/** A document of the view: its fields, EJSON-decoded (`_id` not included). */
export type Document = Record<string, unknown>;

/** One change applied to the view. */
export type Change =
  | { readonly type: 'added'; readonly collection: string; readonly id: string; readonly fields: Document }
  | {
      readonly type: 'changed';
      readonly collection: string;
      readonly id: string;
      readonly fields: Document;
      readonly cleared: readonly string[];
    }
  | { readonly type: 'removed'; readonly collection: string; readonly id: string };

/** A publication error as sent in `nosub`: `{error, reason?, details?}` (Meteor.Error's fields). */
export interface PublicationError {
  readonly error: string | number;
  readonly reason?: string;
  readonly details?: unknown;
}

/** Raised by {@link LiveSubscription.ready} when the subscription ended with an error. */
export class SubscriptionError extends Error {
  override readonly name = 'SubscriptionError';
  constructor(readonly publicationError: PublicationError) {
    super(publicationError.reason ?? String(publicationError.error));
  }
}

/** A live subscription. */
export interface LiveSubscription {
  /** The bridge's subscription id. */
  readonly id: string;
  /** Resolves when the initial data is in the view; rejects with {@link SubscriptionError} on a failed start. */
  readonly ready: Promise<void>;
  /** Resolves when the subscription ended (`nosub`), with its error if any. */
  readonly stopped: Promise<PublicationError | undefined>;
  /** The session's documents of `collection` (live; do not mutate). */
  collection(name: string): ReadonlyMap<string, Document>;
  /** Calls `listener` after each change of the session's view; returns the unsubscribe function. */
  onChange(listener: (change: Change) => void): () => void;
  /** Stops the subscription (`pgrt.unsubscribe`); its documents leave the view unless another keeps them. */
  stop(): Promise<void>;
}

interface SubState {
  ready(): void;
  nosub(error: PublicationError | undefined): void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The data channel of one session: the private topic subscription and the merged view. */
class Channel {
  readonly view = new Map<string, Map<string, Document>>();
  readonly listeners = new Set<(change: Change) => void>();
  readonly subs = new Map<string, SubState>();
  /** ready/nosub seen before `pgrt.subscribe`'s RESULT was processed (they may overtake it). */
  readonly early = new Map<string, { ready?: true; nosub?: PublicationError | undefined }>();
  readonly opened: PromiseLike<unknown>;

  constructor(readonly session: WampSessionLike) {
    this.opened = session.subscribe(`pgrt.session.${session.id}`, (_args, kwargs) => {
      if (isRecord(kwargs)) this.#receive(kwargs);
    });
  }

  collection(name: string): Map<string, Document> {
    let docs = this.view.get(name);
    if (!docs) {
      docs = new Map();
      this.view.set(name, docs);
    }
    return docs;
  }

  #emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }

  #receive(message: Record<string, unknown>): void {
    const { msg, collection, id } = message;
    switch (msg) {
      case 'added':
      case 'changed':
      case 'removed': {
        if (typeof collection !== 'string' || typeof id !== 'string') return;
        const docs = this.collection(collection);
        if (msg === 'removed') {
          docs.delete(id);
          this.#emit({ type: 'removed', collection, id });
          return;
        }
        const fields = (isRecord(message.fields) ? fromJSONValue(message.fields) : {}) as Document;
        if (msg === 'added') {
          docs.set(id, { ...fields });
          this.#emit({ type: 'added', collection, id, fields });
          return;
        }
        const cleared = Array.isArray(message.cleared) ? message.cleared.map(String) : [];
        const doc = { ...(docs.get(id) ?? {}), ...fields };
        for (const key of cleared) delete doc[key];
        docs.set(id, doc);
        this.#emit({ type: 'changed', collection, id, fields, cleared });
        return;
      }
      case 'ready':
        for (const subId of Array.isArray(message.subs) ? message.subs : []) {
          const sub = this.subs.get(String(subId));
          if (sub) sub.ready();
          else this.early.set(String(subId), { ...this.early.get(String(subId)), ready: true });
        }
        return;
      case 'nosub': {
        const subId = String(message.sub);
        const error = isRecord(message.error) ? (message.error as unknown as PublicationError) : undefined;
        const sub = this.subs.get(subId);
        if (sub) sub.nosub(error);
        else this.early.set(subId, { ...this.early.get(subId), nosub: error });
        return;
      }
      default:
        return;
    }
  }
}

const channels = new WeakMap<WampSessionLike, Channel>();

/**
 * Subscribes to publication `name` with `params` over the pgrt bridge. Resolves once the bridge accepted the
 * subscription (its id is known); await `ready` for the initial data.
 */
export async function subscribe(
  session: WampSessionLike,
  name: string,
  ...params: unknown[]
): Promise<LiveSubscription> {
  let channel = channels.get(session);
  if (!channel) {
    channel = new Channel(session);
    channels.set(session, channel);
  }
  await channel.opened;
  const result = await session.call('pgrt.subscribe', [name, ...params]);
  const id = String(result);
  let resolveReady!: () => void;
  let rejectReady!: (error: unknown) => void;
  let resolveStopped!: (error: PublicationError | undefined) => void;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});
  const stopped = new Promise<PublicationError | undefined>((resolve) => {
    resolveStopped = resolve;
  });
  const state: SubState = {
    ready: resolveReady,
    nosub(error) {
      channel.subs.delete(id);
      if (error) rejectReady(new SubscriptionError(error));
      else rejectReady(new Error('subscription stopped before it was ready'));
      resolveStopped(error);
    },
  };
  channel.subs.set(id, state);
  const early = channel.early.get(id);
  if (early) {
    channel.early.delete(id);
    if (early.ready) state.ready();
    if ('nosub' in early) state.nosub(early.nosub);
  }
  const ch = channel;
  return {
    id,
    ready,
    stopped,
    collection: (collection) => ch.collection(collection),
    onChange(listener) {
      ch.listeners.add(listener);
      return () => ch.listeners.delete(listener);
    },
    async stop() {
      await session.call('pgrt.unsubscribe', [id]);
    },
  };
}
