/**
 * Publish & subscribe, Basic Profile (wamp.md checklist 45–56, §1.8): SUBSCRIBED and the shared subscription id
 * for a repeated SUBSCRIBE, EVENT shape and payload, acknowledged and unacknowledged publishes, publisher
 * exclusion by default, UNSUBSCRIBE, unknown subscriptions, authorization (with `--denied-topic`) and ordering.
 * "Nothing arrives" is proven with ordered barriers (a later marker message), not with sleeps, where a barrier
 * exists.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import { render } from '../client.js';
import { argsAt, assertError, detailsOf, eventOf, pubsubBarrier, UNKNOWN_ID } from '../helpers.js';
import { isId, MSG, URI } from '../messages.js';

const deniedSkip = (options: { deniedTopic?: string }) =>
  options.deniedTopic ? undefined : 'no denied topic configured (--denied-topic uri)';

/** Broker cases. */
export const brokerCases: ConformanceCase[] = [
  {
    id: 'broker.45',
    group: 'broker',
    title: 'SUBSCRIBE → SUBSCRIBED [33, req, subId]',
    checklist: [45],
    async run(ctx) {
      const peer = await ctx.join();
      const request = peer.nextRequestId();
      const reply = await peer.request(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
        MSG.SUBSCRIBE,
        request,
        {},
        ctx.uri('t'),
      ]);
      assert.equal(reply[0], MSG.SUBSCRIBED, `expected SUBSCRIBED, got ${render(reply)}`);
      assert.equal(reply.length, 3, `SUBSCRIBED has 3 elements: ${render(reply)}`);
      assert.ok(isId(reply[2]), `subscription id ${render(reply[2])}`);
    },
  },
  {
    id: 'broker.46',
    group: 'broker',
    title: 'SUBSCRIBE to the same topic again → SUBSCRIBED with the same subscription id',
    checklist: [46],
    async run(ctx) {
      const peer = await ctx.join();
      const topic = ctx.uri('t');
      const first = await peer.subscribe(topic);
      const second = await peer.subscribe(topic);
      assert.equal(second, first, 'repeated SUBSCRIBE returns the existing subscription id');
    },
  },
  {
    id: 'broker.47',
    group: 'broker',
    title:
      'PUBLISH args kwargs without acknowledge → nothing back to the publisher; EVENT [36,sub,pub,{},a,k]',
    checklist: [47],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      const request = c2.publish(topic, [1, 'two', { three: 3 }], { k: 'v', n: [1, 2] });
      const event = await c1.next(eventOf(subscription));
      assert.ok(isId(event[2]), `publication id ${render(event[2])}`);
      // Details is a dict; a broker MAY disclose the publisher without being asked (publisher identification), so
      // its absence is not asserted here (secure.07 checks pgrt's closed default).
      detailsOf(event, 3);
      assert.deepEqual(argsAt(event, 4), [1, 'two', { three: 3 }], 'EVENT args');
      assert.deepEqual(event[5], { k: 'v', n: [1, 2] }, 'EVENT kwargs');
      // Replies are sent in order: once this acknowledged publish is answered, nothing for `request` can follow.
      await c2.publishAck(ctx.uri('marker'));
      c2.assertNone(
        (m) => (m[0] === MSG.PUBLISHED || m[0] === MSG.ERROR) && (m[1] === request || m[2] === request),
      );
    },
  },
  {
    id: 'broker.48',
    group: 'broker',
    title: 'PUBLISH {acknowledge:true} → PUBLISHED [17,req,pubId]; the EVENT carries the same pubId',
    checklist: [48],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      const published = await c2.publishAck(topic, ['x']);
      assert.equal(published[0], MSG.PUBLISHED, `expected PUBLISHED, got ${render(published)}`);
      assert.equal(published.length, 3, `PUBLISHED has 3 elements: ${render(published)}`);
      assert.ok(isId(published[2]), `publication id ${render(published[2])}`);
      const event = await c1.next(eventOf(subscription));
      assert.equal(event[2], published[2], 'EVENT.Publication = PUBLISHED.Publication');
    },
  },
  {
    id: 'broker.49',
    group: 'broker',
    title: 'PUBLISH with [] args and kwargs only → the EVENT keeps kwargs intact',
    checklist: [49],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      c2.publish(topic, [], { only: 'kwargs', nested: { a: [true, null] } });
      const event = await c1.next(eventOf(subscription));
      assert.deepEqual(argsAt(event, 4), [], 'EVENT args empty');
      assert.deepEqual(event[5], { only: 'kwargs', nested: { a: [true, null] } }, 'EVENT kwargs');
    },
  },
  {
    id: 'broker.50',
    group: 'broker',
    title: 'a subscriber publishing to its own topic (default options) gets no EVENT',
    checklist: [50],
    async run(ctx) {
      const c1 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      await c1.publishAck(topic, ['mine']);
      if (ctx.router.features.has('broker.publisher_exclusion')) {
        // Events keep their order per publisher and subscriber: the marker proves the first was not sent.
        await c1.publishAck(topic, ['marker'], undefined, { exclude_me: false });
        const event = await c1.next(eventOf(subscription));
        assert.deepEqual(argsAt(event, 4), ['marker'], `the first EVENT is the marker: ${render(event)}`);
      } else {
        await c1.expectNone(eventOf(subscription), 150);
      }
    },
  },
  {
    id: 'broker.51',
    group: 'broker',
    title: 'PUBLISH to a denied topic: acknowledged → ERROR not_authorized; unacknowledged → silence',
    checklist: [51],
    skip: deniedSkip,
    async run(ctx) {
      const topic = ctx.options.deniedTopic!;
      const peer = await ctx.join();
      const silent = peer.publish(topic, ['x']);
      const reply = await peer.publishAck(topic, ['y']);
      assertError(reply, MSG.PUBLISH, silent + 1, URI.notAuthorized);
      peer.assertNone(
        (m) => m[0] === MSG.ERROR && m[2] === silent,
        'an ERROR for the unacknowledged publish',
      );
    },
  },
  {
    id: 'broker.52',
    group: 'broker',
    title: 'SUBSCRIBE to a denied topic → ERROR [8,32,req,{},not_authorized]',
    checklist: [52],
    skip: deniedSkip,
    async run(ctx) {
      const peer = await ctx.join();
      const request = peer.nextRequestId();
      const reply = await peer.request(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
        MSG.SUBSCRIBE,
        request,
        {},
        ctx.options.deniedTopic!,
      ]);
      assertError(reply, MSG.SUBSCRIBE, request, URI.notAuthorized);
    },
  },
  {
    id: 'broker.53',
    group: 'broker',
    title: 'UNSUBSCRIBE → UNSUBSCRIBED [35,req]; later publishes are not delivered',
    checklist: [53],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      const reply = await c1.unsubscribe(subscription);
      assert.equal(reply[0], MSG.UNSUBSCRIBED, `expected UNSUBSCRIBED, got ${render(reply)}`);
      assert.equal(reply.length, 2, `UNSUBSCRIBED has 2 elements: ${render(reply)}`);
      c2.publish(topic, ['after unsubscribe']);
      await pubsubBarrier(c2, c1, ctx.uri('barrier'));
      c1.assertNone(eventOf(subscription), 'an EVENT after UNSUBSCRIBED');
    },
  },
  {
    id: 'broker.54',
    group: 'broker',
    title: 'UNSUBSCRIBE an unknown id → ERROR [8,34,req,{},no_such_subscription]',
    checklist: [54],
    async run(ctx) {
      const peer = await ctx.join();
      const reply = await peer.unsubscribe(UNKNOWN_ID);
      assertError(reply, MSG.UNSUBSCRIBE, 1, URI.noSuchSubscription);
    },
  },
  {
    id: 'broker.55',
    group: 'broker',
    title: 'events from one publisher on two topics arrive in publish order',
    checklist: [55],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const t1 = await c1.subscribe(ctx.uri('t1'));
      const t2 = await c1.subscribe(ctx.uri('t2'));
      for (let i = 0; i < 20; i += 1) c2.publish(ctx.uri(i % 2 === 0 ? 't1' : 't2'), [i]);
      await pubsubBarrier(c2, c1, ctx.uri('barrier'));
      const seen = c1
        .received((m) => m[0] === MSG.EVENT && (m[1] === t1 || m[1] === t2))
        .map((m) => argsAt(m, 4)[0]);
      assert.deepEqual(
        seen,
        Array.from({ length: 20 }, (_, i) => i),
        'events in publish order',
      );
    },
  },
  {
    id: 'broker.56',
    group: 'broker',
    title: 'SUBSCRIBED arrives before any EVENT of that subscription, under concurrent publishing',
    checklist: [56],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      let publishing = true;
      const pump = (async () => {
        let i = 0;
        while (publishing) {
          c2.publish(topic, [i++]);
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 10));
      const subscription = await c1.subscribe(topic);
      await c1.next(eventOf(subscription));
      publishing = false;
      await pump;
      const order = c1.log.flatMap((entry) =>
        entry.kind === 'message' && (entry.message[0] === MSG.SUBSCRIBED || entry.message[0] === MSG.EVENT)
          ? [entry.message[0]]
          : [],
      );
      assert.equal(order[0], MSG.SUBSCRIBED, `SUBSCRIBED first, got ${order.slice(0, 3).join(', ')}`);
    },
  },
];
