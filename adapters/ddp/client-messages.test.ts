/**
 * Inbound DDP messages typed: every message the state machines act on, and Meteor's reasons for what they cannot
 * (a malformed `sub` or `method`, an unknown `msg`), kept with the message to echo.
 */
import assert from 'node:assert/strict';
import { MAX_DDP_ID_LENGTH, toClientMessage } from './client-messages.js';

describe('DDP client messages (typed)', () => {
  it('types connect, with or without a usable negotiation and a session to resume', () => {
    assert.deepEqual(
      toClientMessage({
        msg: 'connect',
        version: '1',
        support: ['1', 'pre2'],
        session: 's',
        receivedCount: 3,
      }),
      {
        msg: 'connect',
        negotiation: { version: '1', support: ['1', 'pre2'] },
        session: 's',
        receivedCount: 3,
      },
    );
    for (const bad of [
      { msg: 'connect', version: '1', support: ['pre2'] },
      { msg: 'connect', version: 1, support: [1] },
      { msg: 'connect', version: '1', support: '1' },
      { msg: 'connect' },
    ]) {
      const typed = toClientMessage(bad);
      assert.ok(typed.msg === 'connect' && typed.negotiation === undefined, JSON.stringify(bad));
    }
    const odd = toClientMessage({
      msg: 'connect',
      version: '1',
      support: ['1'],
      session: 7,
      receivedCount: '3',
    });
    assert.ok(odd.msg === 'connect' && odd.session === undefined && odd.receivedCount === undefined);
  });

  it('types sub, unsub and method, with params defaulting to none', () => {
    assert.deepEqual(toClientMessage({ msg: 'sub', id: '1', name: 'tasks' }), {
      msg: 'sub',
      id: '1',
      name: 'tasks',
      params: [],
    });
    assert.deepEqual(toClientMessage({ msg: 'unsub', id: 5 }), { msg: 'unsub', id: 5 });
    assert.deepEqual(
      toClientMessage({ msg: 'method', id: '2', method: 'm', params: [1], randomSeed: 'abc' }),
      {
        msg: 'method',
        id: '2',
        method: 'm',
        params: [1],
        randomSeed: 'abc',
      },
    );
    assert.deepEqual(toClientMessage({ msg: 'ping', id: 9 }), { msg: 'ping', id: 9 });
    assert.deepEqual(toClientMessage({ msg: 'pong', id: 'x' }), { msg: 'pong' });
    assert.deepEqual(toClientMessage({ msg: 'disconnect' }), { msg: 'disconnect' });
  });

  it("keeps what cannot be acted on as malformed, with Meteor's reason and the message to echo", () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ msg: 'sub', id: 1, name: 'tasks' }, 'Malformed subscription'],
      [{ msg: 'sub', id: '1' }, 'Malformed subscription'],
      [{ msg: 'sub', id: '1', name: 'tasks', params: {} }, 'Malformed subscription'],
      [{ msg: 'method', id: '1' }, 'Malformed method invocation'],
      [{ msg: 'method', id: '1', method: 'm', params: 'x' }, 'Malformed method invocation'],
      [{ msg: 'method', id: '1', method: 'm', randomSeed: 7 }, 'Malformed method invocation'],
      [{ msg: 'added', collection: 'c', id: '1' }, 'Bad request'],
      [{ msg: 'fly' }, 'Bad request'],
    ];
    for (const [message, reason] of cases) {
      assert.deepEqual(toClientMessage(message), { msg: 'malformed', reason, offending: message });
    }
  });

  it(`refuses ids and names longer than ${MAX_DDP_ID_LENGTH} characters with Meteor's reasons, echoing nothing`, () => {
    const long = 'x'.repeat(MAX_DDP_ID_LENGTH + 1);
    const limit = 'x'.repeat(MAX_DDP_ID_LENGTH);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ msg: 'method', id: long, method: 'm' }, 'Malformed method invocation'],
      [{ msg: 'method', id: '1', method: long }, 'Malformed method invocation'],
      [{ msg: 'sub', id: long, name: 'tasks' }, 'Malformed subscription'],
      [{ msg: 'sub', id: '1', name: long }, 'Malformed subscription'],
      [{ msg: 'unsub', id: long }, 'Bad request'],
      [{ msg: 'ping', id: long }, 'Bad request'],
    ];
    for (const [message, reason] of cases) {
      assert.deepEqual(toClientMessage(message), { msg: 'malformed', reason, offending: undefined });
    }
    assert.equal(toClientMessage({ msg: 'method', id: limit, method: limit }).msg, 'method');
    assert.equal(toClientMessage({ msg: 'sub', id: limit, name: limit }).msg, 'sub');
    assert.equal(toClientMessage({ msg: 'unsub', id: limit }).msg, 'unsub');
    assert.equal(toClientMessage({ msg: 'ping', id: limit }).msg, 'ping');
  });
});
