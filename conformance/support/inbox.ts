/**
 * The buffered inbox both conformance test clients (DDP and WAMP) wait on: messages are kept in arrival order
 * until a case takes them; `next` resolves with the first buffered or future match, or rejects on timeout or
 * when the socket closes first. Failures are built by the owning client (so they carry its transcript).
 */

/** A waiter for a matching message. */
interface Waiter<M> {
  readonly matches: (message: M) => boolean;
  readonly description: string;
  readonly resolve: (message: M) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Messages received and not yet taken, and the cases waiting for them. */
export class Inbox<M> {
  /** Buffered messages, in arrival order. */
  readonly pending: M[] = [];
  readonly #waiters: Waiter<M>[] = [];
  #closedBecause: string | undefined;

  /** @param failure builds the error a wait rejects with (the owner adds its transcript). */
  constructor(private readonly failure: (reason: string) => Error) {}

  /**
   * Resolves with the first buffered or future message that matches, removing it from {@link pending}; other
   * messages stay buffered. Rejects after `timeoutMs`, or when the inbox is closed first.
   */
  next(matches: (message: M) => boolean, description: string, timeoutMs: number): Promise<M> {
    return new Promise((resolve, reject) => {
      const index = this.pending.findIndex(matches);
      if (index >= 0) {
        const [message] = this.pending.splice(index, 1);
        resolve(message as M);
        return;
      }
      if (this.#closedBecause !== undefined) {
        reject(this.failure(`${this.#closedBecause} before ${description} arrived`));
        return;
      }
      const timer = setTimeout(() => {
        this.#remove(waiter);
        reject(this.failure(`timed out after ${timeoutMs} ms waiting for ${description}`));
      }, timeoutMs);
      const waiter: Waiter<M> = { matches, description, resolve, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Removes and returns every buffered message that matches (no waiting). */
  take(matches: (message: M) => boolean): M[] {
    const taken: M[] = [];
    for (let i = 0; i < this.pending.length; ) {
      const message = this.pending[i] as M;
      if (matches(message)) {
        taken.push(message);
        this.pending.splice(i, 1);
      } else {
        i += 1;
      }
    }
    return taken;
  }

  /** Buffers an arrived message and hands it to the first waiter it matches. */
  push(message: M): void {
    this.pending.push(message);
    for (const waiter of [...this.#waiters]) {
      const index = this.pending.findIndex(waiter.matches);
      if (index < 0) continue;
      const [taken] = this.pending.splice(index, 1);
      this.#remove(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(taken as M);
    }
  }

  /** The socket closed: every current and later wait fails with `reason` (e.g. "socket closed (code 1000)"). */
  close(reason: string): void {
    this.#closedBecause = reason;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(this.failure(`${reason} before ${waiter.description} arrived`));
    }
  }

  #remove(waiter: Waiter<M>): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }
}
