/**
 * The DDP metrics classifier: message types, method call / result pairing and resume attempts.
 */
import assert from 'node:assert/strict';
import { ddpClassifier } from './wire-classifier.js';

describe('DDP wire classifier', () => {
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
});
