/**
 * pgrt's core bridge (adapters/wamp/core-bridge.ts), run only with `--pgrt` against a pgrt router serving the
 * fixture app (`fixtures/app.ts`). Methods are procedures of the same name whose value is `RESULT.args[0]`;
 * ClientErrors become `pgrt.error.<code>` with kwargs `{error, reason, details}` and anything else
 * `pgrt.error.internal` without the message; each session's private topic `pgrt.session.<id>` carries its
 * publication data (`pgrt.subscribe [name, ...params]` → `[subId]`, then `added`…`ready` or `nosub` EVENTs with
 * kwargs only) and refuses every other session. The reserved namespaces hold: nothing is registered or published
 * under `pgrt.` or `wamp.`, testaments included, and pattern registrations and subscriptions never reach them.
 */
import assert from 'node:assert/strict';
import { type CaseContext, type ConformanceCase, pgrtOnly } from '../case.js';
import { isDict, render, type WampMessage, type WampPeer } from '../client.js';
import { FIXTURE } from '../fixtures/app.js';
import { argsAt, assertError, assertResult, detailsOf, eventOf } from '../helpers.js';
import { MSG, URI } from '../messages.js';
import type { WampDict } from '../serializers.js';

/** Private topic of a session. */
function privateTopic(session: number): string {
  return `pgrt.session.${session}`;
}

/** Joins and subscribes to the own private topic; returns the peer and that subscription. */
async function withChannel(ctx: CaseContext): Promise<{ peer: WampPeer; channel: number }> {
  const peer = await ctx.join();
  const channel = await peer.subscribe(privateTopic(peer.session));
  return { peer, channel };
}

/** The kwargs of the next channel EVENT matching `msg` (and `test`). */
async function channelEvent(
  peer: WampPeer,
  channel: number,
  msg: string,
  test: (kwargs: WampDict) => boolean = () => true,
): Promise<WampDict> {
  const event = await peer.next((m: WampMessage) => {
    const kwargs = m[5];
    return eventOf(channel)(m) && isDict(kwargs) && kwargs.msg === msg && test(kwargs);
  });
  return event[5] as WampDict;
}

function pgrtCase(id: string, title: string, run: ConformanceCase['run']): ConformanceCase {
  return { id: `pgrt.${id}`, group: 'pgrt', title, checklist: [], skip: pgrtOnly, run };
}

/** pgrt bridge cases. */
export const pgrtCases: ConformanceCase[] = [
  pgrtCase('method', 'a core method called as a procedure of the same name → RESULT [value]', async (ctx) => {
    const peer = await ctx.join();
    const request = peer.sendCall(FIXTURE.echo, [1, 'a', { b: [true, null] }]);
    const result = await peer.callOutcome(request);
    assertResult(result, request);
    assert.deepEqual(argsAt(result, 3), [[1, 'a', { b: [true, null] }]], 'RESULT.args = [return value]');
  }),
  pgrtCase(
    'method_error',
    'a method throwing ClientError → ERROR pgrt.error.<code> {error, reason, details}',
    async (ctx) => {
      const peer = await ctx.join();
      const request = peer.sendCall(FIXTURE.fail);
      const error = await peer.callOutcome(request);
      assertError(error, MSG.CALL, request, 'pgrt.error.not_allowed');
      assert.deepEqual(
        error[6],
        { error: 'not-allowed', reason: 'Nope', details: { why: 'test' } },
        'kwargs',
      );
    },
  ),
  pgrtCase(
    'method_internal',
    'a method throwing a plain Error → ERROR pgrt.error.internal, message not leaked',
    async (ctx) => {
      const peer = await ctx.join();
      const request = peer.sendCall(FIXTURE.crash);
      const error = await peer.callOutcome(request);
      assertError(error, MSG.CALL, request, 'pgrt.error.internal');
      assert.ok(
        !render(error).includes('secret internal detail'),
        `internal message leaked: ${render(error)}`,
      );
    },
  ),
  pgrtCase(
    'no_such_procedure',
    'CALL an unknown method name → ERROR wamp.error.no_such_procedure',
    async (ctx) => {
      const peer = await ctx.join();
      const request = peer.sendCall('conformance.no_such_method');
      assertError(await peer.callOutcome(request), MSG.CALL, request, URI.noSuchProcedure);
    },
  ),
  pgrtCase('method_taken', 'REGISTER a core method’s name → ERROR procedure_already_exists', async (ctx) => {
    const peer = await ctx.join();
    const request = peer.nextRequestId();
    const reply = await peer.request(MSG.REGISTER, MSG.REGISTERED, [MSG.REGISTER, request, {}, FIXTURE.echo]);
    assertError(reply, MSG.REGISTER, request, URI.procedureAlreadyExists);
  }),
  pgrtCase(
    'private_topic',
    'SUBSCRIBE pgrt.session.<other> → not_authorized; the own private topic → SUBSCRIBED',
    async (ctx) => {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const request = c2.nextRequestId();
      const reply = await c2.request(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
        MSG.SUBSCRIBE,
        request,
        {},
        privateTopic(c1.session),
      ]);
      assertError(reply, MSG.SUBSCRIBE, request, URI.notAuthorized);
      await c1.subscribe(privateTopic(c1.session));
    },
  ),
  pgrtCase(
    'private_publish',
    'PUBLISH to a private topic (even the own) → ERROR not_authorized',
    async (ctx) => {
      const peer = await ctx.join();
      const reply = await peer.publishAck(privateTopic(peer.session), [], { msg: 'added' });
      assertError(reply, MSG.PUBLISH, 1, URI.notAuthorized);
    },
  ),
  pgrtCase(
    'subscribe',
    'pgrt.subscribe [publication] → RESULT [subId], then added i1, i2 and ready on the private topic',
    async (ctx) => {
      const { peer, channel } = await withChannel(ctx);
      const [subId] = await peer.callArgs('pgrt.subscribe', [FIXTURE.items]);
      assert.equal(typeof subId, 'string', `subId ${render(subId)}`);
      const first = await channelEvent(peer, channel, 'added', (k) => k.id === 'i1');
      assert.deepEqual(first, { msg: 'added', collection: 'items', id: 'i1', fields: { n: 1 } });
      await channelEvent(peer, channel, 'added', (k) => k.id === 'i2');
      const ready = await channelEvent(peer, channel, 'ready');
      assert.deepEqual(ready.subs, [subId], `ready ${render(ready)}`);
    },
  ),
  pgrtCase(
    'subscribe_unknown',
    'pgrt.subscribe of an unknown publication → ERROR, or RESULT then nosub with an error',
    async (ctx) => {
      const { peer, channel } = await withChannel(ctx);
      const outcome = await peer.call('pgrt.subscribe', ['conformance.no_such_publication']);
      if (outcome[0] === MSG.ERROR) return;
      const [subId] = argsAt(outcome, 3);
      const nosub = await channelEvent(peer, channel, 'nosub', (k) => k.sub === subId);
      assert.ok(isDict(nosub.error), `nosub carries an error: ${render(nosub)}`);
    },
  ),
  pgrtCase(
    'subscribe_error',
    'a publication that errors → nosub {sub, error: {error: 412, reason}}',
    async (ctx) => {
      const { peer, channel } = await withChannel(ctx);
      const [subId] = await peer.callArgs('pgrt.subscribe', [FIXTURE.failing]);
      const nosub = await channelEvent(peer, channel, 'nosub', (k) => k.sub === subId);
      assert.ok(isDict(nosub.error), `nosub error: ${render(nosub)}`);
      assert.equal(nosub.error.error, 412, `nosub error code: ${render(nosub)}`);
      assert.equal(nosub.error.reason, 'Explicit error', `nosub reason: ${render(nosub)}`);
    },
  ),
  pgrtCase(
    'subscribe_without_topic',
    'pgrt.subscribe before subscribing the private topic → ERROR pgrt.error.no_session_topic',
    async (ctx) => {
      const peer = await ctx.join();
      const request = peer.sendCall('pgrt.subscribe', [FIXTURE.items]);
      assertError(await peer.callOutcome(request), MSG.CALL, request, 'pgrt.error.no_session_topic');
    },
  ),
  pgrtCase(
    'reserved_register',
    'REGISTER under pgrt. (exact, prefix) → not_authorized; under wamp. (prefix, wildcard) → invalid_uri',
    async (ctx) => {
      const peer = await ctx.join();
      for (const [procedure, match, uri] of [
        ['pgrt.conformance', 'exact', URI.notAuthorized],
        ['pgrt.', 'prefix', URI.notAuthorized],
        ['pgrt.session.', 'prefix', URI.notAuthorized],
        ['wamp.', 'prefix', URI.invalidUri],
        ['wamp.session.', 'prefix', URI.invalidUri],
        ['wamp..get', 'wildcard', URI.invalidUri],
      ] as const) {
        const request = peer.nextRequestId();
        const options = match === 'exact' ? {} : { match };
        const reply = await peer.request(MSG.REGISTER, MSG.REGISTERED, [
          MSG.REGISTER,
          request,
          options,
          procedure,
        ]);
        assertError(reply, MSG.REGISTER, request, uri);
      }
    },
  ),
  pgrtCase(
    'reserved_routing',
    'a prefix "" registration gets calls to other procedures, never to wamp.*, pgrt.* or core methods',
    async (ctx) => {
      const callee = await ctx.join({ label: 'callee' });
      const all = await callee.register('', { match: 'prefix' });
      const caller = await ctx.join({ label: 'caller' });
      for (const procedure of ['wamp.session.get_events', 'wamp.conformance.x', 'pgrt.conformance.x']) {
        const request = caller.sendCall(procedure, [1]);
        assertError(await caller.callOutcome(request), MSG.CALL, request, URI.noSuchProcedure);
      }
      const echo = caller.sendCall(FIXTURE.echo, [7]);
      const result = await caller.callOutcome(echo);
      assertResult(result, echo);
      assert.deepEqual(argsAt(result, 3), [[7]], 'the core method answered');
      caller.sendCall(ctx.uri('anything'), ['x']);
      const invocation = await callee.invocation(all);
      assert.deepEqual(
        argsAt(invocation, 4),
        ['x'],
        `the catch-all got only its call: ${render(invocation)}`,
      );
    },
  ),
  pgrtCase(
    'reserved_subscribe',
    'SUBSCRIBE prefix pgrt. → not_authorized; a prefix "" subscription gets no private-topic event',
    async (ctx) => {
      const peer = await ctx.join();
      for (const topic of ['pgrt.', 'pgrt.session.']) {
        const request = peer.nextRequestId();
        const reply = await peer.request(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
          MSG.SUBSCRIBE,
          request,
          { match: 'prefix' },
          topic,
        ]);
        assertError(reply, MSG.SUBSCRIBE, request, URI.notAuthorized);
      }
      const all = await peer.subscribe('', { match: 'prefix' });
      const channel = await peer.subscribe(privateTopic(peer.session));
      await peer.callArgs('pgrt.subscribe', [FIXTURE.items]);
      await channelEvent(peer, channel, 'ready');
      const other = await ctx.join();
      const marker = ctx.uri('marker');
      other.publish(marker, ['marker']);
      await peer.next((m: WampMessage) => eventOf(all)(m) && isDict(m[3]) && m[3].topic === marker);
      // Meta events may reach "" (this realm grants anonymous the meta API); private-topic events never.
      const leaked = peer
        .received(eventOf(all))
        .filter((m) => String(detailsOf(m, 3).topic).startsWith('pgrt.'));
      assert.deepEqual(leaked, [], 'no private-topic event on the "" subscription');
    },
  ),
  pgrtCase(
    'reserved_testament',
    'wamp.session.add_testament to a private topic (another session’s or the own) → not_authorized',
    async (ctx) => {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      for (const topic of [privateTopic(c2.session), privateTopic(c1.session), 'pgrt.conformance']) {
        const request = c1.sendCall('wamp.session.add_testament', [topic, [], { msg: 'removed' }]);
        assertError(await c1.callOutcome(request), MSG.CALL, request, URI.notAuthorized);
      }
    },
  ),
  pgrtCase('unsubscribe', 'pgrt.unsubscribe [subId] → RESULT, then removed i1, i2 and nosub', async (ctx) => {
    const { peer, channel } = await withChannel(ctx);
    const [subId] = await peer.callArgs('pgrt.subscribe', [FIXTURE.items]);
    await channelEvent(peer, channel, 'ready');
    await peer.callArgs('pgrt.unsubscribe', [subId ?? null]);
    await channelEvent(peer, channel, 'removed', (k) => k.id === 'i1');
    await channelEvent(peer, channel, 'removed', (k) => k.id === 'i2');
    await channelEvent(peer, channel, 'nosub', (k) => k.sub === subId);
  }),
];
