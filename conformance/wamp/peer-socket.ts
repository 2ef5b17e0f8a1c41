/**
 * The transport half of a raw WAMP test peer: one WebSocket, one of the three serializers (`serializers.ts`), an
 * ordered log of everything sent and received (undecodable frames and the close included), the inbox cases wait on,
 * and the transcript failures show. It sends whatever it is given. The WAMP conversations are client.ts's
 * `WampPeer`, which extends it.
 */
import WebSocket from 'ws';
import { Arrival, type CloseInfo } from '../support/arrival.js';
import { Inbox } from '../support/inbox.js';
import { describeMatch, isDict, type Match, render, toPredicate, type WampMessage } from './match.js';
import { MSG, messageName } from './messages.js';
import {
  type Serializer,
  type SerializerName,
  serializer,
  serializerOfProtocol,
  type WireKind,
  wireKinds,
} from './serializers.js';

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

/** Options of `WampPeer.open`. */
export interface PeerOptions {
  /** The serializer to speak (default json). */
  readonly serializer?: SerializerName;
  /** Subprotocols to offer (default: just the serializer's). */
  readonly protocols?: readonly string[];
  /** Default timeout of `next` and friends, ms (default 2000). */
  readonly timeoutMs?: number;
  /** A label for transcripts (`C1`, `callee`, …). */
  readonly label?: string;
}

/** A peer's socket, log and inbox; `WampPeer` (client.ts) adds the WAMP conversations. */
export class PeerSocket {
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

  readonly #ws: WebSocket;
  readonly #kinds = new WeakMap<WampMessage, readonly WireKind[]>();
  #seq = 0;
  #requestId = 0;
  readonly #closed = new Arrival<CloseInfo>();

  protected constructor(ws: WebSocket, fallback: Serializer, options: PeerOptions) {
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
   * `create` makes the peer (a subclass's constructor); frames that came before it existed are handed to it first.
   */
  protected static openWith<P extends PeerSocket>(
    url: string,
    options: PeerOptions,
    create: (ws: WebSocket, fallback: Serializer) => P,
  ): Promise<P> {
    const preferred = serializer(options.serializer ?? 'json');
    const protocols = [...(options.protocols ?? [preferred.protocol])];
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, protocols);
      ws.binaryType = 'nodebuffer';
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
        const peer = create(ws, preferred);
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
