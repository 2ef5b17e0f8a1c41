/**
 * Outbound coalescing (`coalesceMs`, as DDP's): a connection's messages of one event-loop turn are written inside
 * one cork window, released once when the turn ends; `coalesceMs: false` writes each message alone. Driven through
 * WampProtocol with recording connections (no sockets): what the transport does with a window is
 * transports/websocket-endpoint.test.ts's subject.
 */
import assert from 'node:assert/strict';
import { nextTurn, RecordingConnection } from '../../core/fixtures/recording-connection.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { WampProtocol } from './wamp-protocol.js';

const HELLO = [1, 'realm1', { roles: { publisher: {}, subscriber: {} } }];

async function established(protocol: WampProtocol): Promise<RecordingConnection> {
  const connection = new RecordingConnection('wamp.2.json', (frame) => frame[0]);
  protocol.handleConnection(connection);
  connection.receive(HELLO);
  await waitUntil(() => connection.log.includes('send 2'), { what: () => connection.log.join(', ') });
  await nextTurn();
  connection.log.length = 0;
  return connection;
}

describe('WAMP outbound coalescing', () => {
  it('writes a turn of events to a subscriber in one cork window', async () => {
    const protocol = new WampProtocol(null, {});
    const subscriber = await established(protocol);
    const publisher = await established(protocol);
    subscriber.receive([32, 1, {}, 'com.example.topic']);
    await waitUntil(() => subscriber.log.includes('send 33'), { what: () => subscriber.log.join(', ') });
    await nextTurn();
    subscriber.log.length = 0;

    for (let i = 1; i <= 3; i++) publisher.receive([16, i, {}, 'com.example.topic', [i]]);
    await waitUntil(() => subscriber.log.filter((e) => e === 'send 36').length === 3, {
      what: () => subscriber.log.join(', '),
    });
    await nextTurn();
    assert.deepEqual(subscriber.log, ['cork', 'send 36', 'send 36', 'send 36', 'uncork']);
  });

  it('a message after the window ends opens a new one', async () => {
    const protocol = new WampProtocol(null, {});
    const connection = await established(protocol);
    connection.receive([32, 1, {}, 'com.example.a']);
    await waitUntil(() => connection.log.includes('uncork'), { what: () => connection.log.join(', ') });
    connection.receive([32, 2, {}, 'com.example.b']);
    await waitUntil(() => connection.log.filter((e) => e === 'uncork').length === 2, {
      what: () => connection.log.join(', '),
    });
    assert.deepEqual(connection.log, ['cork', 'send 33', 'uncork', 'cork', 'send 33', 'uncork']);
  });

  it('an ABORT for bad input is written before the close, and the window still ends', async () => {
    const protocol = new WampProtocol(null, {});
    const connection = await established(protocol);
    connection.receive([32, 'not a request id', {}, 'com.example.a']);
    await waitUntil(() => connection.log.includes('uncork'), { what: () => connection.log.join(', ') });
    assert.deepEqual(connection.log, ['cork', 'send 3', 'close 1000', 'uncork']);
  });

  it('coalesceMs false: every message is written alone', async () => {
    const protocol = new WampProtocol(null, { coalesceMs: false });
    const subscriber = await established(protocol);
    const publisher = await established(protocol);
    subscriber.receive([32, 1, {}, 'com.example.topic']);
    for (let i = 1; i <= 2; i++) publisher.receive([16, i, {}, 'com.example.topic', [i]]);
    await waitUntil(() => subscriber.log.filter((e) => e === 'send 36').length === 2, {
      what: () => subscriber.log.join(', '),
    });
    await nextTurn();
    assert.deepEqual(subscriber.log, ['send 33', 'send 36', 'send 36']);
  });
});
