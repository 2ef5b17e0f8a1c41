/**
 * The orders behind the matcher and comparator: code points, decimals, floats, bytes and JSON equality.
 */
import assert from 'node:assert/strict';
import {
  canonicalJson,
  compareBytes,
  compareCodePoints,
  compareDecimal,
  compareFloat,
  jsonEqual,
  normalizeDecimal,
} from './compare.js';

const sign = (n: number): number => Math.sign(n);

describe('query value orders', () => {
  it('compareCodePoints follows UTF-8 byte order, unlike UTF-16 code units', () => {
    const sorted = ['', 'A', 'a', 'aa', 'é', '\uE000', '\uFFFD', '😀', '😀a', '😁'];
    const shuffled = [...sorted].reverse();
    assert.deepEqual(shuffled.sort(compareCodePoints), sorted);
    for (const a of sorted) {
      for (const b of sorted) {
        const bytes = sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
        assert.equal(sign(compareCodePoints(a, b)), bytes, `${a} vs ${b}`);
      }
    }
  });

  it('compareDecimal orders numerically with NaN on top and trailing zeros ignored', () => {
    const sorted = [
      '-Infinity',
      '-10.25',
      '-2',
      '-0.5',
      '-0.01',
      '0',
      '0.001',
      '1.5',
      '2',
      '10',
      '1e3',
      'Infinity',
      'NaN',
    ];
    const normalized = sorted.map((text) => normalizeDecimal(text) ?? 'bad');
    assert.deepEqual([...normalized].reverse().sort(compareDecimal), normalized);
    assert.equal(compareDecimal('1.50', '1.5'), 0);
    assert.equal(compareDecimal('-0.00', '0'), 0);
    assert.equal(compareDecimal('NaN', 'NaN'), 0);
    assert.equal(sign(compareDecimal('9223372036854775807', '9223372036854775806')), 1);
    assert.equal(sign(compareDecimal('-9223372036854775808', '-9223372036854775807')), -1);
  });

  it('normalizeDecimal expands exponents and rejects non-numbers', () => {
    assert.equal(normalizeDecimal('1.5e3'), '1500');
    assert.equal(normalizeDecimal('-1.5e-3'), '-0.0015');
    assert.equal(normalizeDecimal('.5'), '0.5');
    assert.equal(normalizeDecimal('+007.10'), '7.1');
    assert.equal(normalizeDecimal('-0'), '0');
    assert.equal(normalizeDecimal('1e400000'), undefined);
    assert.equal(normalizeDecimal('abc'), undefined);
    assert.equal(normalizeDecimal(''), undefined);
  });

  it('compareFloat puts NaN above Infinity and equal to itself', () => {
    assert.deepEqual([Number.NaN, Infinity, 1, -Infinity].sort(compareFloat), [
      -Infinity,
      1,
      Infinity,
      Number.NaN,
    ]);
    assert.equal(compareFloat(Number.NaN, Number.NaN), 0);
    assert.equal(compareFloat(-0, 0), 0);
  });

  it('compareBytes is memcmp then length', () => {
    assert.equal(sign(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0]))), -1);
    assert.equal(sign(compareBytes(new Uint8Array([2]), new Uint8Array([1, 255]))), 1);
    assert.equal(compareBytes(new Uint8Array(), new Uint8Array()), 0);
  });

  it('jsonEqual ignores key order but not array order; canonicalJson sorts keys', () => {
    assert.equal(jsonEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 }), true);
    assert.equal(jsonEqual([1, 2], [2, 1]), false);
    assert.equal(jsonEqual({ a: 1 }, { a: 1, b: 2 }), false);
    assert.equal(jsonEqual({ a: undefined }, { b: undefined }), false);
    assert.equal(canonicalJson({ b: 1, a: { d: 1, c: 2 } }), '{"a":{"c":2,"d":1},"b":1}');
  });
});
