import assert from 'node:assert/strict';
import { createWithSeeds } from './alea.js';
import { CryptoRandomGenerator, cryptoRandom, RandomStream } from './random-stream.js';

describe('RandomStream (Meteor DDPCommon.RandomStream)', () => {
  const seed = 'abcdef0123456789abcd';

  it('seeds each named sequence with [seed, name], like the Meteor client', () => {
    const stream = new RandomStream(seed);
    assert.deepEqual(stream.get('/collection/tasks').seeds, [seed, '/collection/tasks']);
    // Vector from Meteor's own code (see alea.test.ts).
    assert.deepEqual(
      [stream.idFor('tasks'), stream.idFor('tasks'), stream.idFor('tasks')],
      ['NtYHMxYGja4jmdkt3', 'rWn6FRgk2LhfiiWAK', 'bLGgqpAak9o2czsft'],
    );
  });

  it('caches sequences: a later get continues where the last one stopped', () => {
    const stream = new RandomStream(seed);
    const clone = createWithSeeds(seed, '1');
    const first = stream.get('1').id();
    const second = stream.get('1').id();
    assert.equal(first, clone.id());
    assert.equal(second, clone.id());
    assert.notEqual(first, second);
    assert.equal(stream.get('1'), stream.get('1'));
  });

  it('keeps sequences independent, so reordering across names does not change values', () => {
    const a = new RandomStream(seed);
    const b = new RandomStream(seed);
    const aTasks = a.idFor('tasks');
    const aLists = a.idFor('lists');
    const bLists = b.idFor('lists');
    const bTasks = b.idFor('tasks');
    assert.equal(aTasks, bTasks);
    assert.equal(aLists, bLists);
    assert.notEqual(aTasks, aLists);
  });

  it("uses 'default' when no name is given", () => {
    const stream = new RandomStream(seed);
    assert.deepEqual(stream.get().seeds, [seed, 'default']);
  });

  it('makes a fresh 20-hex seed when none (or an empty one) is given', () => {
    const a = new RandomStream();
    const b = new RandomStream('');
    const c = new RandomStream(null);
    for (const stream of [a, b, c]) assert.match(stream.seed, /^[0-9a-f]{20}$/);
    assert.notEqual(a.seed, b.seed);
    assert.equal(new RandomStream(undefined, createWithSeeds(0)).seed, '9c2a7eaa146ee82cd0a0');
  });
});

describe('cryptoRandom', () => {
  it('has the Meteor Random API with the right formats', () => {
    assert.match(cryptoRandom.id(), /^[23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz]{17}$/);
    assert.equal(cryptoRandom.id(29).length, 29);
    assert.match(cryptoRandom.secret(), /^[A-Za-z0-9_-]{43}$/);
    assert.match(cryptoRandom.hexString(9), /^[0-9a-f]{9}$/);
    assert.ok(['x', 'y'].includes(cryptoRandom.choice(['x', 'y']) ?? ''));
  });

  it('returns fractions in [0, 1) that are not all alike', () => {
    const generator = new CryptoRandomGenerator();
    const values = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const f = generator.fraction();
      assert.ok(f >= 0 && f < 1);
      values.add(f);
    }
    assert.equal(values.size, 5000);
  });

  it('spreads id characters evenly over the alphabet (no modulo bias)', () => {
    const counts = new Map<string, number>();
    const text = cryptoRandom.id(55 * 2000);
    for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
    assert.equal(counts.size, 55);
    // Expected 2000 each; 5 standard deviations (~220) of slack.
    for (const count of counts.values()) assert.ok(count > 1750 && count < 2250, `count ${count}`);
  });

  it('does not repeat ids', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 10000; i++) ids.add(cryptoRandom.id());
    assert.equal(ids.size, 10000);
  });
});
