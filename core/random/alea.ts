/**
 * Meteor-compatible random values: the generator API of Meteor's `Random` (`id`, `secret`, `hexString`,
 * `fraction`, `choice`) and its seeded Alea generator (`Random.createWithSeeds`), bit for bit
 * (reference/ddp.md §1.10). A Meteor client and this server fed the same seeds produce the same ids, which is what
 * makes latency-compensated inserts keep their ids.
 *
 * Alea (after Johannes Baagøe) is fast and reproducible but NOT cryptographically strong: use it only for values
 * that must be reproducible from a seed. The crypto-strong generator lives in ./random-stream.ts.
 */

/** Meteor's id alphabet: 55 characters without look-alikes (no 0/O, 1/I/l, U/V). */
export const UNMISTAKABLE_CHARS = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';
/** Meteor's `Random.secret` alphabet: 64 characters, 6 bits each. */
export const BASE64_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
/** Lowercase hex digits, as `hexString` uses them. */
export const HEX_CHARS = '0123456789abcdef';

const TWO_POW_32 = 0x100000000;
const TWO_POW_MINUS_32 = 2.3283064365386963e-10;

/**
 * The API of Meteor's `Random`. Subclasses provide `fraction()`; the strings are built from it exactly as Meteor's
 * `AbstractRandomGenerator` does (one `fraction()` per character, `floor(fraction * alphabet.length)`), which a
 * seeded generator must keep to stay compatible. Subclasses may override the string methods when they need no
 * compatibility (the crypto generator draws bytes instead).
 */
export abstract class RandomGenerator {
  /** A number in [0, 1), like `Math.random()`. */
  abstract fraction(): number;

  /** `digits` lowercase hex digits. */
  hexString(digits: number): string {
    return this.randomString(digits, HEX_CHARS);
  }

  /** A Meteor document id: `charsCount` (default 17, about 96 bits) characters of {@link UNMISTAKABLE_CHARS}. */
  id(charsCount = 17): string {
    return this.randomString(charsCount, UNMISTAKABLE_CHARS);
  }

  /** A secret for machines: `charsCount` (default 43, 256 bits) characters of {@link BASE64_CHARS}. */
  secret(charsCount = 43): string {
    return this.randomString(charsCount, BASE64_CHARS);
  }

  /** A random character of a string, or element of an array (`undefined` only for an empty array). */
  choice(items: string): string;
  choice<T>(items: readonly T[]): T | undefined;
  choice<T>(items: string | readonly T[]): string | T | undefined {
    const index = Math.floor(this.fraction() * items.length);
    return typeof items === 'string' ? items.charAt(index) : items[index];
  }

  /** `count` characters of `alphabet`, one `fraction()` each. */
  protected randomString(count: number, alphabet: string): string {
    let result = '';
    for (let i = 0; i < count; i++) result += alphabet.charAt(Math.floor(this.fraction() * alphabet.length));
    return result;
  }
}

/**
 * Baagøe's Mash hash (version 0.9): each call folds the UTF-16 code units of `String(data)` into the running state
 * and returns a number in [0, 1). Stateful: results depend on every earlier call on the same instance.
 */
export function createMash(): (data: unknown) => number {
  let n = 0xefc8249d;
  return (data: unknown): number => {
    const text = String(data);
    for (let i = 0; i < text.length; i++) {
      n += text.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * TWO_POW_32;
    }
    return (n >>> 0) * TWO_POW_MINUS_32;
  };
}

/**
 * Meteor's seeded generator (`Random.createWithSeeds`): Alea 0.9 over the given seeds, each `String()`ed. The same
 * seeds give the same sequence here, in Meteor and in django-ddp.
 */
export class AleaRandomGenerator extends RandomGenerator {
  /** The seeds it was created with (Meteor exposes them as `alea.args`). */
  readonly seeds: readonly unknown[];
  private s0: number;
  private s1: number;
  private s2: number;
  private c = 1;

  /** @throws RangeError without seeds (Meteor's `createWithSeeds()` throws too). */
  constructor(seeds: readonly unknown[]) {
    super();
    if (seeds.length === 0) throw new RangeError('No seeds were provided for the Alea generator');
    this.seeds = [...seeds];
    const mash = createMash();
    // Three hashes of ' ' in sequence on one Mash, then each seed subtracted (mod 1) from each state word in turn.
    let s0 = mash(' ');
    let s1 = mash(' ');
    let s2 = mash(' ');
    for (const seed of seeds) {
      s0 -= mash(seed);
      if (s0 < 0) s0 += 1;
      s1 -= mash(seed);
      if (s1 < 0) s1 += 1;
      s2 -= mash(seed);
      if (s2 < 0) s2 += 1;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
  }

  /** The next number of the sequence, in [0, 1). */
  override fraction(): number {
    const t = 2091639 * this.s0 + this.c * TWO_POW_MINUS_32;
    this.s0 = this.s1;
    this.s1 = this.s2;
    this.c = t | 0;
    this.s2 = t - this.c;
    return this.s2;
  }
}

/**
 * Meteor's `Random.createWithSeeds(...seeds)`: a reproducible generator.
 * @throws RangeError without seeds.
 */
export function createWithSeeds(...seeds: readonly unknown[]): AleaRandomGenerator {
  return new AleaRandomGenerator(seeds);
}
