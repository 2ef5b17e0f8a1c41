/**
 * Write fences: how a method's caller learns that every change its transaction committed has been processed
 * into every session of this process (DDP `updated`; WAMP: the call returns).
 *
 * The method's transaction ends with `SELECT pgrt.fence(channel, id)`, which notifies `{"f": id}` only if the
 * transaction wrote. PostgreSQL delivers a transaction's notifications together, in order, after commit; so when
 * the bus hands us the fence, every change of that transaction has already been matched by the observers. We
 * then wait until observers with asynchronous work (limit windows, custom SQL) reflect everything up to the
 * fence's sequence number. A rolled-back transaction notifies nothing and its fence is released at once, so
 * nothing can stall a session. A bus reconnect (`resync`) releases every fence once observers have re-read.
 * A safety timeout releases a fence whose notification never came (logged).
 */
import type { Logger } from './logger.js';
import { cryptoRandom as Random } from './random/random-stream.js';

interface Pending {
  readonly resolve: () => void;
  readonly timer: NodeJS.Timeout;
}

/** Outstanding fences of this process. */
export class WriteFences {
  readonly #pending = new Map<string, Pending>();
  readonly #prefix = Random.id(8);
  #counter = 0;

  constructor(
    /** Resolves once observers reflect every event up to `seq`. */
    private readonly settled: (seq: number) => Promise<void>,
    private readonly logger: Logger,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Number of fences waiting for their notification. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Registers a new fence BEFORE the transaction commits (its notification may arrive before the commit's
   * reply). Returns its id and a promise resolving when the fence is passed; call `cancel(id)` if the
   * transaction turns out to have written nothing or rolled back.
   */
  expect(): { id: string; passed: Promise<void> } {
    const id = `${this.#prefix}:${++this.#counter}`;
    const passed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        this.logger.warn({ fence: id }, 'write fence timed out; releasing it');
        resolve();
      }, this.timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, timer });
    });
    return { id, passed };
  }

  /** Releases a fence at once (nothing written, or rolled back). */
  cancel(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve();
  }

  /** The bus delivered fence `id` at sequence `seq`. Fences of other processes are ignored. */
  arrived(id: string, seq: number): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    this.settled(seq).then(pending.resolve, pending.resolve);
  }

  /** The bus reconnected after a gap: fence notifications may be lost; release all once observers re-read. */
  resync(seq: number): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const pending of all) clearTimeout(pending.timer);
    const release = () => {
      for (const pending of all) pending.resolve();
    };
    this.settled(seq).then(release, release);
  }

  /** Releases everything (shutdown). */
  close(): void {
    for (const id of [...this.#pending.keys()]) this.cancel(id);
  }
}
