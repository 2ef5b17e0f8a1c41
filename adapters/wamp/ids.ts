/**
 * WAMP ids (reference/wamp.md §1.4): integers in [1, 2^53]. Session and publication ids are global scope and
 * drawn uniformly at random; subscription and registration ids are router scope (a counter per router);
 * request ids are session scope (a counter per session and direction).
 */
import { randomBytes } from 'node:crypto';

/** The largest WAMP id, 2^53. */
export const MAX_ID = 2 ** 53;

/** True for an integer in [1, 2^53]. */
export function isWampId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

const POOL_SIZE = 7 * 256;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

/**
 * A uniformly random id in [1, 2^53]: 53 random bits, with 0 standing for 2^53 (so every value is equally likely).
 * `crypto.randomInt` cannot be used: it only accepts ranges below 2^48.
 */
export function randomId(): number {
  if (offset + 7 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  // 7 bytes = 56 bits; keep 53 (5 bits of the top byte + 48 bits).
  const high = (pool[offset]! & 0x1f) * 2 ** 48;
  const low = pool.readUIntBE(offset + 1, 6);
  offset += 7;
  const value = high + low;
  return value === 0 ? MAX_ID : value;
}

/** A sequential id source: 1, 2, 3, … wrapping to 1 after 2^53. */
export class IdSequence {
  #last = 0;

  /** The next id. */
  next(): number {
    this.#last = this.#last >= MAX_ID ? 1 : this.#last + 1;
    return this.#last;
  }

  /** The last id handed out (0 before the first). */
  get last(): number {
    return this.#last;
  }
}

/** A source of unique random ids: {@link randomId} that skips values still in use. */
export function uniqueRandomId(inUse: (id: number) => boolean): number {
  for (;;) {
    const id = randomId();
    if (!inUse(id)) return id;
  }
}
