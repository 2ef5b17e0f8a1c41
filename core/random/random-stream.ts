/**
 * Random values for server code: the crypto-strong default generator ({@link cryptoRandom}) and the per-method-call
 * {@link RandomStream} that reproduces a Meteor client's ids from the `randomSeed` of its `method` message
 * (reference/ddp.md §1.10, Meteor's `DDPCommon.RandomStream`).
 */
import { randomFillSync } from 'node:crypto';
import { type AleaRandomGenerator, createWithSeeds, RandomGenerator } from './alea.js';

const POOL_SIZE = 4096;
const TWO_POW_32 = 0x100000000;

/**
 * A generator backed by `node:crypto`, with Meteor's `Random` API, for unseeded use (session ids, secrets, tokens,
 * ids outside a method call). Its strings are drawn from random bytes by rejection sampling, so every character is
 * uniform; it is not reproducible and has no seed. Bytes come from a pooled buffer refilled 4 KiB at a time.
 */
export class CryptoRandomGenerator extends RandomGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_SIZE);
  private offset = POOL_SIZE;

  /** A uniform number in [0, 1) with 53 random bits. */
  override fraction(): number {
    const high = this.nextByte() * 0x2000 + this.nextByte() * 0x20 + (this.nextByte() >>> 3); // 21 bits
    const low = (this.nextByte() << 24) + (this.nextByte() << 16) + (this.nextByte() << 8) + this.nextByte();
    return (high * TWO_POW_32 + (low >>> 0)) / 2 ** 53;
  }

  protected override randomString(count: number, alphabet: string): string {
    const size = alphabet.length;
    if (size < 1 || size > 256) throw new RangeError('An alphabet must have 1 to 256 characters');
    // Bytes at or above `limit` would make the low characters likelier; they are drawn again.
    const limit = 256 - (256 % size);
    let result = '';
    while (result.length < count) {
      const byte = this.nextByte();
      if (byte < limit) result += alphabet.charAt(byte % size);
    }
    return result;
  }

  private nextByte(): number {
    if (this.offset === POOL_SIZE) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    return this.pool[this.offset++] as number;
  }
}

/** The process-wide crypto-strong generator (Meteor's `Random` on the server). */
export const cryptoRandom: RandomGenerator = new CryptoRandomGenerator();

/**
 * The random scope of one method invocation. Each named sequence is an Alea generator seeded `[seed, name]` and is
 * cached, so successive calls continue the same sequence, exactly as on the Meteor client that sent the seed: the
 * n-th `idFor('tasks')` on the server equals the n-th `Random.id()` of `DDP.randomStream('/collection/tasks')` in
 * the client's method stub. Create one per `method` message, lazily, and drop it with the invocation.
 */
export class RandomStream {
  #seed: string | undefined;
  #sequences: Map<string, AleaRandomGenerator> | undefined;

  /**
   * @param seed the `randomSeed` of the `method` message; absent or empty means a fresh one from `source`
   *   (as Meteor, whose ids then simply differ from the client's and get reconciled).
   * @param source where a fresh seed comes from; default {@link cryptoRandom}.
   */
  constructor(
    seed?: string | null,
    private readonly source: RandomGenerator = cryptoRandom,
  ) {
    if (seed) this.#seed = seed;
  }

  /** The seed: the client's `randomSeed`, or 20 fresh hex digits (drawn on first use) when it sent none. */
  get seed(): string {
    this.#seed ??= this.source.hexString(20);
    return this.#seed;
  }

  /** The sequence named `name` (Meteor's `DDP.randomStream(name)`; default name `'default'`). */
  get(name = 'default'): AleaRandomGenerator {
    this.#sequences ??= new Map();
    let sequence = this.#sequences.get(name);
    if (sequence === undefined) {
      sequence = createWithSeeds(this.seed, name);
      this.#sequences.set(name, sequence);
    }
    return sequence;
  }

  /**
   * The next id for a new document of `collection`, as Meteor's `Mongo.Collection` makes it for
   * `idGeneration: 'STRING'` (the default): `get('/collection/' + collection).id()`.
   */
  idFor(collection: string): string {
    return this.get(`/collection/${collection}`).id();
  }
}
