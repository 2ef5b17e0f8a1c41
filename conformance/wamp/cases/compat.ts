/**
 * Client-compatibility regressions (wamp.md checklist 102–104, §4.2). 101 (WELCOME always carries
 * `Details.roles`) is part of `session.14`.
 *
 * 102 encodes the policy wamp.md §4.2 advises: Autobahn|JS rejects a canceled call locally for every mode but
 * `kill` and treats any later RESULT or ERROR for that request as a protocol violation (3002). Its callee does
 * not announce `call_canceling`, so the router treats the cancel as `skip`, and a Crossbar-compatible router then
 * sends the caller nothing. A spec-literal router (Nexus) sends ERROR for `skip` and fails this case.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import { render } from '../client.js';
import { assertResult, serve } from '../helpers.js';
import { AUTOBAHN_ROLES, MSG } from '../messages.js';

/** Compatibility cases. */
export const compatCases: ConformanceCase[] = [
  {
    id: 'compat.102',
    group: 'compat',
    title:
      'Autobahn|JS cancel (CANCEL {} to an Autobahn callee) → no INTERRUPT, no RESULT or ERROR for it, socket open',
    checklist: [102],
    requires: ['dealer.call_canceling'],
    async run(ctx) {
      const callee = await ctx.join({ label: 'callee', roles: AUTOBAHN_ROLES });
      const caller = await ctx.join({ label: 'caller', roles: AUTOBAHN_ROLES });
      const registration = await callee.register(ctx.uri('p'));
      const request = caller.sendCall(ctx.uri('p'), ['slow']);
      const invocation = await callee.invocation(registration);
      caller.send([MSG.CANCEL, request, {}]);
      callee.yield(invocation[1] as number, ['late']);
      // Barrier: a second call through the same callee; its RESULT follows anything sent for the first.
      const barrier = caller.sendCall(ctx.uri('p'), ['barrier']);
      const next = await callee.invocation(registration);
      callee.yield(next[1] as number, ['barrier']);
      assertResult(await caller.callOutcome(barrier), barrier);
      const stray = caller.received(
        (m) => (m[0] === MSG.RESULT && m[1] === request) || (m[0] === MSG.ERROR && m[2] === request),
      );
      assert.deepEqual(
        stray.map((m) => render(m)),
        [],
        'no RESULT or ERROR for the canceled request',
      );
      assert.deepEqual(
        callee.received([MSG.INTERRUPT]),
        [],
        'no INTERRUPT to a callee without call_canceling',
      );
      assert.ok(caller.isOpen && callee.isOpen, 'both sockets stay open');
    },
  },
  {
    id: 'compat.103',
    group: 'compat',
    title: 'Wampy-style publishes (always acknowledge:true) → exactly one PUBLISHED per publish',
    checklist: [103],
    async run(ctx) {
      const peer = await ctx.join();
      const requests: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const reply = await peer.publishAck(ctx.uri('t'), [i]);
        assert.equal(reply[0], MSG.PUBLISHED, `PUBLISHED for publish ${i}: ${render(reply)}`);
        requests.push(reply[1] as number);
      }
      await peer.publishAck(ctx.uri('marker'));
      const published = peer.received([MSG.PUBLISHED]).map((m) => m[1]);
      assert.deepEqual(published.slice(0, 5), requests, 'one PUBLISHED per publish, in order');
      assert.equal(published.length, 6, `exactly one PUBLISHED each: ${render(published)}`);
    },
  },
  {
    id: 'compat.104',
    group: 'compat',
    title:
      '400 interleaved CALLs from two callers (this serializer and json) → every call settles exactly once',
    checklist: [104],
    timeoutMs: 8000,
    async run(ctx) {
      // Other serializers only where the suite runs them: a router may implement one (the spec's MUST).
      const other = (name: 'json' | 'msgpack') =>
        ctx.options.serializers.includes(name) ? name : ctx.serializer;
      const callee = await ctx.join({ label: 'callee', serializer: other('msgpack') });
      await serve(callee, ctx.uri('echo'));
      const callers = [
        await ctx.join({ label: 'A' }),
        await ctx.join({ label: 'B', serializer: other('json') }),
      ];
      const sent = callers.map((caller) => {
        const requests: number[] = [];
        for (let i = 0; i < 200; i += 1) requests.push(caller.sendCall(ctx.uri('echo'), [caller.label, i]));
        return requests;
      });
      await Promise.all(
        callers.map(async (caller, c) => {
          for (const [i, request] of (sent[c] ?? []).entries()) {
            const outcome = await caller.callOutcome(request, 5000);
            assertResult(outcome, request);
            assert.deepEqual(outcome[3], [caller.label, i], `echo of call ${i}`);
          }
        }),
      );
      for (const caller of callers) {
        await caller.publishAck(ctx.uri('marker'));
        const settled = caller.received(
          (m) => m[0] === MSG.RESULT || (m[0] === MSG.ERROR && m[1] === MSG.CALL),
        );
        assert.equal(settled.length, 200, `${caller.label}: ${settled.length} outcomes for 200 calls`);
      }
    },
  },
];
