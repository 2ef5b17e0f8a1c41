/**
 * A hashed timer wheel: one `setInterval` for any number of coarse per-connection timers (heartbeats), instead
 * of a `Timeout` object, a timer-list entry and a closure per connection.
 *
 * Contract: an entry scheduled with delay `d` fires once, no earlier than `d` ms and at most about one tick
 * later (plus event-loop lag). Entries are intrusive (they carry their own list links), so scheduling,
 * rescheduling and cancelling are O(1) and allocate nothing. `fire` runs from the wheel's interval, after the
 * entry left the wheel; it may reschedule itself. A throwing `fire` goes to `onError` and does not stop the
 * others. The interval runs only while entries are scheduled and never holds the process open (`unref`).
 */

/** Something the wheel can fire: subclass it (the links are the wheel's business). */
export abstract class WheelEntry {
  /**
   * @internal the tick at which the entry is due (`performance.now() / tickMs`, rounded up): a small integer, which
   * V8 keeps in the object, where a time in ms (a double) would take a heap number per entry.
   */
  wheelTick = 0;
  /** @internal neighbours in the slot's list; `wheelSlot` is -1 while not scheduled. */
  wheelPrev: WheelEntry | null = null;
  /** @internal */
  wheelNext: WheelEntry | null = null;
  /** @internal */
  wheelSlot = -1;

  /** Called once the entry is due (it is no longer scheduled by then). */
  abstract fire(now: number): void;
}

/** Options of {@link TimerWheel}. */
export interface TimerWheelOptions {
  /** Resolution in ms (default 1000): entries fire up to this much late. */
  readonly tickMs?: number;
  /** Number of slots (default 256); delays longer than `tickMs × slots` take extra turns of the wheel. */
  readonly slots?: number;
  /** Receives errors thrown by entries. */
  readonly onError?: (error: unknown) => void;
}

/** The wheel. */
export class TimerWheel {
  readonly tickMs: number;
  readonly #heads: (WheelEntry | null)[];
  readonly #onError: (error: unknown) => void;
  /** Index (absolute, in ticks) of the next tick to process. */
  #cursor = 0;
  #size = 0;
  #interval: NodeJS.Timeout | undefined;

  constructor(options: TimerWheelOptions = {}) {
    this.tickMs = Math.max(1, options.tickMs ?? 1000);
    this.#heads = new Array<WheelEntry | null>(Math.max(1, options.slots ?? 256)).fill(null);
    this.#onError = options.onError ?? (() => {});
  }

  /** Entries scheduled. */
  get size(): number {
    return this.#size;
  }

  /** Schedules (or reschedules) `entry` to fire in `delayMs`. */
  schedule(entry: WheelEntry, delayMs: number): void {
    if (entry.wheelSlot >= 0) this.#unlink(entry);
    const now = performance.now();
    if (!this.#interval) this.#start(now);
    // Ceil: never fire early; an entry due within the current tick goes to the next one.
    const tick = Math.max(this.#cursor, Math.ceil((now + Math.max(1, delayMs)) / this.tickMs));
    entry.wheelTick = tick;
    const slot = tick % this.#heads.length;
    const head = this.#heads[slot] ?? null;
    entry.wheelSlot = slot;
    entry.wheelPrev = null;
    entry.wheelNext = head;
    if (head) head.wheelPrev = entry;
    this.#heads[slot] = entry;
    this.#size++;
  }

  /** Removes `entry` if scheduled. */
  cancel(entry: WheelEntry): void {
    if (entry.wheelSlot < 0) return;
    this.#unlink(entry);
    if (this.#size === 0) this.#stop();
  }

  /** Drops every entry and stops the interval. */
  close(): void {
    for (let i = 0; i < this.#heads.length; i++) {
      let entry = this.#heads[i] ?? null;
      while (entry) {
        const next: WheelEntry | null = entry.wheelNext;
        entry.wheelSlot = -1;
        entry.wheelPrev = entry.wheelNext = null;
        entry = next;
      }
      this.#heads[i] = null;
    }
    this.#size = 0;
    this.#stop();
  }

  #start(now: number): void {
    this.#cursor = Math.floor(now / this.tickMs);
    this.#interval = setInterval(() => this.#tick(), this.tickMs);
    this.#interval.unref();
  }

  #stop(): void {
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
  }

  /** Processes every tick up to now (catching up after event-loop lag), firing the entries that are due. */
  #tick(): void {
    const now = performance.now();
    const last = Math.floor(now / this.tickMs);
    const slots = this.#heads.length;
    // Catching up more than one turn would visit every slot again: one turn covers them all.
    if (last - this.#cursor >= slots) this.#cursor = last - slots + 1;
    while (this.#cursor <= last && this.#size > 0) {
      const slot = this.#cursor % slots;
      let entry = this.#heads[slot] ?? null;
      while (entry) {
        const next: WheelEntry | null = entry.wheelNext;
        // Due once its tick has begun; a later one waits for another turn of the wheel.
        if (entry.wheelTick <= last) {
          this.#unlink(entry);
          try {
            entry.fire(now);
          } catch (error) {
            this.#onError(error);
          }
          // `fire` may have cancelled or moved the next entry: start the slot over (fired ones are gone).
          if (next && next.wheelSlot !== slot) {
            entry = this.#heads[slot] ?? null;
            continue;
          }
        }
        entry = next;
      }
      this.#cursor++;
    }
    if (this.#size === 0) this.#stop();
  }

  #unlink(entry: WheelEntry): void {
    const { wheelPrev: prev, wheelNext: next } = entry;
    if (prev) prev.wheelNext = next;
    else this.#heads[entry.wheelSlot] = next;
    if (next) next.wheelPrev = prev;
    entry.wheelPrev = entry.wheelNext = null;
    entry.wheelSlot = -1;
    this.#size--;
  }
}
