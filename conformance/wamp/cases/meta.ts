/**
 * Meta API and testament (wamp.md checklist 91–100, §1.9): `wamp.session.count/list/get/kill`, the
 * `on_join`/`on_leave` events, subscription and registration meta events and procedures, and testaments. Each
 * case requires the matching `*_meta_api` feature flag.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import { isDict, render, type WampMessage } from '../client.js';
import { argsAt, assertError, assertResult, detailsOf, eventOf, pubsubBarrier } from '../helpers.js';
import { MSG, URI } from '../messages.js';

/** Meta API cases. */
export const metaCases: ConformanceCase[] = [
  {
    id: 'meta.91',
    group: 'meta',
    title: 'wamp.session.count → [n] counting the joined sessions; with [["no_such_role"]] → [0]',
    checklist: [91],
    requires: ['dealer.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      await ctx.join();
      const [count] = await c1.callArgs('wamp.session.count');
      assert.ok(typeof count === 'number' && count >= 2, `wamp.session.count → ${render(count)}`);
      const [none] = await c1.callArgs('wamp.session.count', [['com.conformance.no_such_role']]);
      assert.equal(none, 0, 'count of a role nobody has');
      const role = c1.welcome.authrole;
      if (typeof role === 'string') {
        const [ofRole] = await c1.callArgs('wamp.session.count', [[role]]);
        assert.ok(typeof ofRole === 'number' && ofRole >= 2, `count of role ${role} → ${render(ofRole)}`);
      }
    },
  },
  {
    id: 'meta.92',
    group: 'meta',
    title: 'wamp.session.list → [[ids…]] containing C1 and C2',
    checklist: [92],
    requires: ['dealer.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const [list] = await c1.callArgs('wamp.session.list');
      assert.ok(Array.isArray(list), `wamp.session.list → ${render(list)}`);
      assert.ok(list.includes(c1.session) && list.includes(c2.session), `${render(list)} lists C1 and C2`);
    },
  },
  {
    id: 'meta.93',
    group: 'meta',
    title: 'wamp.session.get [C2] → {session, authid, authrole, authmethod}; unknown id → no_such_session',
    checklist: [93],
    requires: ['dealer.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const [details] = await c1.callArgs('wamp.session.get', [c2.session]);
      assert.ok(isDict(details), `wamp.session.get → ${render(details)}`);
      assert.equal(details.session, c2.session, 'session');
      for (const key of ['authid', 'authrole', 'authmethod'])
        assert.ok(key in details, `${key} in ${render(details)}`);
      const request = c1.sendCall('wamp.session.get', [2 ** 53 - 99]);
      assertError(await c1.callOutcome(request), MSG.CALL, request, URI.noSuchSession);
    },
  },
  {
    id: 'meta.94',
    group: 'meta',
    title: 'wamp.session.kill [C2] {reason, message} → C2 GOODBYE {message} reason; the caller gets RESULT',
    checklist: [94],
    requires: ['dealer.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const request = c1.sendCall('wamp.session.kill', [c2.session], { reason: 'com.x.bye', message: 'm' });
      assertResult(await c1.callOutcome(request), request);
      const goodbye = await c2.next([MSG.GOODBYE]);
      assert.equal(goodbye[2], 'com.x.bye', `GOODBYE reason in ${render(goodbye)}`);
      assert.equal(detailsOf(goodbye, 1).message, 'm', `GOODBYE.Details.message in ${render(goodbye)}`);
    },
  },
  {
    id: 'meta.95',
    group: 'meta',
    title: 'subscribe wamp.session.on_join, C3 joins → EVENT with C3’s details dict',
    checklist: [95],
    requires: ['broker.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const subscription = await c1.subscribe('wamp.session.on_join');
      const c3 = await ctx.join({ label: 'C3' });
      const event = await c1.next(
        (m) =>
          m[0] === MSG.EVENT && m[1] === subscription && isDict(argsAt(m, 4)[0]) && hasSession(m, c3.session),
      );
      assert.ok(event);
    },
  },
  {
    id: 'meta.96',
    group: 'meta',
    title: 'subscribe wamp.session.on_leave, C3 leaves → EVENT args [session, authid, authrole]',
    checklist: [96],
    requires: ['broker.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const subscription = await c1.subscribe('wamp.session.on_leave');
      const c3 = await ctx.join({ label: 'C3' });
      await c3.goodbye();
      const event = await c1.next(
        (m) => m[0] === MSG.EVENT && m[1] === subscription && argsAt(m, 4)[0] === c3.session,
      );
      const args = argsAt(event, 4);
      if (typeof c3.welcome.authid === 'string')
        assert.equal(args[1], c3.welcome.authid, `authid in ${render(args)}`);
      if (typeof c3.welcome.authrole === 'string')
        assert.equal(args[2], c3.welcome.authrole, `authrole in ${render(args)}`);
    },
  },
  {
    id: 'meta.97',
    group: 'meta',
    title: 'first SUBSCRIBE → on_create then on_subscribe; last UNSUBSCRIBE → on_unsubscribe then on_delete',
    checklist: [97],
    requires: ['broker.subscription_meta_api'],
    async run(ctx) {
      const watcher = await ctx.join({ label: 'watcher' });
      const names = ['on_create', 'on_subscribe', 'on_unsubscribe', 'on_delete'];
      const ids = new Map<number, string>();
      for (const name of names) ids.set(await watcher.subscribe(`wamp.subscription.${name}`), name);
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c2.subscribe(topic);
      await c2.unsubscribe(subscription);
      const mine = (m: WampMessage): boolean =>
        m[0] === MSG.EVENT && ids.has(m[1] as number) && argsAt(m, 4)[0] === c2.session;
      for (const name of names) await watcher.next((m) => mine(m) && ids.get(m[1] as number) === name);
      const order = watcher.received(mine).map((m) => ids.get(m[1] as number));
      assert.deepEqual(order, names, 'meta event order');
      const created = watcher.received((m) => mine(m) && ids.get(m[1] as number) === 'on_create')[0];
      const details = created ? argsAt(created, 4)[1] : undefined;
      assert.ok(
        isDict(details) && details.uri === topic && details.id === subscription,
        `on_create ${render(details)}`,
      );
      const subscribed = watcher.received((m) => mine(m) && ids.get(m[1] as number) === 'on_subscribe')[0];
      assert.equal(
        subscribed ? argsAt(subscribed, 4)[1] : undefined,
        subscription,
        'on_subscribe subscription id',
      );
    },
  },
  {
    id: 'meta.98',
    group: 'meta',
    title: 'wamp.subscription.lookup [topic] → the id; count_subscribers [id] → 2; list_subscribers',
    checklist: [98],
    requires: ['broker.subscription_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      const other = await c2.subscribe(topic);
      assert.equal(
        other,
        subscription,
        'one subscription id per topic and options (checked via the meta API)',
      );
      const [looked] = await c1.callArgs('wamp.subscription.lookup', [topic]);
      assert.equal(looked, subscription, 'lookup');
      const [count] = await c1.callArgs('wamp.subscription.count_subscribers', [subscription]);
      assert.equal(count, 2, 'count_subscribers');
      const [list] = await c1.callArgs('wamp.subscription.list_subscribers', [subscription]);
      assert.ok(
        Array.isArray(list) && list.includes(c1.session) && list.includes(c2.session),
        `${render(list)}`,
      );
      const [none] = await c1.callArgs('wamp.subscription.lookup', [ctx.uri('nobody')]);
      assert.equal(none, null, 'lookup of a topic without subscribers');
    },
  },
  {
    id: 'meta.99',
    group: 'meta',
    title: 'REGISTER → wamp.registration.on_create then on_register; lookup and list_callees → the callee',
    checklist: [99],
    requires: ['dealer.registration_meta_api'],
    async run(ctx) {
      const watcher = await ctx.join({ label: 'watcher' });
      const onCreate = await watcher.subscribe('wamp.registration.on_create');
      const onRegister = await watcher.subscribe('wamp.registration.on_register');
      const callee = await ctx.join({ label: 'callee' });
      const procedure = ctx.uri('p');
      const registration = await callee.register(procedure);
      const created = await watcher.next((m) => m[1] === onCreate && argsAt(m, 4)[0] === callee.session);
      const details = argsAt(created, 4)[1];
      assert.ok(isDict(details) && details.uri === procedure && details.id === registration, render(details));
      const registered = await watcher.next((m) => m[1] === onRegister && argsAt(m, 4)[0] === callee.session);
      assert.equal(argsAt(registered, 4)[1], registration, 'on_register registration id');
      assert.ok(
        watcher.received().indexOf(created) < watcher.received().indexOf(registered),
        'create before register',
      );
      const [looked] = await watcher.callArgs('wamp.registration.lookup', [procedure]);
      assert.equal(looked, registration, 'lookup');
      const [callees] = await watcher.callArgs('wamp.registration.list_callees', [registration]);
      assert.deepEqual(callees, [callee.session], 'list_callees');
      const [count] = await watcher.callArgs('wamp.registration.count_callees', [registration]);
      assert.equal(count, 1, 'count_callees');
    },
  },
  {
    id: 'meta.100',
    group: 'meta',
    title: 'wamp.session.add_testament, then a transport drop → subscribers get the testament EVENT',
    checklist: [100],
    requires: ['dealer.testament_meta_api'],
    async run(ctx) {
      const subscriber = await ctx.join({ label: 'subscriber' });
      const topic = ctx.uri('t');
      const subscription = await subscriber.subscribe(topic);
      const dying = await ctx.join({ label: 'dying' });
      await dying.callArgs('wamp.session.add_testament', [topic, [1], { k: 'v' }]);
      dying.terminate();
      const event = await subscriber.next(eventOf(subscription));
      assert.deepEqual(argsAt(event, 4), [1], 'testament args');
      assert.deepEqual(event[5], { k: 'v' }, 'testament kwargs');
    },
  },
  {
    id: 'meta.100b',
    group: 'meta',
    title: 'wamp.session.flush_testaments before the drop → nothing is published',
    checklist: [100],
    requires: ['dealer.testament_meta_api'],
    async run(ctx) {
      const subscriber = await ctx.join({ label: 'subscriber' });
      const topic = ctx.uri('t');
      const subscription = await subscriber.subscribe(topic);
      const dying = await ctx.join({ label: 'dying' });
      await dying.callArgs('wamp.session.add_testament', [topic, [1], {}]);
      await dying.callArgs('wamp.session.flush_testaments');
      await dying.goodbye();
      // A fresh publisher's marker cannot overtake a testament published at leave time by much; wait a little too.
      const marker = await ctx.join({ label: 'marker' });
      await pubsubBarrier(marker, subscriber, ctx.uri('barrier'));
      await subscriber.expectNone(eventOf(subscription), 100, 'a flushed testament');
    },
  },
];

function hasSession(message: WampMessage, session: number): boolean {
  const details = argsAt(message, 4)[0];
  return isDict(details) && details.session === session;
}
