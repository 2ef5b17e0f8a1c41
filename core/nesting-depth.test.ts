import assert from 'node:assert/strict';
import { DEFAULT_MAX_NESTING_DEPTH, exceedsNestingDepth } from './nesting-depth.js';

function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

describe('nesting depth', () => {
  it('counts a bare array or object as level 1; scalars and binary as 0', () => {
    assert.equal(exceedsNestingDepth(1, 0), false);
    assert.equal(exceedsNestingDepth(new Uint8Array(4), 0), false);
    assert.equal(exceedsNestingDepth([], 0), true);
    assert.equal(exceedsNestingDepth([], 1), false);
    assert.equal(exceedsNestingDepth({ a: [1, { b: 2 }] }, 3), false);
    assert.equal(exceedsNestingDepth({ a: [1, { b: 2 }] }, 2), true);
  });

  it('accepts exactly the limit and refuses one more, without deep recursion on 10,000 levels', () => {
    assert.equal(exceedsNestingDepth(nested(DEFAULT_MAX_NESTING_DEPTH), DEFAULT_MAX_NESTING_DEPTH), false);
    assert.equal(exceedsNestingDepth(nested(DEFAULT_MAX_NESTING_DEPTH + 1), DEFAULT_MAX_NESTING_DEPTH), true);
    assert.equal(exceedsNestingDepth(nested(10_000), DEFAULT_MAX_NESTING_DEPTH), true);
  });
});
