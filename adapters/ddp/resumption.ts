/**
 * DDP session resumption (Meteor 3.5, meteor#14051; reference/ddp.md §1.12): the bookkeeping that lets a client
 * whose socket dropped come back to the same session — the outbound message count, the last frames sent, and the
 * sessions waiting out their grace period. The state machine that uses it is in `ddp-connection.ts` and
 * `ddp-session.ts`.
 *
 * **Counting.** A session counts every message it sends except `ping` and `pong` (the client counts what it
 * receives the same way and reports the total as `receivedCount`). The count is cumulative over the life of the
 * session, across resumptions, and includes every `connected` the session sent: the one that opened it (message
 * 1) and the one confirming each resumption. A message counts when it is produced, whether it reached the socket,
 * was lost in flight, or was buffered while the client was away.
 *
 * **Positions.** Message `n` of a session is at position `n`. A client that received `receivedCount = c` messages
 * holds positions 1…c and lacks c+1…sent. The log keeps the last frames, at most `capacity` of them and at most
 * `maxBytes` bytes (UTF-8) in all, forgetting the oldest first; a frame larger than `maxBytes` is forgotten at once
 * (with every frame before it), so only a client that received it can still resume. A resumption is possible iff
 * every lacking frame is still kept (`first kept − 1 ≤ c ≤ sent`). On resumption the new `connected` takes
 * position c+1 and the lacking frames follow it, renumbered, in their original order (an earlier resumption's
 * `connected` among them is dropped, never replayed), so the client's count after the replay is again the
 * server's count.
 */

/**
 * The counted outbound messages of one session and the last of their frames (at most `capacity` frames and
 * `maxBytes` bytes). A kept `connected` is only a place (no text, no bytes): it is never replayed, a fresh one is
 * sent instead.
 */
export class OutboundLog {
  /**
   * Kept frames, oldest first, from index `#first` on (those before it are forgotten and cut off in one go once
   * `capacity` of them piled up: a session at capacity pays no array shift per message); `undefined` stands for
   * a `connected`.
   */
  #frames: (string | undefined)[] = [];
  /** UTF-8 size of each entry of `#frames`, index for index (0 for a `connected`). */
  #sizes: number[] = [];
  /** Bytes of the kept frames. */
  #bytes = 0;
  #first = 0;
  /** Position of the frame before the first kept one (frames[first + i] is at position base + 1 + i). */
  #base = 0;

  /**
   * @param capacity how many of the last frames to keep (Meteor's `maxMessageQueueLength`).
   * @param maxBytes how many bytes of frames to keep (`maxMessageQueueBytes`); default unlimited.
   * @param counted messages counted before this log (a session taken over from another process counts on from
   *   the client's count); none of them is kept.
   */
  constructor(
    readonly capacity: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
    counted = 0,
  ) {
    this.#base = counted;
  }

  /** Messages counted so far (the `receivedCount` of a client that got everything). */
  get sent(): number {
    return this.#base + this.kept;
  }

  /** Frames kept. */
  get kept(): number {
    return this.#frames.length - this.#first;
  }

  /** Bytes (UTF-8) of the frames kept. */
  get keptBytes(): number {
    return this.#bytes;
  }

  /**
   * True while every message after position `position` is still kept (a client that received `position`
   * messages could resume). A session detached at `sent = position` overflows when this turns false.
   */
  keepsAfter(position: number): boolean {
    return this.#base <= position;
  }

  /** Counts one sent message other than `connected` and keeps its frame. */
  record(text: string): void {
    this.#keep(text, Buffer.byteLength(text, 'utf8'));
  }

  /** Counts one sent `connected` (kept as a place only). */
  recordConnected(): void {
    this.#keep(undefined, 0);
  }

  /** True if a client that received `receivedCount` messages can be given every message it lacks. */
  canResume(receivedCount: number): boolean {
    return Number.isSafeInteger(receivedCount) && receivedCount >= this.#base && receivedCount <= this.sent;
  }

  /**
   * Resumes for a client that received `receivedCount` messages: counts the new `connected` at position
   * `receivedCount + 1` and returns the frames to send after it, in order (the lacking ones, minus earlier
   * `connected` frames). Returns undefined, changing nothing, when {@link canResume} is false.
   */
  resume(receivedCount: number): string[] | undefined {
    if (!this.canResume(receivedCount)) return undefined;
    const from = this.#first + receivedCount - this.#base;
    const frames = this.#frames.splice(from);
    const sizes = this.#sizes.splice(from);
    const lacking: string[] = [];
    this.recordConnected();
    for (let i = 0; i < frames.length; i++) {
      const text = frames[i];
      if (text === undefined) continue;
      const size = sizes[i] as number;
      this.#bytes -= size;
      this.#keep(text, size);
      lacking.push(text);
    }
    return lacking;
  }

  /** Keeps one frame of `size` bytes, forgetting the oldest beyond `capacity` frames or `maxBytes` bytes. */
  #keep(text: string | undefined, size: number): void {
    this.#frames.push(text);
    this.#sizes.push(size);
    this.#bytes += size;
    while (this.kept > this.capacity || this.#bytes > this.maxBytes) {
      this.#bytes -= this.#sizes[this.#first] as number;
      this.#first += 1;
      this.#base += 1;
    }
    if (this.#first >= this.capacity || this.#first >= this.#frames.length) {
      this.#frames = this.#frames.slice(this.#first);
      this.#sizes = this.#sizes.slice(this.#first);
      this.#first = 0;
    }
  }
}

/** What the registry needs of a parked session. */
export interface Resumable {
  /** The session id clients resume with. */
  readonly id: string;
  /** Ends the session for good (its subscriptions stop); idempotent. */
  end(): void;
}

/**
 * Sessions whose socket closed ungracefully, kept for the grace period (Meteor's `disconnectGracePeriod`) so the
 * client can resume them. A session leaves by {@link take} (a resumption), {@link drop} (its buffer overflowed,
 * or the client asked to end it), or its grace timer, which ends it.
 */
export class ParkedSessions<T extends Resumable> {
  readonly #parked = new Map<string, { readonly session: T; readonly timer: NodeJS.Timeout }>();
  #closed = false;

  /** @param gracePeriodMs how long a session waits for its client (> 0). */
  constructor(readonly gracePeriodMs: number) {}

  /** Number of sessions waiting for their client. */
  get size(): number {
    return this.#parked.size;
  }

  /**
   * Parks `session` until it is taken, dropped, or its grace period ends (then it is ended). After
   * {@link close}, ends it at once.
   */
  park(session: T): void {
    this.drop(session.id);
    if (this.#closed) {
      session.end();
      return;
    }
    const timer = setTimeout(() => {
      if (this.#parked.get(session.id)?.session !== session) return;
      this.#parked.delete(session.id);
      session.end();
    }, this.gracePeriodMs);
    timer.unref();
    this.#parked.set(session.id, { session, timer });
  }

  /** Removes and returns the parked session `id` (its timer stopped), or undefined. Does not end it. */
  take(id: string): T | undefined {
    const entry = this.#parked.get(id);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.#parked.delete(id);
    return entry.session;
  }

  /** Ends and removes the parked session `id`, if any. */
  drop(id: string): void {
    this.take(id)?.end();
  }

  /** Ends every parked session and parks no more (shutdown). */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#parked.keys()]) this.drop(id);
  }
}
