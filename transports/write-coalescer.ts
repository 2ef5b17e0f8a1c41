/**
 * Outbound write coalescing across connections. Writing one WebSocket frame per `send` costs about one syscall
 * per message per socket (reference/perf.md §4.5: 74k–92k deliveries/s); holding a connection's frames for a
 * short window and writing them together (one `writev`) reached 1.06M/s. The coalescer corks a connection on
 * its first message of a window ({@link Connection.cork}) and uncorks every held connection at the end of the
 * window, with one shared timer for all of them (no timer, closure or allocation per message).
 *
 * Messages keep their order and stay separate messages: over raw WebSocket each is still its own frame (several
 * frames in one socket write), over SockJS several messages go in one `a[…]` frame (which SockJS allows).
 *
 * Window: `0` ends at `setImmediate`, i.e. after the current event-loop turn's I/O callbacks and their
 * microtasks (no added latency beyond that turn); `n > 0` ms holds up to n ms. A holder must always be released
 * (the coalescer guarantees it: every `hold` is followed by exactly one `release` call).
 */

/** What the coalescer holds: something that corked a connection and uncorks it on `release`. */
export interface CoalescedWriter {
  /** Ends this window's cork. Called exactly once per successful {@link WriteCoalescer.hold}. */
  releaseCork(): void;
}

/** One window scheduler shared by many connections. */
export class WriteCoalescer {
  readonly windowMs: number;
  #held: CoalescedWriter[] = [];
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  /** `windowMs`: 0 = until the end of the event-loop turn (`setImmediate`), n > 0 = n ms. */
  constructor(windowMs: number) {
    this.windowMs = Math.max(0, windowMs);
  }

  /** Holders waiting for the window to end. */
  get pending(): number {
    return this.#held.length;
  }

  /** Registers `writer` (which has just corked its connection) for release at the end of the window. */
  hold(writer: CoalescedWriter): void {
    this.#held.push(writer);
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.windowMs === 0) setImmediate(this.#flush);
    else setTimeout(this.#flush, this.windowMs).unref();
  }

  /** Ends the window now: every held writer uncorks, in the order it was held. */
  flush(): void {
    this.#scheduled = false;
    const held = this.#held;
    if (held.length === 0) return;
    this.#held = [];
    for (const writer of held) writer.releaseCork();
  }
}
