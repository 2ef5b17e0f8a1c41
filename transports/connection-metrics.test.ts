/**
 * The connection traffic metrics, without sockets: a fake transport connection under the decorator. Message types
 * come from the protocol's classifier (or `other` without one), calls are timed from their reply, and a connection
 * the transport terminated as a slow consumer is counted as one.
 */
import assert from 'node:assert/strict';
import promClient from 'prom-client';
import type { Connection, ConnectionListener } from '../core/connection.js';
import { silentLogger } from '../core/logger.js';
import { ConnectionMetrics } from './connection-metrics.js';
import type { Classifier } from './frame-classifier.js';

/** A transport connection whose messages and close the test drives. */
class FakeConnection implements Connection {
  listener: ConnectionListener | undefined;
  overflowed = false;
  readonly sent: Array<string | Uint8Array> = [];
  readonly remoteAddress = '10.0.0.1';
  readonly headers = {};
  readonly protocol = 'toy.v1';
  readonly bufferedAmount = 0;
  send(data: string | Uint8Array): void {
    this.sent.push(data);
  }
  close(): void {}
  attach(listener: ConnectionListener): void {
    this.listener = listener;
  }
  onClose(): void {}
}

/** `C:<id>:<method>` calls, `R:<id>` replies, `E:<id>` error replies, anything else `note`. */
const classify: Classifier = (data, direction) => {
  const [kind, id = '', method = ''] = String(data).split(':');
  if (direction === 'in' && kind === 'C') return { type: 'call', call: { id, method } };
  if (direction === 'out' && (kind === 'R' || kind === 'E'))
    return { type: 'reply', reply: { id, error: kind === 'E' } };
  return { type: 'note' };
};

async function sample(
  registry: promClient.Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const histogram = name.endsWith('_count') ? name.slice(0, -'_count'.length) : undefined;
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === (histogram ?? name));
  const values = metric?.values.filter(
    (v) => histogram === undefined || (v as { metricName?: string }).metricName === name,
  );
  const value = values?.find((v) =>
    Object.entries(labels).every(([key, expected]) => String(v.labels[key]) === expected),
  );
  return value?.value ?? Number.NaN;
}

describe('connection metrics', () => {
  it('counts messages by the classifier, times calls to their reply, and counts slow-consumer closes', async () => {
    const registry = new promClient.Registry();
    const metrics = new ConnectionMetrics(registry, { isMethod: (name) => name === 'add' });
    metrics.protocolsAttached(['toy']);
    assert.equal(await sample(registry, 'pgrt_slow_consumer_closes_total', { protocol: 'toy' }), 0);
    const fake = new FakeConnection();
    const counted = metrics.instrument(fake, 'toy', silentLogger, true, (subprotocol) => {
      assert.equal(subprotocol, 'toy.v1');
      return classify;
    });
    const received: unknown[] = [];
    counted.attach({
      receive: (data) => received.push(data),
      connectionClosed: () => received.push('closed'),
    });
    fake.listener?.receive('C:1:add');
    fake.listener?.receive('C:2:secret');
    fake.listener?.receive('hello');
    counted.send('R:1');
    counted.send('E:2');
    assert.deepEqual(received, ['C:1:add', 'C:2:secret', 'hello']);
    assert.deepEqual(fake.sent, ['R:1', 'E:2']);
    assert.equal(
      await sample(registry, 'pgrt_messages_received_total', { protocol: 'toy', type: 'call' }),
      2,
    );
    assert.equal(
      await sample(registry, 'pgrt_messages_received_total', { protocol: 'toy', type: 'note' }),
      1,
    );
    assert.equal(await sample(registry, 'pgrt_messages_sent_total', { protocol: 'toy', type: 'reply' }), 2);
    const count = (method: string, outcome: string) =>
      sample(registry, 'pgrt_method_duration_seconds_count', { protocol: 'toy', method, outcome });
    assert.equal(await count('add', 'ok'), 1);
    assert.equal(await count('(unregistered)', 'error'), 1, 'unknown names do not become labels');
    assert.equal(await sample(registry, 'pgrt_connections', { protocol: 'toy', transport: 'websocket' }), 1);
    fake.overflowed = true;
    fake.listener?.connectionClosed(1006, '');
    assert.equal(received.at(-1), 'closed');
    assert.equal(await sample(registry, 'pgrt_connections', { protocol: 'toy', transport: 'websocket' }), 0);
    assert.equal(await sample(registry, 'pgrt_slow_consumer_closes_total', { protocol: 'toy' }), 1);
  });

  it('counts every frame of a protocol without a classifier as other, and a normal close as none', async () => {
    const registry = new promClient.Registry();
    const metrics = new ConnectionMetrics(registry);
    const fake = new FakeConnection();
    const counted = metrics.instrument(fake, 'bare', silentLogger);
    counted.attach({ receive: () => {}, connectionClosed: () => {} });
    fake.listener?.receive('C:1:add');
    counted.send('R:1');
    assert.equal(
      await sample(registry, 'pgrt_messages_received_total', { protocol: 'bare', type: 'other' }),
      1,
    );
    assert.equal(await sample(registry, 'pgrt_messages_sent_total', { protocol: 'bare', type: 'other' }), 1);
    fake.listener?.connectionClosed(1000, '');
    assert.ok(Number.isNaN(await sample(registry, 'pgrt_slow_consumer_closes_total', { protocol: 'bare' })));
  });
});
