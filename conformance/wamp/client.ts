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
import { isDeepStrictEqual } from 'node:util';
import WebSocket from 'ws';
import { Arrival, type CloseInfo } from '../support/arrival.js';
import { Inbox } from '../support/inbox.js';
import { DEFAULT_ROLES, isId, MSG, messageName } from './messages.js';
import {
  type Serializer,
  type SerializerName,
  serializer,
  serializerOfProtocol,
  type WampDict,
  type WampValue,
  type WireKind,
  wireKinds,
} from './serializers.js';

export type { CloseInfo } from '../support/arrival.js';

/** A decoded router message: a list whose first element should be a type code (cases judge the rest). */
export type WampMessage = WampValue[];

/** Matches anything at its position in an array {@link Match} pattern. */
export const ANY: unique symbol = Symbol('any');

/** A predicate over router messages, optionally carrying a description for failure messages. */
export type Predicate = ((message: WampMessage) => boolean) & { description?: string };

/**
 * What {@link WampPeer.next} waits for: a predicate, or an array pattern matched against the message's leading
 * elements (`[MSG.EVENT, subId]`; {@link ANY} matches any value; longer messages still match).
 */
export type Match = Predicate | readonly (WampValue | typeof ANY)[];

/** Attaches a description (used in failure messages) to a predicate. */
export function described(description: string, predicate: (message: WampMessage) => boolean): Predicate {
  return Object.assign(predicate, { description });
}

/** Describes a match for failure messages. */
export function describeMatch(match: Match | undefined): string {
  if (match === undefined) return 'any message';
  if (typeof match === 'function') return match.description ?? 'a matching message';
  const [code, ...rest] = match;
  const shown = rest.map((item) => (item === ANY ? '*' : render(item)));
  return `${messageName(code)} [${[String(code), ...shown].join(',')}…]`;
}

/** Turns a {@link Match} into a predicate. */
export function toPredicate(match: Match | undefined): Predicate {
  if (match === undefined) return () => true;
  if (typeof match === 'function') return match;
  return (message) =>
    match.every(
      (expected, i) => expected === ANY || (i < message.length && isDeepStrictEqual(message[i], expected)),
    );
}

/** Renders a value compactly for transcripts: JSON, with bytes as `<bytes 0102…>`. */
export function render(value: unknown): string {
  return (
    JSON.stringify(value, (_key, item: unknown) => {
      if (item instanceof Uint8Array) return `<bytes ${Buffer.from(item).toString('hex')}>`;
      if (typeof item === 'bigint') return `${item}n`;
      if (item === undefined) return '<undefined>';
      return item;
    }) ?? String(value)
  );
}

/** One entry of a peer's ordered log. `seq` orders entries across kinds. */
export type LogEntry =
  | { readonly kind: 'sent'; readonly seq: number; readonly at: number; readonly text: string }
  | {
      readonly kind: 'message';
      readonly seq: number;
      readonly at: number;
      readonly message: WampMessage;
      readonly binary: boolean;
      /** Raw kinds of the leading scalar elements (see {@link wireKinds}). */
      readonly kinds: readonly WireKind[];
    }
  /** A frame that did not decode to a list (or came in the wrong frame type, noted in `text`). */
  | { readonly kind: 'frame'; readonly seq: number; readonly at: number; readonly text: string }
  | {
      readonly kind: 'close';
      readonly seq: number;
      readonly at: number;
      readonly code: number;
      readonly reason: string;
    };

/** Options of {@link WampPeer.open}. */
export interface PeerOptions {
  /** The serializer to speak (default json). */
  readonly serializer?: SerializerName;
  /** Subprotocols to offer (default: just the serializer's). */
  readonly protocols?: readonly string[];
  /** Default timeout of {@link WampPeer.next} and friends, ms (default 2000). */
  readonly timeoutMs?: number;
  /** A label for transcripts (`C1`, `callee`, …). */
  readonly label?: string;
}

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
export class WampPeer {
  /** Everything sent and received, in order. */
  readonly log: LogEntry[] = [];
  /** Router messages not yet taken by {@link next} / {@link take}, in arrival order. */
  readonly #inbox = new Inbox<WampMessage>((reason) => this.failure(reason));
  /** The serializer in use: the one the router accepted (or the requested one if none was). */
  readonly serializer: Serializer;
  /** The subprotocol the router accepted ('' if none). */
  readonly protocol: string;
  /** Default wait timeout, ms. */
  readonly timeoutMs: number;
  /** Transcript label. */
  readonly label: string;
  /** The session id from WELCOME, once joined. */
  session = 0;
  /** `WELCOME.Details`, once joined. */
  welcome: WampDict = {};

  readonly #ws: WebSocket;
  readonly #kinds = new WeakMap<WampMessage, readonly WireKind[]>();
  #seq = 0;
  #requestId = 0;
  readonly #closed = new Arrival<CloseInfo>();

  private constructor(ws: WebSocket, fallback: Serializer, options: PeerOptions) {
    this.#ws = ws;
    this.protocol = ws.protocol;
    this.serializer = serializerOfProtocol(ws.protocol) ?? fallback;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.label = options.label ?? 'peer';
    ws.on('message', (data, isBinary) => this.#onFrame(data, isBinary));
    ws.on('close', (code, reason) => this.#onClose(code, reason.toString()));
    ws.on('error', () => {
      // A socket error is followed by 'close'; the close entry in the log is what cases look at.
    });
  }

  /**
   * Opens a WebSocket to `url` offering the serializer's subprotocol (or `options.protocols`). Resolves once the
   * socket is open, sending nothing; rejects if the upgrade fails or the router accepts no offered subprotocol.
   */
  static open(url: string, options: PeerOptions = {}): Promise<WampPeer> {
    const preferred = serializer(options.serializer ?? 'json');
    const protocols = [...(options.protocols ?? [preferred.protocol])];
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      ws.binaryType = 'nodebuffer';
      let peer: WampPeer | undefined;
      const early: [WebSocket.RawData, boolean][] = [];
      const onEarly = (data: WebSocket.RawData, isBinary: boolean): void => {
        early.push([data, isBinary]);
      };
      const onError = (error: Error): void => {
        ws.off('open', onOpen);
        ws.off('message', onEarly);
        reject(new Error(`cannot open ${url} (${protocols.join(', ')}): ${error.message}`, { cause: error }));
      };
      const onOpen = (): void => {
        ws.off('error', onError);
        ws.off('message', onEarly);
        peer = new WampPeer(ws, preferred, options);
        for (const [data, isBinary] of early) peer.#onFrame(data, isBinary);
        resolve(peer);
      };
      ws.on('message', onEarly);
      ws.once('error', onError);
      ws.once('open', onOpen);
    });
  }

  /** True until the socket has closed. */
  get isOpen(): boolean {
    return this.#closed.value === undefined;
  }

  /** How the socket closed, once it has. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closed.value;
  }

  /** Sends one message, encoded with the peer's serializer (any value: cases also send malformed ones). */
  send(message: readonly unknown[] | unknown): void {
    const data = this.serializer.encode(message);
    this.#record({ kind: 'sent', seq: ++this.#seq, at: performance.now(), text: renderSent(message) });
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(data, { binary: this.serializer.binary });
  }

  /** Sends a raw frame as is: text or binary, whatever the serializer. */
  sendFrame(data: string | Uint8Array, binary: boolean): void {
    const shown =
      typeof data === 'string' ? JSON.stringify(data) : `<bytes ${Buffer.from(data).toString('hex')}>`;
    this.#record({
      kind: 'sent',
      seq: ++this.#seq,
      at: performance.now(),
      text: `(raw ${binary ? 'binary' : 'text'}) ${shown}`,
    });
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(data, { binary });
  }

  /** The next request id of this session's sequential counter (1, 2, …). */
  nextRequestId(): number {
    this.#requestId += 1;
    return this.#requestId;
  }

  /**
   * Resolves with the first buffered or future message that matches, removing it from {@link pending}; other
   * messages stay buffered. Rejects after `timeoutMs`, or when the socket closes first, with the transcript.
   */
  next(match?: Match, timeoutMs: number = this.timeoutMs): Promise<WampMessage> {
    return this.#inbox.next(toPredicate(match), describeMatch(match), timeoutMs);
  }

  /** Router messages not yet taken, in arrival order. */
  get pending(): WampMessage[] {
    return this.#inbox.pending;
  }

  /** Removes and returns the first buffered message that matches, if any (no waiting). */
  takeFirst(match?: Match): WampMessage | undefined {
    const index = this.pending.findIndex(toPredicate(match));
    return index >= 0 ? this.pending.splice(index, 1)[0] : undefined;
  }

  /** Removes and returns every buffered message that matches (no waiting). */
  take(match?: Match): WampMessage[] {
    return this.#inbox.take(toPredicate(match));
  }

  /** Fails (with the transcript) if a matching message is buffered now. Does not consume anything. */
  assertNone(match: Match | undefined, what = describeMatch(match)): void {
    const found = this.pending.find(toPredicate(match));
    if (found) throw this.failure(`expected no ${what}, got ${render(found)}`);
  }

  /** Waits `ms`, then {@link assertNone}. Prefer a barrier (an ordered marker message) where one exists. */
  async expectNone(match: Match | undefined, ms: number, what = describeMatch(match)): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    this.assertNone(match, what);
  }

  /** Every message received so far (taken or not), in arrival order. */
  received(match?: Match): WampMessage[] {
    const matches = toPredicate(match);
    const out: WampMessage[] = [];
    for (const entry of this.log)
      if (entry.kind === 'message' && matches(entry.message)) out.push(entry.message);
    return out;
  }

  /** Raw kinds of a received message's leading scalar elements (see {@link wireKinds}). */
  kindsOf(message: WampMessage): readonly WireKind[] {
    return this.#kinds.get(message) ?? [];
  }

  /** Frames that did not decode to a message, as logged. */
  undecodedFrames(): string[] {
    return this.log.flatMap((entry) => (entry.kind === 'frame' ? [entry.text] : []));
  }

  /** Resolves when the router closes the socket; rejects after `timeoutMs` if it stays open. */
  waitClose(timeoutMs: number = this.timeoutMs): Promise<CloseInfo> {
    return this.#closed.wait(timeoutMs, () =>
      this.failure(`timed out after ${timeoutMs} ms waiting for the router to close the socket`),
    );
  }

  /** Closes the socket and waits for it to close (terminating it if the close handshake stalls). */
  async close(): Promise<void> {
    if (this.#closed.value) return;
    this.#ws.close();
    try {
      await this.waitClose(500);
    } catch {
      this.terminate();
      await this.waitClose(500).catch(() => undefined);
    }
  }

  /** Drops the TCP connection at once, without a WebSocket close handshake (a "transport drop"). */
  terminate(): void {
    this.#ws.terminate();
  }

  /** An Error whose message is `text` followed by this peer's transcript. */
  failure(text: string): Error {
    return new Error(`${text}\ntranscript:\n${this.transcript()}`);
  }

  /** The log as readable lines (last `limit` entries), for failure messages. */
  transcript(limit = 30): string {
    const entries = this.log.slice(-limit);
    const lines = entries.map((entry) => {
      switch (entry.kind) {
        case 'sent':
          return `  → ${entry.text}`;
        case 'message':
          return `  ← ${messageName(entry.message[0])} ${render(entry.message)}${entry.binary === this.serializer.binary ? '' : ` (${entry.binary ? 'binary' : 'text'} frame)`}`;
        case 'frame':
          return `  ← (undecoded) ${entry.text}`;
        case 'close':
          return `  ✕ closed ${entry.code}${entry.reason ? ` ${entry.reason}` : ''}`;
        default: {
          const unreachable: never = entry;
          return String(unreachable);
        }
      }
    });
    const skipped = this.log.length - entries.length;
    const head = `  [${this.label} ${this.serializer.name}${this.session ? ` session ${this.session}` : ''}]`;
    return `${head}\n${skipped > 0 ? `  … ${skipped} earlier entries\n` : ''}${lines.join('\n')}`;
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

  #record(entry: LogEntry): void {
    this.log.push(entry);
  }

  #onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    const at = performance.now();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const payload = this.serializer.binary ? new Uint8Array(bytes) : bytes.toString();
    let decoded: unknown;
    try {
      decoded = this.serializer.decode(payload);
    } catch (error) {
      const text = isBinary
        ? `<bytes ${bytes.toString('hex').slice(0, 200)}>`
        : JSON.stringify(bytes.toString());
      this.#record({ kind: 'frame', seq: ++this.#seq, at, text: `${text} (${String(error)})` });
      return;
    }
    if (!Array.isArray(decoded)) {
      this.#record({ kind: 'frame', seq: ++this.#seq, at, text: `not a list: ${render(decoded)}` });
      return;
    }
    const message = decoded as WampMessage;
    const kinds = wireKinds(this.serializer.name, payload);
    this.#kinds.set(message, kinds);
    this.#record({ kind: 'message', seq: ++this.#seq, at, message, binary: isBinary, kinds });
    this.#inbox.push(message);
  }

  #onClose(code: number, reason: string): void {
    const at = performance.now();
    this.#record({ kind: 'close', seq: ++this.#seq, at, code, reason });
    this.#inbox.close(`socket closed (code ${code})`);
    this.#closed.arrive({ code, reason, at });
  }
}

/** Renders a sent message; HELLO's roles are shortened to their names (the features are always the same). */
function renderSent(message: unknown): string {
  if (Array.isArray(message) && message[0] === MSG.HELLO && isDict(message[2]) && isDict(message[2].roles)) {
    const roles = Object.keys(message[2].roles).join(',');
    return render([message[0], message[1], { ...message[2], roles: `<${roles}>` }, ...message.slice(3)]);
  }
  return render(message);
}

/** True for a WAMP dict (a plain object, not a list or bytes). */
export function isDict(value: unknown): value is WampDict {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
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
