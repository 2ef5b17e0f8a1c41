import assert from 'node:assert/strict';
import {
  AleaRandomGenerator,
  BASE64_CHARS,
  createMash,
  createWithSeeds,
  HEX_CHARS,
  UNMISTAKABLE_CHARS,
} from './alea.js';

describe('Alea (Meteor Random.createWithSeeds)', () => {
  it("reproduces Meteor's published vector for createWithSeeds(0)", () => {
    const random = createWithSeeds(0);
    assert.deepEqual(
      [random.id(), random.id(), random.id(), random.id()],
      ['cp9hWvhg8GSvuZ9os', '3f3k6Xo7rrHCifQhR', 'shxDnjWWmnKPEoLhM', '6QTjB8C5SEqhmz4ni'],
    );
  });

  // Vectors computed with Meteor's AleaRandomGenerator.js + AbstractRandomGenerator.js run unmodified under node.
  it('reproduces Meteor for a [seed, "/collection/<name>"] stream', () => {
    const tasks = createWithSeeds('abcdef0123456789abcd', '/collection/tasks');
    assert.deepEqual(
      [tasks.id(), tasks.id(), tasks.id()],
      ['NtYHMxYGja4jmdkt3', 'rWn6FRgk2LhfiiWAK', 'bLGgqpAak9o2czsft'],
    );
    const x = createWithSeeds('abcdef0123456789abcd', '/collection/x');
    assert.deepEqual([x.id(), x.id()], ['a3CMhwCmExXQ7pcP7', 'bY7gew6GHjWL3gTzt']);
  });

  it('reproduces Meteor for hexString, secret and fraction on one sequence', () => {
    const random = createWithSeeds(0);
    assert.equal(random.hexString(20), '9c2a7eaa146ee82cd0a0');
    assert.equal(random.secret(), 'VfFYf12rmSPARB3R8nXUFEWXuyoYvRwfADTkhmdCp0R');
    assert.equal(random.fraction(), 0.7536810985766351);
    assert.equal(createWithSeeds('abcdef0123456789abcd', '/rpc/foo').hexString(20), '616c821ab23918e894c8');
  });

  it('hashes every seed as a string of UTF-16 code units, so non-ASCII and numbers match Meteor', () => {
    assert.equal(createWithSeeds('héllo', 42, 'ü').id(), 'np5Qh9WGSvP7Bhwpn');
    assert.equal(createWithSeeds(42).id(), createWithSeeds('42').id());
  });

  it('keeps its seeds and refuses to start without any', () => {
    assert.deepEqual(createWithSeeds('s', 'n').seeds, ['s', 'n']);
    assert.throws(() => createWithSeeds(), RangeError);
    assert.throws(() => new AleaRandomGenerator([]), RangeError);
  });

  it('draws strings from the documented alphabets with the requested lengths', () => {
    const random = createWithSeeds('formats');
    assert.match(random.id(), new RegExp(`^[${UNMISTAKABLE_CHARS}]{17}$`));
    assert.equal(random.id(29).length, 29);
    assert.match(random.secret(), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(random.secret(13).length, 13);
    assert.match(random.hexString(9), /^[0-9a-f]{9}$/);
    assert.equal(UNMISTAKABLE_CHARS.length, 55);
    assert.equal(BASE64_CHARS.length, 64);
    assert.equal(HEX_CHARS.length, 16);
  });

  it('chooses from strings and arrays and returns fractions in [0, 1)', () => {
    const random = createWithSeeds('choice');
    for (let i = 0; i < 1000; i++) {
      const f = random.fraction();
      assert.ok(f >= 0 && f < 1);
    }
    assert.ok('abc'.includes(random.choice('abc')));
    assert.ok([1, 2, 3].includes(random.choice([1, 2, 3]) ?? 0));
    assert.equal(random.choice([]), undefined);
  });

  it('gives a stateful Mash whose result depends on earlier input', () => {
    const mash = createMash();
    const first = mash(' ');
    assert.notEqual(mash(' '), first);
    assert.equal(createMash()(' '), first);
  });
});
