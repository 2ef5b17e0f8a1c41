/**
 * The broker's retained events are a buffer any publisher fills: bounded in topics and in bytes (security.md
 * "Limits"). Unit tests without sockets; the wire behaviour of `retain`/`get_retained` is in pubsub.test.ts.
 */
import assert from 'node:assert/strict';
import { Broker, type BrokerHooks, parsePublishOptions, payloadBytes } from './broker.js';
import { IdSequence } from './ids.js';

const hooks: BrokerHooks = { onCreate() {}, onSubscribe() {}, onUnsubscribe() {}, onDelete() {} };
const RETAIN = parsePublishOptions({ retain: true });

describe('WAMP broker: retained events', () => {
  it('charges an event about its serialized size: text by length, binaries by byte length', () => {
    assert.equal(payloadBytes('x'.repeat(1000)), 1002);
    assert.equal(payloadBytes(new Uint8Array(4096)), 4096);
    const big = payloadBytes([{ text: 'y'.repeat(10_000) }, 1, null]);
    assert.ok(big > 10_000 && big < 10_100, `${big}`);
  });

  it('drops the oldest topics once the realm holds more bytes than its bound', () => {
    const broker = new Broker(new IdSequence(), hooks, { events: 10_000, bytes: 10_000 });
    for (let i = 0; i < 20; i++) broker.publish(null, `com.t${i}`, RETAIN, { args: ['z'.repeat(1000)] });
    const { events, bytes } = broker.retainedSize;
    assert.ok(bytes <= 10_000, `${bytes} bytes kept`);
    assert.equal(events, 9, 'the newest ~1-KB events that fit');
  });

  it('replaces a topic’s event (its bytes too) and never keeps one larger than the whole bound', () => {
    const broker = new Broker(new IdSequence(), hooks, { events: 10, bytes: 5000 });
    broker.publish(null, 'com.state', RETAIN, { args: ['a'.repeat(3000)] });
    broker.publish(null, 'com.state', RETAIN, { args: ['b'.repeat(100)] });
    assert.deepEqual(broker.retainedSize, { events: 1, bytes: 'com.state'.length + 2 + 102 + 1 + 8 });
    broker.publish(null, 'com.state', RETAIN, { kwargs: { blob: new Uint8Array(6000) } });
    assert.deepEqual(
      broker.retainedSize,
      { events: 0, bytes: 0 },
      'too large: not kept, the older one superseded',
    );
  });

  it('keeps at most the configured number of topics', () => {
    const broker = new Broker(new IdSequence(), hooks, { events: 3, bytes: 1 << 20 });
    for (let i = 0; i < 5; i++) broker.publish(null, `com.n${i}`, RETAIN, { args: [i] });
    assert.equal(broker.retainedSize.events, 3);
  });
});
