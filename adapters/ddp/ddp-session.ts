/**
 * One DDP session: a core {@link Session}, the in-order queue of its client's messages, and its output — counted
 * and logged for resumption (resumption.ts) and written to whichever socket currently carries the session.
 *
 * A session outlives its socket when the socket drops ungracefully: it is then *detached* (output is buffered in
 * the log, queued messages keep being processed) and parked for the grace period; a `connect` with its id and a
 * matching `receivedCount` attaches it to the new socket, which first gets `connected` and then every message the
 * client lacks, in order, before anything new (all synchronously, so nothing can slip in between). A detached
 * session whose log had to forget a message sent since the drop (more than `maxMessageQueueLength` messages or
 * `maxMessageQueueBytes` bytes, or one frame larger than that) cannot be resumed any more and ends at once.
 *
 * Sockets are owned by {@link DdpConnection}; this class never closes one.
 */
import type { Connection } from '../../core/connection.js';
import type { ConnectionInfo, Fields } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { MethodOutcome, Session, SessionOutput } from '../../core/session.js';
import type { CoalescedWriter, WriteCoalescer } from '../../transports/write-coalescer.js';
import type { ClientMessage } from './client-messages.js';
import { encodeServerMessage, type ServerMessage } from './ddp-codec.js';
import { OutboundLog, type ParkedSessions, type Resumable } from './resumption.js';
import { toWireError } from './to-wire-error.js';

/** The messages a session processes in order, one at a time. */
export type QueuedMessage = Extract<ClientMessage, { msg: 'sub' | 'unsub' | 'method' | 'malformed' }>;

/** What every DDP session of an adapter shares, in one object: settings from the adapter's options, and parts. */
export interface DdpSessionSettings {
  readonly logger: Logger;
  /**
   * Frames kept for replay, and the most messages a detached session may buffer before it is ended (Meteor's
   * `maxMessageQueueLength`).
   */
  readonly maxMessageQueueLength: number;
  /**
   * Bytes (UTF-8) of frames kept for replay: older frames are forgotten to stay under it; a detached session
   * whose log forgets a frame sent since the drop is ended.
   */
  readonly maxMessageQueueBytes: number;
  /**
   * Bytes of client messages waiting for their turn (behind a slow method) before the session stops reading its
   * socket until the queue has drained; a transport that cannot pause is closed instead (1009).
   */
  readonly maxInboundQueueBytes: number;
  /** Holds each socket's frames for a short window and writes them together; undefined: one write per frame. */
  readonly coalescer: WriteCoalescer | undefined;
  /** Sessions waiting out their grace period; undefined disables resumption (sessions then keep no log). */
  readonly parked: ParkedSessions<DdpSession> | undefined;
}

/**
 * A DDP session, attached to a socket or waiting for its client to come back. Its helpers are TypeScript-`private`,
 * not `#` methods: V8 stores a class brand in every instance of a class with `#` methods or accessors (8 bytes per
 * connection; issue 16).
 */
export class DdpSession implements SessionOutput, Resumable, CoalescedWriter {
  readonly session: Session;
  /**
   * Counted output, for resumption: made when the session sends its second message. Until then the session
   * has sent only its opening `connected`, which is never replayed, so an idle session keeps no log.
   */
  #log: OutboundLog | undefined;
  readonly #settings: DdpSessionSettings;
  /** Client messages waiting for their turn, while the session processes them (made for each busy spell). */
  #inbound: InboundQueue | undefined;
  #socket: Connection | undefined;
  /** While detached: the count when the socket dropped (every message after it must stay kept). */
  #detachedAt = 0;
  #onOverflow: (() => void) | undefined;
  /** The socket this session corked for the coalescer's current window (uncorked by {@link releaseCork}). */
  #corked: Connection | undefined;
  /**
   * A session taken over from another process while it is being restored: its output (counted and logged) is held
   * here and written after its `connected` by {@link release}.
   */
  #held: string[] | undefined;

  /**
   * Opens a new session on `socket`: sends `connected` (message 1) and starts the universal publications.
   * `info.id` is the session id. With `takenOverAt` (the count of a client whose session another process handed
   * off), the session sends nothing yet: it counts on from that count, holds its output while the caller restores
   * it (`session.restore`), and {@link release} then writes `connected` and that output.
   */
  constructor(
    core: RealtimeCore,
    info: ConnectionInfo,
    socket: Connection,
    settings: DdpSessionSettings,
    takenOverAt?: number,
  ) {
    this.#settings = settings;
    this.session = core.openSession(info, this);
    if (takenOverAt !== undefined) {
      this.#log = new OutboundLog(settings.maxMessageQueueLength, settings.maxMessageQueueBytes, takenOverAt);
      this.#log.recordConnected();
      this.#held = [];
      return;
    }
    this.#socket = socket;
    // Message 1: counted when the log is made (#logged).
    this.write(socket, encodeServerMessage({ msg: 'connected', session: this.id }));
    void this.session.startUniversal().catch((error: unknown) => {
      settings.logger.error({ err: error, session: this.id }, 'universal publications failed');
    });
  }

  /** The session id (the core session's connection id). */
  get id(): string {
    return this.session.connection.id;
  }

  /** True once the session ended (by the client, the grace timer, an overflow, or shutdown). */
  get ended(): boolean {
    return this.session.closed;
  }

  /** True while a socket carries the session. */
  get attached(): boolean {
    return this.#socket !== undefined;
  }

  /** Messages counted so far (see resumption.ts); only counted while resumption is enabled. */
  get sentCount(): number {
    return this.#log?.sent ?? 1;
  }

  // ---- lifecycle -------------------------------------------------------------------------------------------

  /**
   * The socket dropped ungracefully: buffer output from now on. `onOverflow` runs (once) if more than
   * `maxMessageQueueLength` messages or `maxMessageQueueBytes` bytes pile up before a resumption; the session
   * has ended by then.
   */
  detach(onOverflow: () => void): void {
    this.#socket = undefined;
    if (this.#inbound) this.#inbound.paused = undefined;
    this.#detachedAt = this.sentCount;
    this.#onOverflow = onOverflow;
  }

  /**
   * Attaches the session to `socket` for a client that received `receivedCount` messages: sends `connected`
   * with the same session id, then every message the client lacks, in order. Returns false (changing nothing)
   * if that is impossible: the session ended, is attached, or the count is not one it can serve.
   */
  resume(socket: Connection, receivedCount: number): boolean {
    if (this.ended || this.#socket) return false;
    const lacking = this.logged().resume(receivedCount);
    if (!lacking) return false;
    const connected = encodeServerMessage({ msg: 'connected', session: this.id });
    this.#socket = socket;
    this.#onOverflow = undefined;
    this.write(socket, connected);
    for (const text of lacking) this.write(socket, text);
    this.holdBackIfFull();
    this.#settings.logger.debug(
      { session: this.id, receivedCount, replayed: lacking.length },
      'DDP session resumed',
    );
    return true;
  }

  /**
   * Ends holding the output of a session taken over from another process: with `socket`, writes `connected` (the
   * same session id) and the held output to it, and attaches the session; without, leaves the session detached
   * (its output stays in the log, for a resumption).
   */
  release(socket: Connection | undefined): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    if (!socket || this.ended) return;
    this.#socket = socket;
    this.write(socket, encodeServerMessage({ msg: 'connected', session: this.id }));
    for (const text of held) this.write(socket, text);
    this.holdBackIfFull();
  }

  /**
   * The server closes the connection (a revoked login): the socket closes after what is queued for it, and the
   * session ends at once rather than waiting for a resumption. A Meteor client reconnects with a new session
   * and its `resume` login fails ("You've been logged out by the server"), as against Meteor's own server.
   */
  closeConnection(reason: string): void {
    const socket = this.#socket;
    this.#settings.logger.debug({ session: this.id, reason }, 'DDP connection closed by the server');
    this.releaseCork();
    this.end();
    socket?.close(1000, reason);
  }

  /** Ends the session for good: subscriptions stop, queued messages are dropped, nothing more is sent. */
  end(): void {
    this.#socket = undefined;
    this.#onOverflow = undefined;
    this.#inbound = undefined;
    this.session.close();
  }

  // ---- inbound: strictly in order, one at a time unless a method unblocks ------------------------------------

  /**
   * Queues a client message (`connect`, `ping`, `pong` and `disconnect` are the connection's) of `bytes` bytes
   * as received. Past `maxInboundQueueBytes` waiting, the socket is paused until the queue has drained.
   */
  enqueue(message: QueuedMessage, bytes = 0): void {
    if (this.ended) return;
    const busy = this.#inbound;
    const inbound = busy ?? new InboundQueue();
    this.#inbound = inbound;
    inbound.messages.push(message);
    inbound.sizes.push(bytes);
    inbound.bytes += bytes;
    this.holdBackIfFull();
    if (busy === undefined) {
      this.drain(inbound).catch((error: unknown) => {
        this.#settings.logger.error({ err: error }, 'DDP message processing failed');
      });
    }
  }

  /** Processes `inbound`'s messages until none is left; the session is idle again then (or ended). */
  private async drain(inbound: InboundQueue): Promise<void> {
    try {
      while (!this.ended) {
        const message = inbound.messages.shift();
        if (message === undefined) break;
        inbound.bytes -= inbound.sizes.shift() ?? 0;
        if (inbound.paused && inbound.bytes <= this.#settings.maxInboundQueueBytes / 2)
          this.readAgain(inbound);
        await this.process(message);
      }
    } finally {
      if (this.#inbound === inbound) this.#inbound = undefined;
    }
  }

  /** Too much waits in the queue: stop reading the client (or close a transport that cannot pause). */
  private holdBackIfFull(): void {
    const socket = this.#socket;
    const inbound = this.#inbound;
    if (
      !socket ||
      !inbound ||
      inbound.paused === socket ||
      inbound.bytes <= this.#settings.maxInboundQueueBytes
    )
      return;
    if (socket.pause) {
      inbound.paused = socket;
      socket.pause();
      this.#settings.logger.debug(
        { session: this.id, bytes: inbound.bytes },
        'DDP inbound queue full: paused',
      );
    } else {
      this.#settings.logger.debug(
        { session: this.id, bytes: inbound.bytes },
        'DDP inbound queue full: closed',
      );
      this.closeConnection('inbound queue full');
    }
  }

  private readAgain(inbound: InboundQueue): void {
    const socket = inbound.paused;
    inbound.paused = undefined;
    if (socket === this.#socket) socket?.resume?.();
  }

  /** Processes one queued message; resolves when the next one may start. */
  private async process(message: QueuedMessage): Promise<void> {
    const session = this.session;
    switch (message.msg) {
      case 'sub':
        await session.subscribe(message.id, message.name, message.params);
        return;
      case 'unsub':
        // Meteor does not check the id: whatever it names is stopped, and echoed in `nosub`.
        session.unsubscribe(message.id as string);
        return;
      case 'method': {
        let unblock: () => void = () => {};
        const unblocked = new Promise<void>((resolve) => {
          unblock = resolve;
        });
        const done = session.call(message.id, message.method, message.params, {
          randomSeed: message.randomSeed,
          onUnblock: unblock,
        });
        await Promise.race([done, unblocked]);
        return;
      }
      case 'malformed':
        this.sendError(message.reason, message.offending);
        return;
      default:
        unreachable(message);
    }
  }

  // ---- outbound --------------------------------------------------------------------------------------------

  /** Sends `ping`/`pong`: not counted, not kept; dropped while detached. */
  sendUncounted(message: ServerMessage & { msg: 'ping' | 'pong' }): void {
    if (this.#socket) this.write(this.#socket, encodeServerMessage(message));
  }

  /** Sends a top-level `error` (counted, like every message but ping and pong). */
  sendError(reason: string, offendingMessage?: unknown): void {
    this.send(
      offendingMessage === undefined ? { msg: 'error', reason } : { msg: 'error', reason, offendingMessage },
    );
  }

  added(collection: string, id: string, fields: Fields): void {
    this.send({ msg: 'added', collection, id, fields });
  }

  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    this.send({ msg: 'changed', collection, id, fields, cleared });
  }

  removed(collection: string, id: string): void {
    this.send({ msg: 'removed', collection, id });
  }

  subscriptionsReady(subIds: readonly string[]): void {
    this.send({ msg: 'ready', subs: subIds });
  }

  /** DDP `nosub`, with the error in Meteor's shape. */
  subscriptionStopped(subId: string, error?: unknown): void {
    this.send(
      error === undefined
        ? { msg: 'nosub', id: subId }
        : { msg: 'nosub', id: subId, error: toWireError(error) },
    );
  }

  methodResult(methodId: string, outcome: MethodOutcome): void {
    this.send(
      outcome.ok
        ? { msg: 'result', id: methodId, result: outcome.value }
        : { msg: 'result', id: methodId, error: toWireError(outcome.error) },
    );
  }

  /** DDP `updated`: the client may now run the methods' callbacks. */
  writesDelivered(methodIds: readonly string[]): void {
    this.send({ msg: 'updated', methods: methodIds });
  }

  /** Counts, keeps and (when attached) writes one message. Late sends after the end are dropped. */
  private send(message: ServerMessage): void {
    if (this.ended) return;
    const text = encodeServerMessage(message);
    const log = this.#settings.parked ? this.logged() : undefined;
    log?.record(text);
    if (this.#held) {
      this.#held.push(text);
      return;
    }
    if (this.#socket) {
      this.write(this.#socket, text);
      return;
    }
    if (log && !log.keepsAfter(this.#detachedAt)) {
      const onOverflow = this.#onOverflow;
      this.#settings.logger.debug(
        { session: this.id },
        'DDP session buffer overflowed while detached; ending it',
      );
      this.end();
      onOverflow?.();
    }
  }

  /** The log, made on first need with the opening `connected` counted (see {@link #log}). */
  private logged(): OutboundLog {
    if (this.#log === undefined) {
      this.#log = new OutboundLog(this.#settings.maxMessageQueueLength, this.#settings.maxMessageQueueBytes);
      this.#log.recordConnected();
    }
    return this.#log;
  }

  /**
   * Writes one frame to `socket`. With a coalescer, the first frame of a window corks the socket and enlists the
   * session; the frames then leave together when the window ends ({@link releaseCork}), in the order written.
   */
  private write(socket: Connection, text: string): void {
    const coalescer = this.#settings.coalescer;
    if (coalescer && this.#corked === undefined && socket.cork) {
      socket.cork();
      this.#corked = socket;
      coalescer.hold(this);
    }
    socket.send(text);
  }

  /** The coalescer's window ended: uncork the socket corked for it (even if the session ended meanwhile). */
  releaseCork(): void {
    const socket = this.#corked;
    this.#corked = undefined;
    socket?.uncork?.();
  }
}

/** A session's client messages waiting for their turn, during one busy spell (an idle session has none). */
class InboundQueue {
  readonly messages: QueuedMessage[] = [];
  /** Sizes (bytes received) of the messages, in queue order, and their sum. */
  readonly sizes: number[] = [];
  bytes = 0;
  /** The socket paused because too much waited (read again once the queue has half drained). */
  paused: Connection | undefined = undefined;
}

function unreachable(value: never): never {
  throw new Error(`unhandled DDP message ${JSON.stringify(value)}`);
}
