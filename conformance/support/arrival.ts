/**
 * Something a test client sees happen once (its socket's close, a server-first welcome frame), that cases wait for
 * with a timeout. Shared by the DDP and WAMP test clients; each builds its own timeout error (with its transcript).
 */

/** How a test client's socket closed. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  /** `performance.now()` when the close was observed. */
  readonly at: number;
}

/** A value that arrives at most once, and the waits for it. */
export class Arrival<T> {
  #value: T | undefined;
  readonly #waiters: ((value: T) => void)[] = [];

  /** The value, once it has arrived. */
  get value(): T | undefined {
    return this.#value;
  }

  /** Records the value (the first one only) and resolves every wait. */
  arrive(value: T): void {
    if (this.#value !== undefined) return;
    this.#value = value;
    for (const resolve of this.#waiters.splice(0)) resolve(value);
  }

  /** Resolves with the value (at once if it is there); rejects with `timedOut()` after `timeoutMs`. */
  wait(timeoutMs: number, timedOut: () => Error): Promise<T> {
    const value = this.#value;
    if (value !== undefined) return Promise.resolve(value);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(onValue);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(timedOut());
      }, timeoutMs);
      const onValue = (arrived: T): void => {
        clearTimeout(timer);
        resolve(arrived);
      };
      this.#waiters.push(onValue);
    });
  }
}
