/**
 * A raw WAMP v2 test peer over `ws`, for the black-box router suite: no WAMP library, just a WebSocket, one of the
 * three serializers (`serializers.ts`) and literal message arrays. It sends whatever a case gives it (well-formed
 * messages, malformed values, raw frames), buffers every router message in arrival order, and lets a case wait
 * for the next message that matches a pattern. The whole exchange (sent, received, undecodable frames, close) is
 * kept in one ordered log, so a failed wait reports everything the peer saw.
 *
 * The helpers (`hello`, `subscribe`, `publish`, `register`, `call`, `yield`, …) number requests from one
 * sequential per-session counter (as Autobahn|JS and Wampy do) and return the router's reply; they never hide a
 * message other than the one they waited for.
 */
import type WebSocket from 'ws';
import { ANY, described, isDict, render, type WampMessage } from './match.js';
import { DEFAULT_ROLES, isId, MSG, messageName } from './messages.js';
import { type PeerOptions, PeerSocket } from './peer-socket.js';
import type { Serializer, WampDict, WampValue } from './serializers.js';

export type { CloseInfo } from '../support/arrival.js';
export * from './match.js';
export type { LogEntry, PeerOptions } from './peer-socket.js';

/** Options of {@link WampPeer.hello}. */
export interface HelloOptions {
  /** `Details.roles` (default {@link DEFAULT_ROLES}). */
  readonly roles?: WampDict;
  /** Further `Details` keys (`authmethods`, `authid`, unknown keys, …). */
  readonly details?: WampDict;
}

/** Thrown (with the transcript) when a helper's request gets an ERROR or an ABORT instead of its reply. */
export class WampReplyError extends Error {
  override readonly name = 'WampReplyError';
  constructor(
    message: string,
    /** The ERROR or ABORT received. */
    readonly reply: WampMessage,
  ) {
    super(message);
  }
}

/**
 * A WAMP peer that does nothing on its own. Open one with {@link WampPeer.open}; close it with
 * {@link WampPeer.close} (the runner closes every peer a case opened).
 */
export class WampPeer extends PeerSocket {
  /** `WELCOME.Details`, once joined. */
  welcome: WampDict = {};

  private constructor(ws: WebSocket, fallback: Serializer, options: PeerOptions) {
    super(ws, fallback, options);
  }

  /**
   * Opens a WebSocket to `url` offering the serializer's subprotocol (or `options.protocols`). Resolves once the
   * socket is open, sending nothing; rejects if the upgrade fails or the router accepts no offered subprotocol.
   */
  static open(url: string, options: PeerOptions = {}): Promise<WampPeer> {
    return PeerSocket.openWith(url, options, (ws, fallback) => new WampPeer(ws, fallback, options));
  }

  // ── WAMP conversations ──────────────────────────────────────────────────────────────────────────────────────

  /** Sends HELLO and resolves with WELCOME; throws a {@link WampReplyError} on ABORT. Sets {@link session}. */
  async hello(realm: string, options: HelloOptions = {}): Promise<WampMessage> {
    this.send([MSG.HELLO, realm, { roles: options.roles ?? DEFAULT_ROLES, ...options.details }]);
    const reply = await this.next(
      described(
        'WELCOME or ABORT',
        (m) => m[0] === MSG.WELCOME || m[0] === MSG.ABORT || m[0] === MSG.CHALLENGE,
      ),
    );
    if (reply[0] !== MSG.WELCOME) throw new WampReplyError(`HELLO refused: ${render(reply)}`, reply);
    const [, session, details] = reply;
    if (!isId(session)) throw this.failure(`WELCOME without a valid session id: ${render(reply)}`);
    this.session = session;
    this.welcome = isDict(details) ? details : {};
    return reply;
  }

  /** Sends a request and waits for its reply (`replyCode` with the same request id) or its ERROR. */
  async request(requestType: number, replyCode: number, message: readonly unknown[]): Promise<WampMessage> {
    const [, request] = message;
    this.send(message);
    return this.next(
      described(
        `${messageName(replyCode)} or ERROR for ${messageName(requestType)} request ${String(request)}`,
        (m) =>
          (m[0] === replyCode && m[1] === request) ||
          (m[0] === MSG.ERROR && m[1] === requestType && m[2] === request),
      ),
    );
  }

  /** Like {@link request}, but throws a {@link WampReplyError} when the reply is an ERROR. */
  async expectReply(
    requestType: number,
    replyCode: number,
    message: readonly unknown[],
  ): Promise<WampMessage> {
    const reply = await this.request(requestType, replyCode, message);
    if (reply[0] === MSG.ERROR) {
      throw new WampReplyError(
        `${messageName(requestType)} failed: ${render(reply)}\ntranscript:\n${this.transcript()}`,
        reply,
      );
    }
    return reply;
  }

  /** SUBSCRIBE; resolves with the subscription id (throws on ERROR). */
  async subscribe(topic: string, options: WampDict = {}): Promise<number> {
    const reply = await this.expectReply(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
      MSG.SUBSCRIBE,
      this.nextRequestId(),
      options,
      topic,
    ]);
    return idAt(this, reply, 2);
  }

  /** UNSUBSCRIBE; resolves with UNSUBSCRIBED or ERROR. */
  unsubscribe(subscription: number): Promise<WampMessage> {
    return this.request(MSG.UNSUBSCRIBE, MSG.UNSUBSCRIBED, [
      MSG.UNSUBSCRIBE,
      this.nextRequestId(),
      subscription,
    ]);
  }

  /** PUBLISH without acknowledgement (sends only). Returns the request id. */
  publish(topic: string, args?: WampValue[], kwargs?: WampDict, options: WampDict = {}): number {
    const request = this.nextRequestId();
    this.send(withPayload([MSG.PUBLISH, request, options, topic], args, kwargs));
    return request;
  }

  /** PUBLISH with `acknowledge: true`; resolves with PUBLISHED or ERROR. */
  publishAck(
    topic: string,
    args?: WampValue[],
    kwargs?: WampDict,
    options: WampDict = {},
  ): Promise<WampMessage> {
    const message = withPayload(
      [MSG.PUBLISH, this.nextRequestId(), { ...options, acknowledge: true }, topic],
      args,
      kwargs,
    );
    return this.request(MSG.PUBLISH, MSG.PUBLISHED, message);
  }

  /** REGISTER; resolves with the registration id (throws on ERROR). */
  async register(procedure: string, options: WampDict = {}): Promise<number> {
    const reply = await this.expectReply(MSG.REGISTER, MSG.REGISTERED, [
      MSG.REGISTER,
      this.nextRequestId(),
      options,
      procedure,
    ]);
    return idAt(this, reply, 2);
  }

  /** UNREGISTER; resolves with UNREGISTERED or ERROR. */
  unregister(registration: number): Promise<WampMessage> {
    return this.request(MSG.UNREGISTER, MSG.UNREGISTERED, [
      MSG.UNREGISTER,
      this.nextRequestId(),
      registration,
    ]);
  }

  /** Sends CALL without waiting; returns the request id. */
  sendCall(procedure: string, args?: WampValue[], kwargs?: WampDict, options: WampDict = {}): number {
    const request = this.nextRequestId();
    this.send(withPayload([MSG.CALL, request, options, procedure], args, kwargs));
    return request;
  }

  /** Waits for the final (non-progressive) RESULT or the ERROR of call `request`. */
  callOutcome(request: number, timeoutMs: number = this.timeoutMs): Promise<WampMessage> {
    return this.next(
      described(
        `final RESULT or ERROR for CALL ${request}`,
        (m) =>
          (m[0] === MSG.RESULT && m[1] === request && !(isDict(m[2]) && m[2].progress === true)) ||
          (m[0] === MSG.ERROR && m[1] === MSG.CALL && m[2] === request),
      ),
      timeoutMs,
    );
  }

  /** CALL; resolves with the final RESULT or the ERROR. */
  call(
    procedure: string,
    args?: WampValue[],
    kwargs?: WampDict,
    options: WampDict = {},
  ): Promise<WampMessage> {
    return this.callOutcome(this.sendCall(procedure, args, kwargs, options));
  }

  /** CALL that must succeed; resolves with RESULT's positional arguments (throws on ERROR). */
  async callArgs(procedure: string, args?: WampValue[], kwargs?: WampDict, options: WampDict = {}) {
    const reply = await this.call(procedure, args, kwargs, options);
    if (reply[0] !== MSG.RESULT) {
      throw new WampReplyError(
        `CALL ${procedure} failed: ${render(reply)}\ntranscript:\n${this.transcript()}`,
        reply,
      );
    }
    const args_ = reply[3];
    return Array.isArray(args_) ? args_ : [];
  }

  /** Waits for the next INVOCATION (optionally of one registration). */
  invocation(registration?: number, timeoutMs: number = this.timeoutMs): Promise<WampMessage> {
    return this.next(
      registration === undefined ? [MSG.INVOCATION] : [MSG.INVOCATION, ANY, registration],
      timeoutMs,
    );
  }

  /** YIELD for invocation `request`. */
  yield(request: number, args?: WampValue[], kwargs?: WampDict, options: WampDict = {}): void {
    this.send(withPayload([MSG.YIELD, request, options], args, kwargs));
  }

  /** ERROR for invocation `request`. */
  yieldError(request: number, error: string, args?: WampValue[], kwargs?: WampDict): void {
    this.send(withPayload([MSG.ERROR, MSG.INVOCATION, request, {}, error], args, kwargs));
  }

  /** GOODBYE; resolves with the router's GOODBYE reply. */
  async goodbye(reason = 'wamp.close.close_realm', details: WampDict = {}): Promise<WampMessage> {
    this.send([MSG.GOODBYE, details, reason]);
    return this.next([MSG.GOODBYE]);
  }
}

/** Appends Args and ArgumentsKw the way senders should: omitted when absent. */
function withPayload(
  message: unknown[],
  args: WampValue[] | undefined,
  kwargs: WampDict | undefined,
): unknown[] {
  if (kwargs !== undefined) return [...message, args ?? [], kwargs];
  if (args !== undefined) return [...message, args];
  return message;
}

function idAt(peer: WampPeer, message: WampMessage, index: number): number {
  const id = message[index];
  if (!isId(id)) throw peer.failure(`expected an id at position ${index} of ${render(message)}`);
  return id;
}
