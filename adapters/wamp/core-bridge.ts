/**
 * The bridge between a realm and the pgrt core (DESIGN.md decision 11, reference/wamp.md §5 Alternative B, prefix
 * form). One core {@link Session} per WAMP session, opened when it joins and closed when it leaves.
 *
 * Methods: every core method is an internal registration of the same name (so a client registering it gets
 * `procedure_already_exists`). CALL args are the method's positional params (EJSON-decoded: `{$date}` becomes a
 * Date, bytes stay bytes); kwargs are refused. The return value, EJSON-encoded to a JSON value, is `RESULT.args[0]`
 * (no args when undefined). RESULT is sent only after the method's `updated` (write fence), so the data events its
 * writes caused reached the session first. Errors: see to-wire-error.ts.
 *
 * Publications: each session has a private topic `pgrt.session.<id>`. Subscribing to it (exact match) opens the
 * data channel: the core's universal publications start. `pgrt.subscribe [name, ...params]` answers RESULT
 * `[subId]` first, then starts the subscription; `pgrt.unsubscribe [subId]` answers RESULT, then stops it. The
 * core session's merge box output goes to the private topic as EVENTs with kwargs only:
 * `{msg:'added', collection, id, fields}`, `{msg:'changed', collection, id, fields?, cleared?}`,
 * `{msg:'removed', collection, id}`, `{msg:'ready', subs}`, `{msg:'nosub', sub, error?}`. Field values are
 * EJSON-encoded to JSON values under every serializer. `pgrt.subscribe` before the private topic is subscribed
 * fails with `pgrt.error.no_session_topic`. Unsubscribing the private topic closes the data channel: the core
 * session is replaced by a fresh one (an empty merge box), so a later subscribe starts from a clean view.
 */

import type { ConnectionInfo, Fields } from '../../core/contexts.js';
import { fromJSONValue, toJSONValue } from '../../core/ejson.js';
import { isClientError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { MethodOutcome, Session, SessionOutput } from '../../core/session.js';
import { ACCOUNTS_AUTHPROVIDER } from './accounts-authentication.js';
import type { PublishOptions, Subscription } from './broker.js';
import { ReportedInternalError, WampError, WampUri } from './errors.js';
import { type Dict, isDict } from './messages.js';
import type { Peer } from './peer.js';
import { privateTopic, type Realm, type RealmListener } from './realm.js';
import type { InternalCall, InternalProcedure } from './registration.js';
import { toWireError } from './to-wire-error.js';
import { isValidUri } from './uri.js';

/** Procedure that starts a publication subscription. */
export const SUBSCRIBE_PROCEDURE = 'pgrt.subscribe';
/** Procedure that stops one. */
export const UNSUBSCRIBE_PROCEDURE = 'pgrt.unsubscribe';
/** Error of `pgrt.subscribe` when the caller has not subscribed to its private topic. */
export const NO_SESSION_TOPIC = 'pgrt.error.no_session_topic';

/**
 * Converts a WAMP argument to an EJSON value: binaries (native under msgpack/cbor) become `{$binary}` first, then
 * the whole value is EJSON-decoded.
 */
export function fromWampValue(value: unknown): unknown {
  return fromJSONValue(binariesToJson(value));
}

function binariesToJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $binary: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(binariesToJson);
  if (isDict(value)) {
    const out: Dict = {};
    for (const [k, v] of Object.entries(value)) out[k] = binariesToJson(v);
    return out;
  }
  return value;
}

interface PendingMethod {
  outcome?: MethodOutcome;
  settle(outcome: MethodOutcome): void;
}

/** One core session of a WAMP session, with its method calls in flight. */
class CoreChannel implements SessionOutput {
  readonly session: Session;
  readonly #pending = new Map<string, PendingMethod>();
  #retired = false;
  #nextMethod = 0;

  constructor(
    core: RealtimeCore,
    info: ConnectionInfo,
    private readonly emit: (kwargs: Dict) => void,
    userId: string | null,
    /** Ends the WAMP session (the server closes the connection: {@link closeConnection}). */
    private readonly kill: (message: string) => void,
  ) {
    this.session = core.openSession(info, this, userId);
  }

  /** Calls a core method; resolves with its outcome after its `updated`. */
  call(name: string, params: readonly unknown[]): Promise<MethodOutcome> {
    const methodId = String(++this.#nextMethod);
    return new Promise((resolve) => {
      this.#pending.set(methodId, { settle: resolve });
      void this.session.call(methodId, name, params).catch((error: unknown) => {
        this.#finish(methodId, { ok: false, error });
      });
    });
  }

  #finish(methodId: string, outcome: MethodOutcome): void {
    const pending = this.#pending.get(methodId);
    if (!pending) return;
    this.#pending.delete(methodId);
    pending.settle(outcome);
    if (this.#retired && this.#pending.size === 0) this.session.close();
  }

  /** Stops data output; closes the core session once no method is in flight. */
  retire(): void {
    this.#retired = true;
    if (this.#pending.size === 0) this.session.close();
  }

  /** Closes now; methods in flight fail (their caller is gone). */
  close(): void {
    this.#retired = true;
    this.session.close();
    for (const [id] of this.#pending) this.#finish(id, { ok: false, error: new WampError(WampUri.canceled) });
  }

  // ---- SessionOutput ---------------------------------------------------------------------------------------

  /** A revoked login ends the WAMP session: GOODBYE `wamp.close.killed` (as `wamp.session.kill` does). */
  closeConnection(reason: string): void {
    this.kill(reason);
  }

  added(collection: string, id: string, fields: Fields): void {
    if (!this.#retired) this.emit({ msg: 'added', collection, id, fields: toJSONValue(fields) as Dict });
  }

  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    if (this.#retired) return;
    const kwargs: Dict = { msg: 'changed', collection, id };
    if (Object.keys(fields).length > 0) kwargs.fields = toJSONValue(fields);
    if (cleared.length > 0) kwargs.cleared = [...cleared];
    this.emit(kwargs);
  }

  removed(collection: string, id: string): void {
    if (!this.#retired) this.emit({ msg: 'removed', collection, id });
  }

  subscriptionsReady(subIds: readonly string[]): void {
    if (!this.#retired) this.emit({ msg: 'ready', subs: [...subIds] });
  }

  subscriptionStopped(subId: string, error?: unknown): void {
    if (this.#retired) return;
    this.emit(
      error === undefined
        ? { msg: 'nosub', sub: subId }
        : { msg: 'nosub', sub: subId, error: toWireError(error).kwargs ?? {} },
    );
  }

  /** Kept until the writes are delivered: RESULT follows the data its writes caused. */
  methodResult(methodId: string, outcome: MethodOutcome): void {
    const pending = this.#pending.get(methodId);
    if (pending) pending.outcome = outcome;
  }

  writesDelivered(methodIds: readonly string[]): void {
    for (const id of methodIds) {
      const outcome = this.#pending.get(id)?.outcome;
      if (outcome) this.#finish(id, outcome);
    }
  }
}

/** The bridge state of one WAMP session. */
class BridgedSession {
  channel: CoreChannel;
  /** True while the session is subscribed (exact) to its private topic. */
  open = false;
  readonly topic: string;
  readonly #options: PublishOptions;

  constructor(
    private readonly core: RealtimeCore,
    private readonly realm: Realm,
    readonly peer: Peer,
    private readonly info: ConnectionInfo,
    private readonly logger: Logger,
  ) {
    this.topic = privateTopic(peer.session);
    this.#options = {
      acknowledge: false,
      excludeMe: false,
      discloseMe: false,
      retain: false,
      eligible: new Set([peer.session]),
    };
    // Authenticated against the accounts store: the core session runs as that user from the start.
    this.channel = this.#newChannel(peer.authprovider === ACCOUNTS_AUTHPROVIDER ? peer.authid : null);
  }

  /** A fresh core session for `userId`. */
  #newChannel(userId: string | null): CoreChannel {
    return new CoreChannel(
      this.core,
      this.info,
      (kwargs) => this.realm.publish(this.topic, { kwargs }, this.#options),
      userId,
      (message) => this.peer.kill(WampUri.killed, message),
    );
  }

  openChannel(): void {
    this.open = true;
    this.channel.session.startUniversal().catch((error: unknown) => {
      this.logger.error({ err: error, session: this.peer.session }, 'universal publications failed');
    });
  }

  closeChannel(): void {
    this.open = false;
    const userId = this.channel.session.userId; // the WAMP login's, or one a `login` call set since
    this.channel.retire();
    this.channel = this.#newChannel(userId);
  }

  subscribe(subId: string, name: string, params: readonly unknown[]): void {
    this.channel.session.subscribe(subId, name, params).catch((error: unknown) => {
      this.logger.error({ err: error, publication: name }, 'subscription failed');
    });
  }

  close(): void {
    this.channel.close();
  }
}

/** Bridges one realm to the core. */
export class CoreBridge implements RealmListener {
  readonly #sessions = new Map<Peer, BridgedSession>();

  constructor(
    private readonly core: RealtimeCore,
    private readonly realm: Realm,
    private readonly logger: Logger,
  ) {}

  /** Registers the core's methods and the publication procedures, and starts listening to the realm. */
  install(): void {
    for (const name of this.core.app.methods.keys()) {
      if (!isValidUri(name, 'loose')) {
        this.logger.warn(
          { method: name, realm: this.realm.name },
          'method name is not a WAMP URI: not callable',
        );
        continue;
      }
      if (!isValidUri(name, this.realm.settings.uriCheck)) {
        this.logger.warn(
          { method: name, realm: this.realm.name },
          'method name is not a strict WAMP URI: callable only on loose realms',
        );
      }
      this.#register(name, (call) => this.#callMethod(name, call));
    }
    this.#register(SUBSCRIBE_PROCEDURE, (call) => this.#subscribe(call));
    this.#register(UNSUBSCRIBE_PROCEDURE, (call) => this.#unsubscribe(call));
    this.realm.addListener(this);
  }

  #register(name: string, handler: InternalProcedure): void {
    this.realm.dealer.register({ kind: 'internal', name, handler }, name, 'exact', 'single');
  }

  #session(peer: Peer): BridgedSession {
    const session = this.#sessions.get(peer);
    if (!session) throw new WampError(WampUri.noSuchSession);
    return session;
  }

  async #callMethod(name: string, call: InternalCall): Promise<{ args: unknown[] } | undefined> {
    const session = this.#session(call.caller);
    if (call.kwargs && Object.keys(call.kwargs).length > 0) {
      throw new WampError(WampUri.invalidArgument, 'core methods take positional arguments only');
    }
    let params: unknown[];
    try {
      params = (call.args ?? []).map(fromWampValue);
    } catch (error) {
      throw new WampError(WampUri.invalidArgument, 'arguments are not valid EJSON', { cause: error });
    }
    const outcome = await session.channel.call(name, params);
    if (!outcome.ok) {
      // Client errors pass through; internal ones were logged by the core session.
      throw isClientError(outcome.error) || outcome.error instanceof WampError
        ? outcome.error
        : new ReportedInternalError('method failed', { cause: outcome.error });
    }
    return outcome.value === undefined ? undefined : { args: [toJSONValue(outcome.value)] };
  }

  #subscribe(call: InternalCall) {
    const session = this.#session(call.caller);
    const [name, ...rawParams] = call.args ?? [];
    if (typeof name !== 'string') {
      throw new WampError(WampUri.invalidArgument, `${SUBSCRIBE_PROCEDURE} takes [name, ...params]`);
    }
    if (!session.open) {
      throw new WampError(NO_SESSION_TOPIC, `subscribe to ${session.topic} first`);
    }
    let params: unknown[];
    try {
      params = rawParams.map(fromWampValue);
    } catch (error) {
      throw new WampError(WampUri.invalidArgument, 'arguments are not valid EJSON', { cause: error });
    }
    // Over the caps on live subscriptions: the CALL fails (ERROR pgrt.error.too_many_subscriptions).
    const refusal = session.channel.session.subscriptionRefusal();
    if (refusal) throw refusal;
    const subId = cryptoRandom.id();
    return { args: [subId], after: () => session.subscribe(subId, name, params) };
  }

  #unsubscribe(call: InternalCall) {
    const session = this.#session(call.caller);
    const subId = call.args?.[0];
    if (typeof subId !== 'string') {
      throw new WampError(WampUri.invalidArgument, `${UNSUBSCRIBE_PROCEDURE} takes [subId]`);
    }
    return { after: () => session.channel.session.unsubscribe(subId) };
  }

  // ---- RealmListener ---------------------------------------------------------------------------------------

  joined(peer: Peer): void {
    const info: ConnectionInfo = {
      id: String(peer.session),
      protocol: 'wamp',
      clientAddress: peer.remoteAddress,
      httpHeaders: peer.headers,
    };
    this.#sessions.set(peer, new BridgedSession(this.core, this.realm, peer, info, this.logger));
  }

  left(peer: Peer): void {
    this.#sessions.get(peer)?.close();
    this.#sessions.delete(peer);
  }

  subscribed(peer: Peer, subscription: Subscription): void {
    const session = this.#sessions.get(peer);
    if (session && !session.open && subscription.match === 'exact' && subscription.uri === session.topic) {
      session.openChannel();
    }
  }

  unsubscribed(peer: Peer, subscription: Subscription): void {
    const session = this.#sessions.get(peer);
    if (session?.open && subscription.match === 'exact' && subscription.uri === session.topic) {
      session.closeChannel();
    }
  }
}
