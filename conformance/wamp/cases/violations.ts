/**
 * Protocol violations (wamp.md checklist 30–40, §1.7). Each must get ABORT `wamp.error.protocol_violation`
 * (nothing else first); case 30 also checks that the violator's registration is freed. That the transport is
 * dropped afterwards is the spec's SHOULD, checked once by `violations.drop`. Case 37 checks a repeated (not
 * increasing) request id; the optional strict "no gaps" rule is not asserted.
 */
import type { CaseContext, ConformanceCase } from '../case.js';
import type { WampPeer } from '../client.js';
import { expectViolation } from '../helpers.js';
import { MSG } from '../messages.js';
import { DROP_AFTER_VIOLATION } from '../spec.js';

/** Opens a peer (joined unless `joined` is false), sends `message` and expects the violation outcome. */
async function violate(
  ctx: CaseContext,
  joined: boolean,
  message: (peer: WampPeer) => unknown,
): Promise<void> {
  const peer = joined ? await ctx.join() : await ctx.open();
  peer.send(message(peer));
  await expectViolation(peer);
}

function violation(
  id: string,
  checklist: number,
  title: string,
  joined: boolean,
  messages: readonly ((peer: WampPeer, ctx: CaseContext) => unknown)[],
): ConformanceCase {
  return {
    id,
    group: 'violations',
    title,
    checklist: [checklist],
    async run(ctx) {
      // One fresh peer per message: each must be aborted on its own.
      await Promise.all(messages.map((message) => violate(ctx, joined, (peer) => message(peer, ctx))));
    },
  };
}

/** Violation cases. */
export const violationCases: ConformanceCase[] = [
  {
    id: 'violations.drop',
    group: 'violations',
    title: 'after ABORT protocol_violation (a second HELLO, an unknown type) the router drops the transport',
    checklist: [30, 34],
    cite: DROP_AFTER_VIOLATION,
    async run(ctx) {
      for (const message of [
        [MSG.HELLO, ctx.options.realm, { roles: { caller: {} } }],
        [99, {}],
      ]) {
        const peer = await ctx.join();
        peer.send(message);
        await expectViolation(peer);
        await peer.waitClose();
      }
    },
  },
  {
    id: 'violations.30',
    group: 'violations',
    title: 'a second HELLO after WELCOME → ABORT protocol_violation; its registration is freed',
    checklist: [30],
    async run(ctx) {
      const c1 = await ctx.join();
      const procedure = ctx.uri('p');
      await c1.register(procedure);
      c1.send([MSG.HELLO, ctx.options.realm, { roles: { caller: {} } }]);
      await expectViolation(c1);
      const c2 = await ctx.join();
      await c2.register(procedure);
    },
  },
  violation(
    'violations.31',
    31,
    'SUBSCRIBE, CALL or PUBLISH before HELLO → ABORT protocol_violation',
    false,
    [
      (_peer, ctx) => [MSG.SUBSCRIBE, 1, {}, ctx.uri('t')],
      (_peer, ctx) => [MSG.CALL, 1, {}, ctx.uri('p')],
      (_peer, ctx) => [MSG.PUBLISH, 1, {}, ctx.uri('t')],
    ],
  ),
  violation(
    'violations.32',
    32,
    'GOODBYE before the session is established → ABORT protocol_violation',
    false,
    [() => [MSG.GOODBYE, {}, 'wamp.close.close_realm']],
  ),
  violation('violations.33', 33, 'client sends WELCOME or CHALLENGE → ABORT protocol_violation', true, [
    () => [MSG.WELCOME, 1, { roles: { broker: {} } }],
    () => [MSG.CHALLENGE, 'ticket', {}],
  ]),
  violation('violations.34', 34, 'unknown message type (0, 7, 99, 1000) → ABORT protocol_violation', true, [
    () => [0, 1, {}],
    () => [7, {}],
    () => [99, 1, {}],
    () => [1000, 1, {}],
  ]),
  violation(
    'violations.35',
    35,
    '[], a non-list, Options as a list, Request as a string → ABORT protocol_violation',
    true,
    [
      () => [],
      () => ({ type: 32 }),
      (_peer, ctx) => [MSG.SUBSCRIBE, 1, [], ctx.uri('t')],
      (_peer, ctx) => [MSG.SUBSCRIBE, '1', {}, ctx.uri('t')],
    ],
  ),
  violation(
    'violations.36',
    36,
    'request id 0, negative, non-integer or > 2^53 → ABORT protocol_violation',
    true,
    [
      (_peer, ctx) => [MSG.SUBSCRIBE, 0, {}, ctx.uri('t')],
      (_peer, ctx) => [MSG.SUBSCRIBE, -1, {}, ctx.uri('t')],
      (_peer, ctx) => [MSG.SUBSCRIBE, 1.5, {}, ctx.uri('t')],
      (_peer, ctx) => [MSG.SUBSCRIBE, 2 ** 53 + 2, {}, ctx.uri('t')],
    ],
  ),
  {
    id: 'violations.37',
    group: 'violations',
    title: 'request ids not increasing (1, 2, then 1 again) → ABORT protocol_violation',
    checklist: [37],
    async run(ctx) {
      const peer = await ctx.join();
      await peer.subscribe(ctx.uri('a'));
      await peer.subscribe(ctx.uri('b'));
      peer.send([MSG.SUBSCRIBE, 1, {}, ctx.uri('c')]);
      await expectViolation(peer);
    },
  },
  violation(
    'violations.38',
    38,
    'ERROR with REQUEST.Type PUBLISH (16) from a client → ABORT protocol_violation',
    true,
    [() => [MSG.ERROR, MSG.PUBLISH, 1, {}, 'com.example.error']],
  ),
  violation(
    'violations.39',
    39,
    'YIELD for an INVOCATION id the router never issued → ABORT protocol_violation',
    true,
    [() => [MSG.YIELD, 4242, {}, ['x']]],
  ),
  {
    id: 'violations.40',
    group: 'violations',
    title: 'CALL progress:true without announcing progressive_call_invocations → ABORT protocol_violation',
    checklist: [40],
    async run(ctx) {
      const callee = await ctx.join();
      const procedure = ctx.uri('p');
      await callee.register(procedure);
      const caller = await ctx.join();
      caller.send([MSG.CALL, caller.nextRequestId(), { progress: true }, procedure, [1]]);
      await expectViolation(caller);
    },
  },
];
