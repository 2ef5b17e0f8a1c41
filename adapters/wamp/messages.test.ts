import assert from 'node:assert/strict';
import { ProtocolViolation } from './errors.js';
import { Out, parseClientMessage } from './messages.js';

describe('WAMP message parsing', () => {
  it('parses each client message', () => {
    assert.deepEqual(parseClientMessage([1, 'realm1', { roles: {} }]), {
      type: 'HELLO',
      realm: 'realm1',
      details: { roles: {} },
    });
    assert.deepEqual(parseClientMessage([48, 3, {}, 'p', [], {}]), {
      type: 'CALL',
      request: 3,
      options: {},
      procedure: 'p',
      args: [],
      kwargs: {},
    });
    assert.deepEqual(parseClientMessage([16, 1, {}, 't']), {
      type: 'PUBLISH',
      request: 1,
      options: {},
      topic: 't',
    });
    assert.equal(parseClientMessage([8, 68, 1, {}, 'e', [1]]).type, 'ERROR');
    assert.equal(parseClientMessage([70, 1, { progress: true }, [1]]).type, 'YIELD');
    assert.equal(parseClientMessage([49, 1, { mode: 'kill' }]).type, 'CANCEL');
    assert.equal(parseClientMessage([3, {}, 'wamp.close.normal']).type, 'ABORT');
  });

  const violations: [string, unknown][] = [
    ['an empty list', []],
    ['a non-list', { 0: 1 }],
    ['type 0', [0]],
    ['type 7', [7, 1]],
    ['type 99', [99]],
    ['type 1000', [1000]],
    ['a string type', ['1', 'realm1', {}]],
    ['WELCOME', [2, 1, {}]],
    ['CHALLENGE', [4, 'ticket', {}]],
    ['Options as a list', [32, 1, [], 't']],
    ['Request as a string', [32, '1', {}, 't']],
    ['request id 0', [32, 0, {}, 't']],
    ['a negative request id', [32, -1, {}, 't']],
    ['a fractional request id', [32, 1.5, {}, 't']],
    ['a request id above 2^53', [32, 2 ** 53 + 2, {}, 't']],
    ['a missing element', [32, 1, {}]],
    ['an extra element', [32, 1, {}, 't', []]],
    ['kwargs as a list', [48, 1, {}, 'p', [], []]],
    ['args as a dict', [48, 1, {}, 'p', {}]],
    ['too many payload elements', [48, 1, {}, 'p', [], {}, 1]],
    ['a non-string topic', [16, 1, {}, 5]],
  ];
  for (const [what, value] of violations) {
    it(`refuses ${what} as a protocol violation`, () => {
      assert.throws(() => parseClientMessage(value), ProtocolViolation);
    });
  }

  it('omits empty payload parts when building router messages, keeping args when kwargs follow', () => {
    assert.deepEqual(Out.result(1, {}, { args: [], kwargs: {} }), [50, 1, {}]);
    assert.deepEqual(Out.result(1, {}, { kwargs: { a: 1 } }), [50, 1, {}, [], { a: 1 }]);
    assert.deepEqual(Out.event(2, 3, {}, { args: [1] }), [36, 2, 3, {}, [1]]);
  });
});
