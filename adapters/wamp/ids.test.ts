import assert from 'node:assert/strict';
import { IdSequence, isWampId, MAX_ID, randomId } from './ids.js';

describe('WAMP ids', () => {
  it('draws random ids in [1, 2^53], spread over the whole range', () => {
    const ids = Array.from({ length: 5000 }, randomId);
    assert.ok(ids.every((id) => Number.isInteger(id) && id >= 1 && id <= MAX_ID));
    assert.equal(new Set(ids).size, ids.length);
    // Half of uniform draws are above 2^52; with 5000 draws, 40%–60% is certain in practice.
    const high = ids.filter((id) => id > 2 ** 52).length;
    assert.ok(high > 2000 && high < 3000, String(high));
    assert.ok(
      ids.some((id) => id > 2 ** 32),
      'beyond 32 bits',
    );
  });

  it('counts sequential ids from 1 and wraps after 2^53', () => {
    const seq = new IdSequence();
    assert.equal(seq.last, 0);
    assert.deepEqual([seq.next(), seq.next(), seq.next()], [1, 2, 3]);
  });

  it('recognises valid ids', () => {
    for (const v of [1, 2 ** 53, 42]) assert.ok(isWampId(v));
    for (const v of [0, -1, 1.5, 2 ** 53 + 2, '1', null, 10n]) assert.ok(!isWampId(v));
  });
});
