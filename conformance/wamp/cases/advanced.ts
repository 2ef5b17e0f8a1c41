/**
 * Advanced Profile, PubSub and RPC (wamp.md checklist 57–66 and 78–90, §1.9): publisher exclusion and
 * identification, subscriber black/whitelisting, prefix and wildcard subscriptions, event retention, progressive
 * results, the three cancel modes, call timeouts, caller identification, pattern and shared registrations. Every
 * case `requires` the feature flag the router must announce for it; routers that do not are skipped, not failed.
 */
import assert from 'node:assert/strict';
import type { CaseContext, ConformanceCase } from '../case.js';
import { render, type WampMessage, type WampPeer } from '../client.js';
import {
  argsAt,
  assertError,
  assertResult,
  detailsOf,
  eventOf,
  pubsubBarrier,
  takeFromAny,
} from '../helpers.js';
import { MSG, URI } from '../messages.js';

/** A subscriber, a publisher and a third peer, all joined; the first two subscribed to `topic`. */
async function trio(ctx: CaseContext, topic: string) {
  const publisher = await ctx.join({ label: 'publisher' });
  const c2 = await ctx.join({ label: 'C2' });
  const c3 = await ctx.join({ label: 'C3' });
  const s2 = await c2.subscribe(topic);
  const s3 = await c3.subscribe(topic);
  return { publisher, c2, c3, s2, s3 };
}

/** After the barrier, the args of every EVENT `peer` got on `subscription`. */
function eventArgs(peer: WampPeer, subscription: number): unknown[] {
  return peer.received(eventOf(subscription)).map((m) => argsAt(m, 4)[0]);
}

/** A callee with a registration and a caller with a pending call, the INVOCATION received. */
async function pendingCall(ctx: CaseContext, callOptions: Record<string, boolean | number | string> = {}) {
  const callee = await ctx.join({ label: 'callee' });
  const caller = await ctx.join({ label: 'caller' });
  const registration = await callee.register(ctx.uri('p'));
  const request = caller.sendCall(ctx.uri('p'), ['x'], undefined, callOptions);
  const invocation = await callee.invocation(registration);
  return { callee, caller, registration, request, invocation, invocationId: invocation[1] as number };
}

/** Asserts the caller never got a RESULT for `request`, using a second call to the same callee as a barrier. */
async function assertNoResultAfter(ctx: CaseContext, caller: WampPeer, callee: WampPeer, request: number) {
  const registration = await callee.register(ctx.uri('barrier'));
  const barrier = caller.sendCall(ctx.uri('barrier'));
  const invocation = await callee.invocation(registration);
  callee.yield(invocation[1] as number, ['barrier']);
  assertResult(await caller.callOutcome(barrier), barrier);
  caller.assertNone((m) => m[0] === MSG.RESULT && m[1] === request, `a RESULT for canceled call ${request}`);
}

/** Advanced Profile cases. */
export const advancedCases: ConformanceCase[] = [
  {
    id: 'advanced.57',
    group: 'advanced',
    title: 'PUBLISH {exclude_me:false} by a subscriber → it receives its own EVENT',
    checklist: [57],
    requires: ['broker.publisher_exclusion'],
    async run(ctx) {
      const peer = await ctx.join();
      const subscription = await peer.subscribe(ctx.uri('t'));
      peer.publish(ctx.uri('t'), ['own'], undefined, { exclude_me: false });
      const event = await peer.next(eventOf(subscription));
      assert.deepEqual(argsAt(event, 4), ['own']);
    },
  },
  {
    id: 'advanced.58',
    group: 'advanced',
    title: 'PUBLISH {exclude:[C2]} → C3 gets the EVENT, C2 does not',
    checklist: [58],
    requires: ['broker.subscriber_blackwhite_listing'],
    async run(ctx) {
      const { publisher, c2, c3, s2, s3 } = await trio(ctx, ctx.uri('t'));
      publisher.publish(ctx.uri('t'), ['e'], undefined, { exclude: [c2.session] });
      await pubsubBarrier(publisher, c2, ctx.uri('b2'));
      await pubsubBarrier(publisher, c3, ctx.uri('b3'));
      assert.deepEqual(eventArgs(c2, s2), [], 'C2 excluded');
      assert.deepEqual(eventArgs(c3, s3), ['e'], 'C3 receives');
    },
  },
  {
    id: 'advanced.59',
    group: 'advanced',
    title: 'PUBLISH {eligible:[C2]} → only C2',
    checklist: [59],
    requires: ['broker.subscriber_blackwhite_listing'],
    async run(ctx) {
      const { publisher, c2, c3, s2, s3 } = await trio(ctx, ctx.uri('t'));
      publisher.publish(ctx.uri('t'), ['e'], undefined, { eligible: [c2.session] });
      await pubsubBarrier(publisher, c2, ctx.uri('b2'));
      await pubsubBarrier(publisher, c3, ctx.uri('b3'));
      assert.deepEqual(eventArgs(c2, s2), ['e'], 'C2 eligible');
      assert.deepEqual(eventArgs(c3, s3), [], 'C3 not eligible');
    },
  },
  {
    id: 'advanced.60',
    group: 'advanced',
    title: 'PUBLISH {eligible:[C2,C3], exclude:[C3]} → only C2',
    checklist: [60],
    requires: ['broker.subscriber_blackwhite_listing'],
    async run(ctx) {
      const { publisher, c2, c3, s2, s3 } = await trio(ctx, ctx.uri('t'));
      publisher.publish(ctx.uri('t'), ['e'], undefined, {
        eligible: [c2.session, c3.session],
        exclude: [c3.session],
      });
      await pubsubBarrier(publisher, c2, ctx.uri('b2'));
      await pubsubBarrier(publisher, c3, ctx.uri('b3'));
      assert.deepEqual(eventArgs(c2, s2), ['e'], 'C2 receives');
      assert.deepEqual(eventArgs(c3, s3), [], 'C3 excluded');
    },
  },
  {
    id: 'advanced.61',
    group: 'advanced',
    title:
      'PUBLISH eligible_authrole / exclude_authrole / exclude_authid → filtered by the WELCOME authrole/authid',
    checklist: [61],
    requires: ['broker.subscriber_blackwhite_listing'],
    async run(ctx) {
      const { publisher, c2, s2 } = await trio(ctx, ctx.uri('t'));
      const { authrole, authid } = c2.welcome;
      publisher.publish(ctx.uri('t'), ['none'], undefined, {
        eligible_authrole: ['com.conformance.no_such_role'],
      });
      if (typeof authrole === 'string') {
        publisher.publish(ctx.uri('t'), ['role'], undefined, { eligible_authrole: [authrole] });
        publisher.publish(ctx.uri('t'), ['excluded-role'], undefined, { exclude_authrole: [authrole] });
      }
      if (typeof authid === 'string') {
        publisher.publish(ctx.uri('t'), ['excluded-id'], undefined, { exclude_authid: [authid] });
        publisher.publish(ctx.uri('t'), ['id'], undefined, { eligible_authid: [authid] });
      }
      await pubsubBarrier(publisher, c2, ctx.uri('b2'));
      const expected = [
        ...(typeof authrole === 'string' ? ['role'] : []),
        ...(typeof authid === 'string' ? ['id'] : []),
      ];
      assert.deepEqual(
        eventArgs(c2, s2),
        expected,
        `C2 (authrole ${render(authrole)}, authid ${render(authid)})`,
      );
    },
  },
  {
    id: 'advanced.62',
    group: 'advanced',
    title: 'PUBLISH {disclose_me:true} → EVENT.Details.publisher = the publisher’s session id',
    checklist: [62],
    requires: ['broker.publisher_identification'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const subscription = await c1.subscribe(ctx.uri('t'));
      c2.publish(ctx.uri('t'), [], undefined, { disclose_me: true });
      const event = await c1.next(eventOf(subscription));
      assert.equal(detailsOf(event, 3).publisher, c2.session, `EVENT.Details.publisher in ${render(event)}`);
    },
  },
  {
    id: 'advanced.63',
    group: 'advanced',
    title:
      'SUBSCRIBE {match:"prefix"} P → events for P, P.b, Px (string prefix), not Q; Details.topic concrete',
    checklist: [63],
    requires: ['broker.pattern_based_subscription'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const prefix = ctx.uri('a');
      const subscription = await c1.subscribe(prefix, { match: 'prefix' });
      const topics = [prefix, `${prefix}.b`, `${prefix}x`, ctx.uri('b'), `${prefix}.b.c`];
      for (const topic of topics) c2.publish(topic, [topic]);
      await pubsubBarrier(c2, c1, ctx.uri('barrier'));
      const events = c1.received(eventOf(subscription));
      const expected = [prefix, `${prefix}.b`, `${prefix}x`, `${prefix}.b.c`];
      assert.deepEqual(
        events.map((m) => argsAt(m, 4)[0]),
        expected,
        'prefix matches',
      );
      assert.deepEqual(
        events.map((m) => detailsOf(m, 3).topic),
        expected,
        'EVENT.Details.topic is the concrete topic',
      );
    },
  },
  {
    id: 'advanced.64',
    group: 'advanced',
    title: 'SUBSCRIBE {match:"wildcard"} P..x → events for P.y.x, not P.y.z.x or P.y; Details.topic set',
    checklist: [64],
    requires: ['broker.pattern_based_subscription'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const base = ctx.uri('w');
      const subscription = await c1.subscribe(`${base}..x`, { match: 'wildcard' });
      for (const topic of [`${base}.y.x`, `${base}.y.z.x`, `${base}.y`, `${base}.q.x`])
        c2.publish(topic, [topic]);
      await pubsubBarrier(c2, c1, ctx.uri('barrier'));
      const events = c1.received(eventOf(subscription));
      assert.deepEqual(
        events.map((m) => argsAt(m, 4)[0]),
        [`${base}.y.x`, `${base}.q.x`],
        'wildcard matches',
      );
      assert.deepEqual(
        events.map((m) => detailsOf(m, 3).topic),
        [`${base}.y.x`, `${base}.q.x`],
        'EVENT.Details.topic',
      );
    },
  },
  {
    id: 'advanced.65',
    group: 'advanced',
    title:
      'exact and prefix subscriptions in one session both match → two EVENTs, same pubId, different subIds',
    checklist: [65],
    requires: ['broker.pattern_based_subscription'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const exact = await c1.subscribe(ctx.uri('t.x'));
      const prefix = await c1.subscribe(ctx.uri('t'), { match: 'prefix' });
      assert.notEqual(exact, prefix, 'distinct subscription ids');
      const published = await c2.publishAck(ctx.uri('t.x'), ['both']);
      const [a, b] = [await c1.next(eventOf(exact)), await c1.next(eventOf(prefix))];
      assert.equal(a[2], published[2], 'exact EVENT pubId');
      assert.equal(b[2], published[2], 'prefix EVENT pubId');
    },
  },
  {
    id: 'advanced.66',
    group: 'advanced',
    title:
      'PUBLISH {retain:true}, then SUBSCRIBE {get_retained:true} → SUBSCRIBED, then EVENT {retained:true}',
    checklist: [66],
    requires: ['broker.event_retention'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const published = await c2.publishAck(topic, ['kept'], { k: 1 }, { retain: true });
      assert.equal(published[0], MSG.PUBLISHED, `retained publish: ${render(published)}`);
      const subscription = await c1.subscribe(topic, { get_retained: true });
      const event = await c1.next(eventOf(subscription));
      assert.equal(detailsOf(event, 3).retained, true, `EVENT.Details.retained in ${render(event)}`);
      assert.deepEqual(argsAt(event, 4), ['kept'], 'retained args');
      const order = c1.received((m) => m[0] === MSG.SUBSCRIBED || m === event);
      assert.equal(order[0]?.[0], MSG.SUBSCRIBED, 'SUBSCRIBED before the retained EVENT');
    },
  },
  {
    id: 'advanced.66b',
    group: 'advanced',
    title: 'the retained EVENT carries the publication id of the original PUBLISH',
    checklist: [66],
    cite: {
      level: 'pgrt',
      source: "pgrt's WAMP broker (adapters/wamp)",
      text: 'A retained event keeps the publication id of its PUBLISH; the spec does not say which id it carries.',
    },
    requires: ['broker.event_retention'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const published = await c2.publishAck(topic, ['kept'], {}, { retain: true });
      const subscription = await c1.subscribe(topic, { get_retained: true });
      const event = await c1.next(eventOf(subscription));
      assert.equal(event[2], published[2], 'retained EVENT carries the original publication id');
    },
  },
  {
    id: 'advanced.78',
    group: 'advanced',
    title:
      'CALL {receive_progress:true}; YIELD {progress:true} ×2 then {} → RESULT {progress:true} ×2, then final',
    checklist: [78],
    requires: ['dealer.progressive_call_results'],
    async run(ctx) {
      const { callee, caller, request, invocation, invocationId } = await pendingCall(ctx, {
        receive_progress: true,
      });
      assert.equal(detailsOf(invocation, 3).receive_progress, true, 'INVOCATION.Details.receive_progress');
      callee.yield(invocationId, [1], undefined, { progress: true });
      callee.yield(invocationId, [2], undefined, { progress: true });
      callee.yield(invocationId, [3]);
      const final = await caller.callOutcome(request);
      assertResult(final, request);
      const results = caller.received((m) => m[0] === MSG.RESULT && m[1] === request);
      assert.deepEqual(
        results.map((m) => [detailsOf(m, 2).progress === true, argsAt(m, 3)[0]]),
        [
          [true, 1],
          [true, 2],
          [false, 3],
        ],
        'two progressive RESULTs, then the final one',
      );
    },
  },
  {
    id: 'advanced.79',
    group: 'advanced',
    title:
      'CALL without receive_progress, callee YIELDs {progress:true} → only the final RESULT reaches the caller',
    checklist: [79],
    requires: ['dealer.progressive_call_results'],
    async run(ctx) {
      const { callee, caller, request, invocationId } = await pendingCall(ctx);
      callee.yield(invocationId, [1], undefined, { progress: true });
      callee.yield(invocationId, [2]);
      const final = await caller.callOutcome(request);
      assertResult(final, request);
      const results = caller.received((m) => m[0] === MSG.RESULT && m[1] === request);
      assert.deepEqual(
        results.map((m) => argsAt(m, 3)[0]),
        [2],
        `only the final RESULT: ${results.map((m) => render(m)).join(', ')}`,
      );
    },
  },
  {
    id: 'advanced.80',
    group: 'advanced',
    title:
      'CANCEL {mode:"kill"} → INTERRUPT {mode:"kill"}; caller ERROR canceled only after the callee answers',
    checklist: [80],
    requires: ['dealer.call_canceling'],
    async run(ctx) {
      const { callee, caller, request, invocationId } = await pendingCall(ctx);
      caller.send([MSG.CANCEL, request, { mode: 'kill' }]);
      const interrupt = await callee.next([MSG.INTERRUPT, invocationId]);
      assert.equal(detailsOf(interrupt, 2).mode, 'kill', `INTERRUPT mode in ${render(interrupt)}`);
      // Nothing for the caller before the callee answers (the INTERRUPT was sent after the CANCEL was handled).
      caller.assertNone(
        (m) => (m[0] === MSG.ERROR && m[2] === request) || (m[0] === MSG.RESULT && m[1] === request),
        'an answer before the callee answered the INTERRUPT',
      );
      callee.yieldError(invocationId, URI.canceled);
      assertError(await caller.callOutcome(request), MSG.CALL, request, URI.canceled);
    },
  },
  {
    id: 'advanced.81',
    group: 'advanced',
    title:
      'CANCEL {mode:"killnowait"} → INTERRUPT and caller ERROR canceled at once; the late YIELD is dropped',
    checklist: [81],
    requires: ['dealer.call_canceling'],
    async run(ctx) {
      const { callee, caller, request, invocationId } = await pendingCall(ctx);
      caller.send([MSG.CANCEL, request, { mode: 'killnowait' }]);
      const interrupt = await callee.next([MSG.INTERRUPT, invocationId]);
      assert.equal(detailsOf(interrupt, 2).mode, 'killnowait', `INTERRUPT mode in ${render(interrupt)}`);
      assertError(await caller.callOutcome(request), MSG.CALL, request, URI.canceled);
      callee.yield(invocationId, ['late']);
      await assertNoResultAfter(ctx, caller, callee, request);
    },
  },
  {
    id: 'advanced.82',
    group: 'advanced',
    title:
      'CANCEL {mode:"skip"} → no INTERRUPT; caller ERROR canceled or nothing (policy); late YIELD never forwarded',
    checklist: [82],
    requires: ['dealer.call_canceling'],
    async run(ctx) {
      const { callee, caller, request, invocationId } = await pendingCall(ctx);
      caller.send([MSG.CANCEL, request, { mode: 'skip' }]);
      callee.yield(invocationId, ['late']);
      await assertNoResultAfter(ctx, caller, callee, request);
      callee.assertNone([MSG.INTERRUPT], 'an INTERRUPT for mode skip');
      for (const error of caller.received((m) => m[0] === MSG.ERROR && m[2] === request)) {
        assertError(error, MSG.CALL, request, URI.canceled);
      }
    },
  },
  {
    id: 'advanced.83',
    group: 'advanced',
    title:
      'CALL {timeout:100}, callee silent → ~100 ms later caller ERROR wamp.error.timeout, callee INTERRUPT',
    checklist: [83],
    requires: ['dealer.call_timeout'],
    async run(ctx) {
      const started = performance.now();
      const { callee, caller, request, invocationId } = await pendingCall(ctx, { timeout: 100 });
      const error = await caller.callOutcome(request);
      const elapsed = performance.now() - started;
      assertError(error, MSG.CALL, request, URI.timeout);
      assert.ok(elapsed >= 90, `the timeout fired after ${Math.round(elapsed)} ms, not before 100 ms`);
      const interrupt = await callee.next([MSG.INTERRUPT, invocationId]);
      assert.equal(detailsOf(interrupt, 2).mode, 'killnowait', `INTERRUPT mode in ${render(interrupt)}`);
    },
  },
  {
    id: 'advanced.84',
    group: 'advanced',
    title: 'CALL {disclose_me:true} → INVOCATION.Details.caller = the caller’s session id',
    checklist: [84],
    requires: ['dealer.caller_identification'],
    async run(ctx) {
      const { caller, invocation } = await pendingCall(ctx, { disclose_me: true });
      assert.equal(
        detailsOf(invocation, 3).caller,
        caller.session,
        `INVOCATION.Details in ${render(invocation)}`,
      );
    },
  },
  {
    id: 'advanced.85',
    group: 'advanced',
    title: 'REGISTER {disclose_caller:true} → every INVOCATION carries Details.caller',
    checklist: [85],
    requires: ['dealer.caller_identification'],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const registration = await callee.register(ctx.uri('p'), { disclose_caller: true });
      for (const label of ['caller1', 'caller2']) {
        const caller = await ctx.join({ label });
        caller.sendCall(ctx.uri('p'));
        const invocation = await callee.invocation(registration);
        assert.equal(
          detailsOf(invocation, 3).caller,
          caller.session,
          `INVOCATION.Details in ${render(invocation)}`,
        );
      }
    },
  },
  {
    id: 'advanced.86',
    group: 'advanced',
    title: 'REGISTER {match:"prefix"} P → CALL P.b.c is routed; INVOCATION.Details.procedure = "P.b.c"',
    checklist: [86],
    requires: ['dealer.pattern_based_registration'],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('a'), { match: 'prefix' });
      const request = caller.sendCall(ctx.uri('a.b.c'), [1]);
      const invocation = await callee.invocation(registration);
      assert.equal(
        detailsOf(invocation, 3).procedure,
        ctx.uri('a.b.c'),
        `INVOCATION.Details in ${render(invocation)}`,
      );
      callee.yield(invocation[1] as number, ['ok']);
      assertResult(await caller.callOutcome(request), request);
    },
  },
  {
    id: 'advanced.87',
    group: 'advanced',
    title: 'exact a.b.c, prefix a.b, wildcard a..c registered → a.b.c exact, a.b.x prefix, a.z.c wildcard',
    checklist: [87],
    requires: ['dealer.pattern_based_registration'],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const exact = await callee.register(ctx.uri('a.b.c'));
      const prefix = await callee.register(ctx.uri('a.b'), { match: 'prefix' });
      const wildcard = await callee.register(ctx.uri('a..c'), { match: 'wildcard' });
      const routes: [string, number][] = [
        ['a.b.c', exact],
        ['a.b.x', prefix],
        ['a.z.c', wildcard],
      ];
      for (const [name, registration] of routes) {
        const request = caller.sendCall(ctx.uri(name));
        const invocation: WampMessage = await callee.invocation();
        assert.equal(invocation[2], registration, `CALL ${name} routed to registration ${registration}`);
        callee.yield(invocation[1] as number);
        assertResult(await caller.callOutcome(request), request);
      }
    },
  },
  {
    id: 'advanced.88',
    group: 'advanced',
    title: 'REGISTER {invoke:"roundrobin"} from C1 and C2, then 4 calls → C1, C2, C1, C2',
    checklist: [88],
    requires: ['dealer.shared_registration'],
    async run(ctx) {
      const c1 = await ctx.join({ label: 'callee1' });
      const c2 = await ctx.join({ label: 'callee2' });
      const caller = await ctx.join({ label: 'caller' });
      await c1.register(ctx.uri('p'), { invoke: 'roundrobin' });
      await c2.register(ctx.uri('p'), { invoke: 'roundrobin' });
      const order: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const request = caller.sendCall(ctx.uri('p'));
        const invocation = await takeFromAny([c1, c2], [MSG.INVOCATION]);
        order.push(invocation.peer.label);
        invocation.peer.yield(invocation.m[1] as number);
        assertResult(await caller.callOutcome(request), request);
      }
      const [first, second] = order;
      assert.ok(
        first !== undefined && second !== undefined && first !== second,
        `alternating: ${order.join(', ')}`,
      );
      assert.deepEqual(order, [first, second, first, second], 'round robin');
    },
  },
  {
    id: 'advanced.89',
    group: 'advanced',
    title:
      'REGISTER single (default), then another session REGISTER {invoke:"roundrobin"} → procedure_already_exists',
    checklist: [89],
    requires: ['dealer.shared_registration'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      await c1.register(ctx.uri('p'));
      const request = c2.nextRequestId();
      const reply = await c2.request(MSG.REGISTER, MSG.REGISTERED, [
        MSG.REGISTER,
        request,
        { invoke: 'roundrobin' },
        ctx.uri('p'),
      ]);
      assertError(reply, MSG.REGISTER, request, URI.procedureAlreadyExists);
    },
  },
  {
    id: 'advanced.90',
    group: 'advanced',
    title: 'REGISTER {invoke:"first"} from C1 then C2 → calls go to C1; after C1 leaves, to C2',
    checklist: [90],
    requires: ['dealer.shared_registration'],
    async run(ctx) {
      const c1 = await ctx.join({ label: 'callee1' });
      const c2 = await ctx.join({ label: 'callee2' });
      const caller = await ctx.join({ label: 'caller' });
      const r1 = await c1.register(ctx.uri('p'), { invoke: 'first' });
      const r2 = await c2.register(ctx.uri('p'), { invoke: 'first' });
      for (let i = 0; i < 2; i += 1) {
        const request = caller.sendCall(ctx.uri('p'));
        const invocation = await c1.invocation(r1);
        c1.yield(invocation[1] as number);
        assertResult(await caller.callOutcome(request), request);
      }
      c2.assertNone([MSG.INVOCATION], 'an INVOCATION for the second registrant');
      await c1.goodbye();
      const request = caller.sendCall(ctx.uri('p'));
      const invocation = await c2.invocation(r2);
      c2.yield(invocation[1] as number);
      assertResult(await caller.callOutcome(request), request);
    },
  },
];
