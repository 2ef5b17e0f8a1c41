/**
 * The metrics classifiers: message types and call/reply pairing for DDP text frames and WAMP JSON/msgpack/CBOR.
 */
import assert from 'node:assert/strict';
import { ddpClassifier, wampClassifier } from './wire-classifiers.js';

describe('wire classifiers', () => {
  it('DDP: reads inbound types, method calls and resume attempts', () => {
    assert.deepEqual(ddpClassifier('{"id":"7","msg":"method","method":"a.b","params":[]}', 'in'), {
      type: 'method',
      call: { id: '7', method: 'a.b' },
    });
    assert.deepEqual(ddpClassifier('{"msg":"connect","version":"1","session":"s1"}', 'in'), {
      type: 'connect',
      resume: true,
    });
    assert.equal(ddpClassifier('{"msg":"bogus"}', 'in').type, 'other');
    assert.equal(ddpClassifier('not json', 'in').type, 'invalid');
  });

  it('DDP: pairs outbound results by id and tells errors apart', () => {
    assert.deepEqual(ddpClassifier('{"msg":"result","id":"7","result":1}', 'out'), {
      type: 'result',
      reply: { id: '7', error: false },
    });
    assert.deepEqual(ddpClassifier('{"msg":"result","id":"a\\"b","error":{"error":404}}', 'out'), {
      type: 'result',
      reply: { id: 'a"b', error: true },
    });
    assert.equal(ddpClassifier('{"msg":"added","collection":"c","id":"1"}', 'out').type, 'added');
    assert.equal(ddpClassifier('{"server_id":"0"}', 'out').type, 'other');
  });

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
