/**
 * A raw-frame DDP test client over `ws`, for the black-box conformance suite. It speaks DDP over the raw
 * `/websocket` endpoint (no SockJS framing) or, opened with {@link DdpTestClient.openSockJs}, over SockJS through
 * npm `sockjs-client` (which removes the SockJS framing, so cases see the same DDP messages). It sends whatever the case gives it (objects or raw text), and buffers
 * every server message in arrival order so a case can wait for the next message that matches a pattern.
 *
 * Incoming frames are parsed with plain `JSON.parse`, never EJSON: cases compare the exact wire form.
 * Server `ping`s are answered with `pong` (echoing the id) and hidden from {@link DdpTestClient.next} unless a
 * case turns that off. The whole exchange (sent frames, received frames, close) is kept in one ordered log, so a
 * failed wait reports everything the client saw.
 */
import { isDeepStrictEqual } from 'node:util';
import SockJS from 'sockjs-client';
import WebSocket from 'ws';
import { Arrival, type CloseInfo } from '../support/arrival.js';
import { Inbox } from '../support/inbox.js';
import { DataStore } from './data-store.js';

export type { CloseInfo } from '../support/arrival.js';

/** Any JSON value, as it travels on the wire. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** A server message: a JSON object (whether it is a valid DDP message is for the cases to judge). */
export type DdpMessage = JsonObject;

/** A predicate over server messages, optionally carrying a description for failure messages. */
export type Predicate = ((message: DdpMessage) => boolean) & { description?: string };

/** Attaches a description (used in failure messages) to a predicate. */
export function described(description: string, predicate: (message: DdpMessage) => boolean): Predicate {
  return Object.assign(predicate, { description });
}

/**
 * What {@link DdpTestClient.next} waits for: a predicate, or a pattern object whose every key must be present in
 * the message with a deeply equal value (`{ msg: 'result', id: 'm1' }`).
 */
export type Match = Predicate | JsonObject;

/** One entry of a client's ordered log. `seq` orders entries across kinds. */
export type LogEntry =
  | { readonly kind: 'sent'; readonly seq: number; readonly at: number; readonly raw: string }
  | {
      readonly kind: 'message';
      readonly seq: number;
      readonly at: number;
      readonly raw: string;
      readonly message: DdpMessage;
    }
  /** A text frame that is not a JSON object (e.g. a SockJS `o` frame), or a binary frame. */
  | { readonly kind: 'frame'; readonly seq: number; readonly at: number; readonly raw: string }
  | {
      readonly kind: 'close';
      readonly seq: number;
      readonly at: number;
      readonly code: number;
      readonly reason: string;
    };

/** Options of {@link DdpTestClient.open}. */
export interface ClientOptions {
  /** Answer server `ping` with `pong` (echoing its id). Default true. */
  readonly autoPong?: boolean;
  /** Let server `ping`s through to {@link DdpTestClient.next}. Default false. */
  readonly showPings?: boolean;
  /** Default timeout of {@link DdpTestClient.next} and friends, in ms. Default 3000. */
  readonly timeoutMs?: number;
}

/** What the client needs of its socket, whichever library carries it. */
interface TestSocket {
  send(text: string): void;
  close(): void;
  /** Drops the connection without a close handshake. */
  terminate(): void;
}

/** Options of {@link DdpTestClient.openSockJs}. */
export interface SockJsClientOptions extends ClientOptions {
  /** SockJS transports to allow, in order (default `['websocket']`); e.g. `['xhr-polling']`. */
  readonly transports?: readonly string[];
}

/** Describes a match for error messages. */
export function describeMatch(match: Match | undefined): string {
  if (match === undefined) return 'any message';
  if (typeof match === 'function')
    return match.name ? `a message satisfying ${match.name}` : 'a matching message';
  return `a message like ${JSON.stringify(match)}`;
}

/** Turns a {@link Match} into a predicate. */
export function toPredicate(match: Match | undefined): Predicate {
  if (match === undefined) return () => true;
  if (typeof match === 'function') return match;
  const entries = Object.entries(match);
  return (message) =>
    entries.every(([key, value]) => key in message && isDeepStrictEqual(message[key], value));
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A DDP client that does nothing on its own except answer (and hide) server pings. Open one with
 * {@link DdpTestClient.open}; close it with {@link DdpTestClient.close} (the runner closes every client a case
 * opened).
 */
export class DdpTestClient {
  /** Everything sent and received, in order. */
  readonly log: LogEntry[] = [];
  /** Server messages not yet taken by {@link next} / {@link take}, in arrival order. */
  readonly #inbox = new Inbox<DdpMessage>((reason) => this.#failure(reason));
  /** Collections as the server described them so far, with protocol violations (added twice, …). */
  readonly store = new DataStore();
  /** Server `ping` messages received, in order (whether or not shown). */
  readonly serverPings: { readonly message: DdpMessage; readonly at: number }[] = [];
  /** Answer server pings with pong. */
  autoPong: boolean;
  /** Show server pings to {@link next}. */
  showPings: boolean;
  /** Default wait timeout, ms. */
  readonly timeoutMs: number;

  readonly #socket: TestSocket;
  readonly #welcome = new Arrival<DdpMessage>();
  readonly #seqByMessage = new WeakMap<DdpMessage, number>();
  #seq = 0;
  readonly #closed = new Arrival<CloseInfo>();
  #methodIds = 0;

  private constructor(socket: TestSocket, options: ClientOptions) {
    this.#socket = socket;
    this.autoPong = options.autoPong ?? true;
    this.showPings = options.showPings ?? false;
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  /**
   * Opens a SockJS session at `baseUrl` (e.g. `http://127.0.0.1:3000/sockjs`) with npm `sockjs-client`. Resolves
   * once the session is open (the `o` frame arrived); sends nothing. Rejects if it closes before opening.
   */
  static openSockJs(baseUrl: string, options: SockJsClientOptions = {}): Promise<DdpTestClient> {
    return new Promise((resolve, reject) => {
      const sock = new SockJS(baseUrl, null, { transports: [...(options.transports ?? ['websocket'])] });
      const client = new DdpTestClient(
        { send: (text) => sock.send(text), close: () => sock.close(), terminate: () => sock.close() },
        options,
      );
      let opened = false;
      sock.onopen = () => {
        opened = true;
        resolve(client);
      };
      sock.onmessage = (event) => client.#onText(String(event.data), false);
      sock.onclose = (event) => {
        if (!opened) reject(new Error(`cannot open SockJS ${baseUrl}: ${event.code} ${event.reason}`));
        client.#onClose(event.code, event.reason);
      };
    });
  }

  /**
   * Opens a WebSocket to `url` (e.g. `ws://127.0.0.1:3000/websocket`). Resolves once the socket is open; sends
   * nothing (over raw `/websocket` the client speaks first). Rejects if the upgrade fails.
   */
  static open(url: string, options: ClientOptions = {}): Promise<DdpTestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new DdpTestClient(ws, options);
      ws.on('message', (data, isBinary) => client.#onFrame(data, isBinary));
      ws.on('close', (code, reason) => client.#onClose(code, reason.toString()));
      ws.on('error', () => {
        // A socket error is followed by 'close'; the close entry in the log is what cases look at.
      });
      const onError = (error: Error): void => {
        ws.off('open', onOpen);
        reject(new Error(`cannot open ${url}: ${error.message}`, { cause: error }));
      };
      const onOpen = (): void => {
        ws.off('error', onError);
        resolve(client);
      };
      ws.once('error', onError);
      ws.once('open', onOpen);
    });
  }

  /** The server's first frame, if it was an object without `msg` (a legacy welcome); kept out of pending. */
  get welcome(): DdpMessage | undefined {
    return this.#welcome.value;
  }

  /** True until the socket has closed. */
  get isOpen(): boolean {
    return this.#closed.value === undefined;
  }

  /** How the socket closed, once it has. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closed.value;
  }

  /** Sends a message: an object is JSON-encoded, a string goes out as-is (for malformed-input cases). */
  send(message: JsonValue | string): void {
    const raw = typeof message === 'string' ? message : JSON.stringify(message);
    this.#record({ kind: 'sent', seq: ++this.#seq, at: performance.now(), raw });
    this.#socket.send(raw);
  }

  /** A fresh method id for this client (`m1`, `m2`, …). */
  nextMethodId(): string {
    this.#methodIds += 1;
    return `m${this.#methodIds}`;
  }

  /**
   * Resolves with the first buffered or future message that matches, removing it from {@link pending}; other
   * messages stay buffered. Rejects after `timeoutMs`, or when the socket closes first, with an error that lists
   * the messages seen.
   */
  next(match?: Match, timeoutMs: number = this.timeoutMs): Promise<DdpMessage> {
    return this.#inbox.next(toPredicate(match), describeMatch(match), timeoutMs);
  }

  /** Server messages not yet taken, in arrival order. */
  get pending(): DdpMessage[] {
    return this.#inbox.pending;
  }

  /** Removes and returns every buffered message that matches (no waiting). */
  take(match?: Match): DdpMessage[] {
    return this.#inbox.take(toPredicate(match));
  }

  /**
   * Waits `ms` and fails if a matching message is buffered by then (already-buffered ones count). Does not
   * consume anything.
   */
  async expectNone(match: Match | undefined, ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const matches = toPredicate(match);
    const found = this.pending.find(matches);
    if (found) throw this.#failure(`expected no ${describeMatch(match)}, got ${JSON.stringify(found)}`);
  }

  /** The current position in the log; pass it to {@link receivedAfter}. */
  mark(): number {
    return this.#seq;
  }

  /** Messages received after `mark` (taken or not), in arrival order; server pings excluded. */
  receivedAfter(mark: number, match?: Match): DdpMessage[] {
    const matches = toPredicate(match);
    const out: DdpMessage[] = [];
    for (const entry of this.log) {
      if (
        entry.kind === 'message' &&
        entry.seq > mark &&
        entry.message.msg !== 'ping' &&
        matches(entry.message)
      ) {
        out.push(entry.message);
      }
    }
    return out;
  }

  /** Arrival order of a received message (comparable with other entries' `seq`), or -1 if unknown. */
  seqOf(message: DdpMessage): number {
    return this.#seqByMessage.get(message) ?? -1;
  }

  /** Every message received so far (taken or not), in arrival order, pings included. */
  received(match?: Match): DdpMessage[] {
    const matches = toPredicate(match);
    const out: DdpMessage[] = [];
    for (const entry of this.log)
      if (entry.kind === 'message' && matches(entry.message)) out.push(entry.message);
    return out;
  }

  /**
   * Sends `connect` and waits for `connected`; returns the session id. Throws (with the messages seen) on
   * `failed` or on timeout. `extra` fields are merged into the connect message (e.g. `session`).
   */
  async connect(
    version = '1',
    support: readonly string[] = ['1', 'pre2', 'pre1'],
    extra: JsonObject = {},
  ): Promise<string> {
    this.send({ msg: 'connect', version, support: [...support], ...extra });
    const reply = await this.next((m) => m.msg === 'connected' || m.msg === 'failed');
    if (reply.msg !== 'connected') throw this.#failure(`connect refused: ${JSON.stringify(reply)}`);
    if (typeof reply.session !== 'string') throw this.#failure(`connected without a string session`);
    return reply.session;
  }

  /** Resolves when the server closes the socket; rejects after `timeoutMs` if it stays open. */
  waitClose(timeoutMs: number = this.timeoutMs): Promise<CloseInfo> {
    return this.#closed.wait(timeoutMs, () =>
      this.#failure(`timed out after ${timeoutMs} ms waiting for the server to close the socket`),
    );
  }

  /**
   * Resolves when the server's first message was a welcome object without `msg` (ddptest's `beforeEach` waited
   * for it); rejects after `timeoutMs`.
   */
  waitWelcome(timeoutMs: number = this.timeoutMs): Promise<DdpMessage> {
    return this.#welcome.wait(timeoutMs, () =>
      this.#failure(`timed out after ${timeoutMs} ms waiting for a server-first welcome frame`),
    );
  }

  /** Closes the socket and waits for it to close (terminating it if the close handshake stalls). */
  async close(): Promise<void> {
    if (this.#closed.value) return;
    this.#socket.close();
    try {
      await this.waitClose(1000);
    } catch {
      this.#socket.terminate();
      await this.waitClose(1000).catch(() => undefined);
    }
  }

  /** The log as readable lines (last `limit` entries), for failure messages. */
  transcript(limit = 40): string {
    const entries = this.log.slice(-limit);
    const lines = entries.map((entry) => {
      switch (entry.kind) {
        case 'sent':
          return `  → ${entry.raw}`;
        case 'message':
          return `  ← ${entry.raw}`;
        case 'frame':
          return `  ← (non-object frame) ${entry.raw}`;
        case 'close':
          return `  ✕ closed ${entry.code}${entry.reason ? ` ${entry.reason}` : ''}`;
        default: {
          const unreachable: never = entry;
          return String(unreachable);
        }
      }
    });
    const skipped = this.log.length - entries.length;
    return `${skipped > 0 ? `  … ${skipped} earlier entries\n` : ''}${lines.join('\n')}`;
  }

  #failure(text: string): Error {
    return new Error(`${text}\ntranscript:\n${this.transcript()}`);
  }

  #record(entry: LogEntry): void {
    this.log.push(entry);
  }

  #onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    const raw = Array.isArray(data)
      ? Buffer.concat(data).toString()
      : Buffer.from(data as ArrayBuffer).toString();
    this.#onText(raw, isBinary);
  }

  #onText(raw: string, isBinary: boolean): void {
    const at = performance.now();
    let parsed: unknown;
    try {
      parsed = isBinary ? undefined : JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!isJsonObject(parsed)) {
      this.#record({ kind: 'frame', seq: ++this.#seq, at, raw });
      return;
    }
    const message = parsed;
    const seq = ++this.#seq;
    this.#record({ kind: 'message', seq, at, raw, message });
    this.#seqByMessage.set(message, seq);
    if (seq === this.#firstReceivedSeq() && !('msg' in message)) {
      // DDP.md: a server may open with an object lacking `msg` (legacy `{"server_id":"0"}`); clients ignore it.
      this.#welcome.arrive(message);
      return;
    }
    if (message.msg === 'ping') {
      this.serverPings.push({ message, at });
      if (this.autoPong)
        this.send(message.id === undefined ? { msg: 'pong' } : { msg: 'pong', id: message.id });
      if (!this.showPings) return;
    }
    if (message.msg === 'added' || message.msg === 'changed' || message.msg === 'removed')
      this.store.apply(message);
    this.#inbox.push(message);
  }

  #firstReceivedSeq(): number {
    return this.log.find((entry) => entry.kind !== 'sent')?.seq ?? -1;
  }

  #onClose(code: number, reason: string): void {
    const at = performance.now();
    this.#record({ kind: 'close', seq: ++this.#seq, at, code, reason });
    this.#inbox.close(`socket closed (code ${code})`);
    this.#closed.arrive({ code, reason, at });
  }
}
