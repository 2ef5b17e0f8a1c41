/**
 * Remote procedure calls, Basic Profile (wamp.md checklist 67–77, §1.8): REGISTERED and duplicate registrations,
 * INVOCATION shape and session-scoped sequential ids, YIELD → RESULT and callee ERROR → caller ERROR with the
 * payload unchanged, unknown procedures and registrations, UNREGISTER, a callee or caller leaving mid-call,
 * invocation order, and payloads across serializers (77; 77b adds bytes, the spec's binary-in-JSON rule).
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import { render } from '../client.js';
import { argsAt, assertError, assertResult, detailsOf, UNKNOWN_ID } from '../helpers.js';
import { isId, MSG, URI } from '../messages.js';
import { bytesOf, SERIALIZERS, type SerializerName, type WampDict, type WampValue } from '../serializers.js';

/** The serializer after `name` (json → msgpack → cbor → json), for cross-serializer cases. */
function otherSerializer(name: SerializerName): SerializerName {
  const index = SERIALIZERS.indexOf(name);
  return SERIALIZERS[(index + 1) % SERIALIZERS.length] ?? 'json';
}

/** Dealer cases. */
export const dealerCases: ConformanceCase[] = [
  {
    id: 'dealer.67',
    group: 'dealer',
    title:
      'REGISTER → REGISTERED [65,req,regId]; REGISTER again (same or other session) → procedure_already_exists',
    checklist: [67],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const procedure = ctx.uri('p');
      const request = c1.nextRequestId();
      const reply = await c1.request(MSG.REGISTER, MSG.REGISTERED, [MSG.REGISTER, request, {}, procedure]);
      assert.equal(reply[0], MSG.REGISTERED, `expected REGISTERED, got ${render(reply)}`);
      assert.equal(reply.length, 3, `REGISTERED has 3 elements: ${render(reply)}`);
      assert.ok(isId(reply[2]), `registration id ${render(reply[2])}`);
      for (const peer of [c1, c2]) {
        const again = peer.nextRequestId();
        const error = await peer.request(MSG.REGISTER, MSG.REGISTERED, [MSG.REGISTER, again, {}, procedure]);
        assertError(error, MSG.REGISTER, again, URI.procedureAlreadyExists);
      }
    },
  },
  {
    id: 'dealer.68',
    group: 'dealer',
    title: 'CALL args kwargs → INVOCATION [68,invReq,regId,{},args,kwargs]; invReq is 1, 2, 3 for the callee',
    checklist: [68],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const ids: WampValue[] = [];
      for (let i = 0; i < 3; i += 1) {
        caller.sendCall(ctx.uri('p'), ['a', i], { k: { deep: [i] } });
        const invocation = await callee.invocation(registration);
        assert.equal(invocation[2], registration, 'INVOCATION.REGISTERED.Registration');
        detailsOf(invocation, 3);
        assert.deepEqual(argsAt(invocation, 4), ['a', i], 'INVOCATION args');
        assert.deepEqual(invocation[5], { k: { deep: [i] } }, 'INVOCATION kwargs');
        ids.push(invocation[1] ?? null);
      }
      assert.deepEqual(ids, [1, 2, 3], 'INVOCATION request ids are session-scoped and sequential');
    },
  },
  {
    id: 'dealer.69',
    group: 'dealer',
    title: 'YIELD [70,invReq,{},args,kwargs] → RESULT [50,callReq,{},args,kwargs]',
    checklist: [69],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const request = caller.sendCall(ctx.uri('p'), [1]);
      const invocation = await callee.invocation(registration);
      callee.yield(invocation[1] as number, ['r', 2], { rk: { z: null } });
      const result = await caller.callOutcome(request);
      assertResult(result, request);
      assert.ok(detailsOf(result, 2).progress !== true, 'final RESULT is not progressive');
      assert.deepEqual(argsAt(result, 3), ['r', 2], 'RESULT args');
      assert.deepEqual(result[4], { rk: { z: null } }, 'RESULT kwargs');
    },
  },
  {
    id: 'dealer.70',
    group: 'dealer',
    title:
      'callee ERROR [8,68,invReq,{},uri,a,k] → caller ERROR [8,48,callReq,{},uri,a,k], payload unchanged',
    checklist: [70],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const request = caller.sendCall(ctx.uri('p'));
      const invocation = await callee.invocation(registration);
      callee.yieldError(invocation[1] as number, 'com.app.error.bad', ['a1', 2], { k: 'v' });
      const error = await caller.callOutcome(request);
      assertError(error, MSG.CALL, request, 'com.app.error.bad');
      assert.deepEqual(argsAt(error, 5), ['a1', 2], 'ERROR args');
      assert.deepEqual(error[6], { k: 'v' }, 'ERROR kwargs');
    },
  },
  {
    id: 'dealer.71',
    group: 'dealer',
    title: 'CALL an unregistered procedure → ERROR [8,48,req,{},no_such_procedure]',
    checklist: [71],
    async run(ctx) {
      const caller = await ctx.join();
      const request = caller.sendCall(ctx.uri('nobody'));
      assertError(await caller.callOutcome(request), MSG.CALL, request, URI.noSuchProcedure);
    },
  },
  {
    id: 'dealer.72',
    group: 'dealer',
    title: 'UNREGISTER → UNREGISTERED [67,req]; the next CALL → no_such_procedure',
    checklist: [72],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const reply = await callee.unregister(registration);
      assert.deepEqual(reply, [MSG.UNREGISTERED, 2], 'UNREGISTERED [67, req]');
      const request = caller.sendCall(ctx.uri('p'));
      assertError(await caller.callOutcome(request), MSG.CALL, request, URI.noSuchProcedure);
    },
  },
  {
    id: 'dealer.73',
    group: 'dealer',
    title: 'UNREGISTER an unknown id → ERROR [8,66,req,{},no_such_registration]',
    checklist: [73],
    async run(ctx) {
      const peer = await ctx.join();
      assertError(await peer.unregister(UNKNOWN_ID), MSG.UNREGISTER, 1, URI.noSuchRegistration);
    },
  },
  {
    id: 'dealer.74',
    group: 'dealer',
    title: 'callee drops its transport with an invocation pending → caller ERROR wamp.error.canceled',
    checklist: [74],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const request = caller.sendCall(ctx.uri('p'));
      await callee.invocation(registration);
      callee.terminate();
      assertError(await caller.callOutcome(request), MSG.CALL, request, URI.canceled);
    },
  },
  {
    id: 'dealer.75',
    group: 'dealer',
    title:
      'caller drops with an invocation pending → callee INTERRUPT {mode:"killnowait"}; late YIELD discarded',
    checklist: [75],
    requires: ['dealer.call_canceling'],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      caller.sendCall(ctx.uri('p'));
      const invocation = await callee.invocation(registration);
      caller.terminate();
      const interrupt = await callee.next([MSG.INTERRUPT, invocation[1] ?? null]);
      assert.equal(detailsOf(interrupt, 2).mode, 'killnowait', `INTERRUPT mode in ${render(interrupt)}`);
      callee.yield(invocation[1] as number, ['late']);
      // The callee is not punished for the late YIELD: it keeps serving.
      const other = await ctx.join({ label: 'caller2' });
      const request = other.sendCall(ctx.uri('p'), ['again']);
      const next = await callee.invocation(registration);
      callee.yield(next[1] as number, ['fine']);
      assertResult(await other.callOutcome(request), request);
    },
  },
  {
    id: 'dealer.76',
    group: 'dealer',
    title: 'calls to a then b (same callee) → INVOCATIONs arrive in call order',
    checklist: [76],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee' });
      const caller = await ctx.join({ label: 'caller' });
      const a = await callee.register(ctx.uri('a'));
      const b = await callee.register(ctx.uri('b'));
      for (let i = 0; i < 10; i += 1) caller.sendCall(ctx.uri(i % 2 === 0 ? 'a' : 'b'), [i]);
      const seen: WampValue[] = [];
      for (let i = 0; i < 10; i += 1) {
        const invocation = await callee.next((m) => m[0] === MSG.INVOCATION && (m[2] === a || m[2] === b));
        seen.push(argsAt(invocation, 4)[0] ?? null);
      }
      assert.deepEqual(
        seen,
        Array.from({ length: 10 }, (_, i) => i),
        'invocation order',
      );
    },
  },
  {
    id: 'dealer.77',
    group: 'dealer',
    title: 'cross-serializer call (callee on the next serializer) → args and kwargs arrive equal, both ways',
    checklist: [77],
    async run(ctx) {
      const payload: WampValue[] = [
        'str',
        'ünï©ødé ✓',
        0,
        -1,
        2 ** 31,
        2 ** 32 + 1,
        2 ** 53 - 1,
        1.5,
        true,
        null,
      ];
      const kwargs: WampDict = {
        nested: { list: [1, { deep: 'x' }], empty: {}, none: null },
        big: 2 ** 53 - 1,
      };
      const callee = await ctx.join({ label: 'callee', serializer: otherSerializer(ctx.serializer) });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const request = caller.sendCall(ctx.uri('p'), payload, kwargs);
      const invocation = await callee.invocation(registration);
      assert.deepEqual(argsAt(invocation, 4), payload, 'INVOCATION args across serializers');
      assert.deepEqual(invocation[5], kwargs, 'INVOCATION kwargs across serializers');
      callee.yield(invocation[1] as number, payload, kwargs);
      const result = await caller.callOutcome(request);
      assertResult(result, request);
      assert.deepEqual(argsAt(result, 3), payload, 'RESULT args across serializers');
      assert.deepEqual(result[4], kwargs, 'RESULT kwargs across serializers');
    },
  },
  {
    id: 'dealer.77b',
    group: 'dealer',
    title:
      'bytes across serializers: msgpack/cbor bin ⇄ JSON "\\u0000"+base64 (advanced/serialization_binary_json)',
    checklist: [77],
    async run(ctx) {
      const bytes = new Uint8Array([0, 1, 2, 127, 128, 255]);
      const callee = await ctx.join({ label: 'callee', serializer: otherSerializer(ctx.serializer) });
      const caller = await ctx.join({ label: 'caller' });
      const registration = await callee.register(ctx.uri('p'));
      const request = caller.sendCall(ctx.uri('p'), [bytes]);
      const invocation = await callee.invocation(registration);
      const received = argsAt(invocation, 4)[0];
      assert.deepEqual(
        bytesOf(received),
        bytes,
        `callee (${callee.serializer.name}) got ${render(received)}`,
      );
      if (callee.serializer.binary)
        assert.ok(
          received instanceof Uint8Array,
          `binary serializers carry bytes natively: ${render(received)}`,
        );
      callee.yield(invocation[1] as number, [bytes]);
      const result = await caller.callOutcome(request);
      assertResult(result, request);
      const back = argsAt(result, 3)[0];
      assert.deepEqual(bytesOf(back), bytes, `caller (${caller.serializer.name}) got ${render(back)}`);
    },
  },
];
