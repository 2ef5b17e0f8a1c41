/**
 * URI checking (wamp.md checklist 41–44, §1.3): empty components, the reserved `wamp.` prefix, the strict rule
 * (lowercase, digits, `_`; `--uri-check loose` flips case 43) and `#` or whitespace in any mode. Each must be an
 * ERROR for the request that carried the URI, not a protocol violation.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import { render } from '../client.js';
import { assertError } from '../helpers.js';
import { MSG, URI } from '../messages.js';

/** URI cases. */
export const uriCases: ConformanceCase[] = [
  {
    id: 'uri.41',
    group: 'uri',
    title: 'SUBSCRIBE to a URI with an empty component → ERROR [8,32,req,{},invalid_uri]',
    checklist: [41],
    async run(ctx) {
      const peer = await ctx.join();
      const request = peer.nextRequestId();
      const reply = await peer.request(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
        MSG.SUBSCRIBE,
        request,
        {},
        `${ctx.uri('a')}..x`,
      ]);
      assertError(reply, MSG.SUBSCRIBE, request, URI.invalidUri);
    },
  },
  {
    id: 'uri.42',
    group: 'uri',
    title: 'REGISTER wamp.* by a normal client → ERROR invalid_uri or not_authorized',
    checklist: [42],
    async run(ctx) {
      const peer = await ctx.join();
      const request = peer.nextRequestId();
      const reply = await peer.request(MSG.REGISTER, MSG.REGISTERED, [
        MSG.REGISTER,
        request,
        {},
        `wamp.${ctx.uri('p')}`,
      ]);
      assertError(reply, MSG.REGISTER, request, [URI.invalidUri, URI.notAuthorized]);
    },
  },
  {
    id: 'uri.43',
    group: 'uri',
    title: 'CALL a URI with uppercase → strict: ERROR invalid_uri; loose: routed normally',
    checklist: [43],
    async run(ctx) {
      const procedure = `${ctx.uri('x')}.Mixed.Proc`;
      const caller = await ctx.join();
      if (ctx.options.uriCheck === 'strict') {
        const request = caller.sendCall(procedure);
        assertError(await caller.callOutcome(request), MSG.CALL, request, URI.invalidUri);
        return;
      }
      const callee = await ctx.join();
      const registration = await callee.register(procedure);
      const request = caller.sendCall(procedure, ['x']);
      const invocation = await callee.invocation(registration);
      callee.yield(invocation[1] as number, ['ok']);
      const result = await caller.callOutcome(request);
      assert.equal(result[0], MSG.RESULT, `loose URI routed: ${render(result)}`);
    },
  },
  {
    id: 'uri.44',
    group: 'uri',
    title: 'a URI with # or whitespace in SUBSCRIBE, REGISTER, CALL, PUBLISH → ERROR invalid_uri',
    checklist: [44],
    async run(ctx) {
      const peer = await ctx.join();
      const base = ctx.uri('u');
      const cases: [number, number, string][] = [
        [MSG.SUBSCRIBE, MSG.SUBSCRIBED, `${base}.a#b`],
        [MSG.REGISTER, MSG.REGISTERED, `${base}.a b`],
        [MSG.CALL, MSG.RESULT, `${base}.a\tb`],
        [MSG.PUBLISH, MSG.PUBLISHED, `${base}.#`],
      ];
      for (const [type, replyCode, uri] of cases) {
        const request = peer.nextRequestId();
        const options = type === MSG.PUBLISH ? { acknowledge: true } : {};
        const reply = await peer.request(type, replyCode, [type, request, options, uri]);
        assertError(reply, type, request, URI.invalidUri);
      }
    },
  },
];
