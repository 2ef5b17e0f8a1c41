import assert from 'node:assert/strict';
import { UnstorableStringError, unstorable, unstorableParam } from './storable-strings.js';

/** Strings PostgreSQL cannot store, found anywhere in parameters (storable-strings.ts). */
describe('storable strings', () => {
  it('finds NUL characters and lone surrogates, and nothing in well-formed text', () => {
    assert.equal(unstorable('a\u0000b'), 'nul');
    assert.equal(unstorable('a\uD800b'), 'lone-surrogate');
    assert.equal(unstorable('\uDC00'), 'lone-surrogate');
    assert.equal(unstorable('x\uD83D'), 'lone-surrogate');
    assert.equal(unstorable('emoji 😀, ü, 中文, \u0001 control'), undefined);
    assert.equal(unstorable(''), undefined);
  });

  it('walks parameters at any depth, object keys included, naming the first offender by its path', () => {
    assert.equal(unstorableParam([]), undefined);
    assert.equal(unstorableParam(['ok', 1, null, true, { a: ['b', { c: 'd' }] }, new Date(0)]), undefined);
    assert.equal(unstorableParam([new Uint8Array([0, 0])]), undefined, 'binary holds no text');
    const error = unstorableParam(['ok', { a: [1, { b: 'x\u0000' }] }]);
    assert.ok(error instanceof UnstorableStringError);
    assert.equal(error.error, 400);
    assert.equal(error.reason, 'Match failed');
    assert.deepEqual(error.details, [
      { name: '1.a.1.b', type: 'unstorable_string', message: 'contains a NUL character' },
    ]);
    assert.deepEqual(unstorableParam([{ 'k\u0000': 1 }])?.details, [
      { name: '0.k?', type: 'unstorable_string', message: 'contains a NUL character' },
    ]);
    assert.deepEqual(unstorableParam(['\uD800'])?.details, [
      { name: '0', type: 'unstorable_string', message: 'contains a lone UTF-16 surrogate' },
    ]);
  });
});
