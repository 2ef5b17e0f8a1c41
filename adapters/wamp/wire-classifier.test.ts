/**
 * The WAMP metrics classifier: message types under JSON, msgpack and CBOR, CALL / reply pairing.
 */
import assert from 'node:assert/strict';
import { wampClassifier } from './wire-classifier.js';

describe('WAMP wire classifier', () => {
  it('WAMP: JSON calls and replies, msgpack and CBOR types', () => {
    const json = wampClassifier('wamp.2.json');
    assert.deepEqual(json('[48,12,{},"notes.add",["x"]]', 'in'), {
      type: 'CALL',
      call: { id: '12', method: 'notes.add' },
    });
    assert.deepEqual(json('[50,12,{},["id"]]', 'out'), { type: 'RESULT', reply: { id: '12', error: false } });
    assert.deepEqual(json('[8,48,12,{},"wamp.error.x"]', 'out'), {
      type: 'ERROR',
      reply: { id: '12', error: true },
    });
    // msgpack [36, …]: fixarray(4) 0x94, positive fixint 36; CBOR [36, …]: array(4) 0x84, uint8 0x18 36.
    assert.equal(wampClassifier('wamp.2.msgpack')(Uint8Array.of(0x94, 36, 1, 2, 0x80), 'out').type, 'EVENT');
    assert.equal(wampClassifier('wamp.2.cbor')(Uint8Array.of(0x84, 0x18, 36, 1, 2), 'out').type, 'EVENT');
    assert.equal(wampClassifier('wamp.2.cbor')(Uint8Array.of(0x83, 0x01, 0x60), 'in').type, 'HELLO');
  });
});
