/** Wire tests: publish/subscribe among WAMP clients (Autobahn|JS, Wampy, raw), across serializers. */
import assert from 'node:assert/strict';
import type autobahn from 'autobahn';
import { RawWampClient } from './fixtures/raw-client.js';
import {
  type AutobahnHandle,
  OPEN_REALM,
  openAutobahn,
  openWampy,
  roundTrip,
  startRouter,
  type TestRouter,
} from './fixtures/router.js';

interface Received {
  readonly args: unknown[] | undefined;
  readonly kwargs: Record<string, unknown> | undefined;
  readonly details: autobahn.IEvent;
}

async function collect(
  handle: AutobahnHandle,
  topic: string,
  options?: autobahn.ISubscribeOptions,
): Promise<Received[]> {
  const events: Received[] = [];
  await handle.session.subscribe(
    topic,
    (args?: unknown[], kwargs?: Record<string, unknown>, details?: autobahn.IEvent) => {
      events.push({ args, kwargs, details: details! });
    },
    options,
  );
  return events;
}

describe('WAMP publish/subscribe', () => {
  let router: TestRouter;
  let json: AutobahnHandle;
  let msgpack: AutobahnHandle;
  let cbor: AutobahnHandle;
  before(async () => {
    router = await startRouter({ realms: [OPEN_REALM] });
    [json, msgpack, cbor] = await Promise.all([
      openAutobahn(router.url),
      openAutobahn(router.url, { serializer: 'msgpack' }),
      openAutobahn(router.url, { serializer: 'cbor' }),
    ]);
  });
  after(async () => {
    await Promise.all([json.close(), msgpack.close(), cbor.close()]);
    await router.close();
  });

  it('delivers an event to subscribers of every serializer, args and kwargs intact, not to the publisher', async () => {
    const topic = 'com.test.basic';
    const [a, b, c] = await Promise.all([
      collect(json, topic),
      collect(msgpack, topic),
      collect(cbor, topic),
    ]);
    const payload = { n: 2 ** 53 - 1, s: 'ünï', nested: { list: [1, 1.5, null, true] } };
    const publication = await json.session.publish(topic, [1, 'two'], payload, { acknowledge: true });
    // The router writes the events before it acknowledges; a round trip on each subscriber's connection then
    // proves what that subscriber got (and that the publisher got nothing).
    await Promise.all([json, msgpack, cbor].map(roundTrip));
    assert.equal(a.length, 0, 'exclude_me is the default');
    for (const events of [b, c]) {
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.args, [1, 'two']);
      assert.deepEqual(events[0]!.kwargs, payload);
      assert.equal(events[0]!.details.publication, publication.id);
    }
  });

  it('delivers to the publisher too with exclude_me:false, and discloses it on disclose_me', async () => {
    const events = await collect(json, 'com.test.self');
    await json.session.publish(
      'com.test.self',
      ['x'],
      {},
      { exclude_me: false, disclose_me: true, acknowledge: true },
    );
    await roundTrip(json);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.details.publisher, json.session.id);
  });

  it('honours eligible and exclude lists', async () => {
    const topic = 'com.test.lists';
    const [b, c] = await Promise.all([collect(msgpack, topic), collect(cbor, topic)]);
    await json.session.publish(topic, ['only-b'], {}, { eligible: [msgpack.session.id], acknowledge: true });
    await json.session.publish(topic, ['not-b'], {}, { exclude: [msgpack.session.id], acknowledge: true });
    await json.session.publish(topic, ['role'], {}, { exclude_authrole: ['anonymous'], acknowledge: true });
    await Promise.all([msgpack, cbor].map(roundTrip));
    assert.deepEqual(
      b.map((e) => e.args),
      [['only-b']],
    );
    assert.deepEqual(
      c.map((e) => e.args),
      [['not-b']],
    );
  });

  it('matches prefix and wildcard subscriptions and names the concrete topic', async () => {
    const prefix = await collect(msgpack, 'com.pat', { match: 'prefix' });
    const wildcard = await collect(cbor, 'com..leaf', { match: 'wildcard' });
    for (const topic of ['com.pat', 'com.pat.x', 'com.patx', 'com.other.leaf', 'com.a.b.leaf']) {
      await json.session.publish(topic, [topic], {}, { acknowledge: true });
    }
    await Promise.all([msgpack, cbor].map(roundTrip));
    assert.deepEqual(
      prefix.map((e) => e.details.topic),
      ['com.pat', 'com.pat.x', 'com.patx'],
    );
    assert.deepEqual(
      wildcard.map((e) => e.details.topic),
      ['com.other.leaf'],
    );
  });

  it('returns the same subscription id for a repeated subscribe and stops delivery after unsubscribe', async () => {
    const { client } = await RawWampClient.join(router.url);
    client.send([32, 1, {}, 'com.test.unsub']);
    client.send([32, 2, {}, 'com.test.unsub']);
    const first = await client.next((m) => m[0] === 33 && m[1] === 1);
    const second = await client.next((m) => m[0] === 33 && m[1] === 2);
    assert.equal(first[2], second[2]);
    await json.session.publish('com.test.unsub', [1], {}, { acknowledge: true });
    await client.next((m) => m[0] === 36);
    client.send([34, 3, first[2]]);
    assert.deepEqual(await client.next((m) => m[0] === 35), [35, 3]);
    client.send([34, 4, first[2]]);
    assert.deepEqual(await client.next((m) => m[0] === 8), [8, 34, 4, {}, 'wamp.error.no_such_subscription']);
    await json.session.publish('com.test.unsub', [2], {}, { acknowledge: true });
    await client.roundTrip();
    assert.equal(client.received.filter((m) => m[0] === 36).length, 0);
    client.close();
  });

  it('keeps a retained event for later subscribers that ask for it', async () => {
    await json.session.publish('com.test.retained', ['state'], {}, { retain: true, acknowledge: true });
    const { client } = await RawWampClient.join(router.url, { serializer: 'cbor' });
    client.send([32, 1, { get_retained: true }, 'com.test.retained']);
    const subscribed = await client.next((m) => m[0] === 33);
    const event = await client.next((m) => m[0] === 36);
    assert.equal(event[1], subscribed[2]);
    assert.deepEqual(event[3], { retained: true });
    assert.deepEqual(event[4], ['state']);
    client.close();
  });

  it('delivers meta events to a prefix "" subscription only where the role may use the meta API', async () => {
    const closed = await startRouter();
    const routers = [
      { router, granted: true },
      { router: closed, granted: false },
    ];
    for (const { router: r, granted } of routers) {
      const { client } = await RawWampClient.join(r.url);
      client.send([32, 1, { match: 'prefix' }, '']);
      const all = (await client.next((m) => m[0] === 33))[2];
      const other = await openAutobahn(r.url);
      await other.session.subscribe('com.test.meta.subscribed', () => {});
      await other.session.publish('com.test.meta.marker', [], {}, { acknowledge: true });
      await client.next(
        (m) => m[0] === 36 && (m[3] as Record<string, unknown>).topic === 'com.test.meta.marker',
      );
      const topics = client.received
        .filter((m) => m[0] === 36 && m[1] === all)
        .map((m) => (m[3] as Record<string, unknown>).topic);
      const created = ['wamp.subscription.on_create', 'wamp.subscription.on_subscribe'];
      // Own subscription's events first (sent after SUBSCRIBED), then the other session's; the marker was taken.
      const expected = granted ? [...created, 'wamp.session.on_join', ...created] : [];
      assert.deepEqual(topics, expected, granted ? 'meta role' : 'no meta role');
      await other.close();
      client.close();
    }
    await closed.close();
  });

  it('discloses the publisher only when the role may be', async () => {
    const closed = await startRouter();
    const [subscriber, publisher] = await Promise.all([openAutobahn(closed.url), openAutobahn(closed.url)]);
    const events = await collect(subscriber, 'com.test.who');
    await publisher.session.publish('com.test.who', [], {}, { disclose_me: true, acknowledge: true });
    await publisher.session.publish('com.test.who', ['last'], {}, { acknowledge: true });
    await new Promise<void>((resolve) => {
      const check = () => (events.length === 2 ? resolve() : setImmediate(check));
      check();
    });
    const details = events[0]!.details as unknown as Record<string, unknown>;
    for (const key of ['publisher', 'publisher_authid', 'publisher_authrole'])
      assert.equal(details[key], undefined, key);
    await Promise.all([subscriber.close(), publisher.close()]);
    await closed.close();
  });

  it('works with Wampy: acknowledged publish, subscribe, and events from Autobahn', async () => {
    const wampy = await openWampy(router.url);
    const got: unknown[] = [];
    await wampy.subscribe('com.test.wampy', (event) => {
      got.push(event.argsList);
    });
    const events = await collect(json, 'com.test.wampy');
    await wampy.publish('com.test.wampy', ['from-wampy']);
    await json.session.publish('com.test.wampy', ['from-autobahn'], {}, { acknowledge: true });
    // Wampy's publish is not acknowledged: a round trip on Wampy's connection first (the router has then handled
    // its PUBLISH and written the event to Autobahn), then one on Autobahn's.
    await roundTrip(wampy);
    await roundTrip(json);
    assert.deepEqual(got, [['from-autobahn']]);
    assert.deepEqual(
      events.map((e) => e.args),
      [['from-wampy']],
    );
    await wampy.disconnect();
  });
});
