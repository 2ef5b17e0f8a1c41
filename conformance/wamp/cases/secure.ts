/**
 * Secure defaults (DESIGN.md decision 14; reference/wamp.md §2.1 for Crossbar's rules): what an ordinary session
 * may not do on a realm that grants it nothing. Run only with `--closed-realm <realm>`: a realm whose anonymous
 * sessions have the router's defaults (pgrt: no `metaApiRoles`, `patternRegistrationRoles` or `disclosureRoles`).
 *
 * - the session, subscription and registration meta API refuse it (`wamp.error.not_authorized`), and its
 *   targets are unharmed;
 * - it cannot subscribe to meta events, and a catch-all (prefix `""`) subscription receives none;
 * - testaments cannot publish to `wamp.` topics (`invalid_uri`, as PUBLISH), while `add_testament` itself stays
 *   open for its own topics;
 * - it cannot register patterns (prefix `""`, prefix, wildcard);
 * - `disclose_me` and `disclose_caller` disclose nothing.
 */
import assert from 'node:assert/strict';
import type { CaseContext, ConformanceCase, OpenOptions, SuiteOptions } from '../case.js';
import { render, type WampPeer } from '../client.js';
import { assertError, assertResult, detailsOf, eventOf } from '../helpers.js';
import { MSG, URI } from '../messages.js';
import type { WampValue } from '../serializers.js';

/** Skip reason for the secure group unless `--closed-realm` is set. */
export function closedRealmOnly(options: SuiteOptions): string | undefined {
  return options.closedRealm === undefined
    ? 'secure-defaults case (pass --closed-realm with a realm that grants anonymous sessions nothing)'
    : undefined;
}

/** Joins the closed realm. */
function joinClosed(ctx: CaseContext, options: OpenOptions = {}): Promise<WampPeer> {
  const realm = ctx.options.closedRealm;
  if (realm === undefined) throw new Error('no --closed-realm');
  return ctx.join({ ...options, realm });
}

/** CALL `procedure` and assert ERROR `wamp.error.not_authorized`. */
async function assertRefused(peer: WampPeer, procedure: string, args?: WampValue[]): Promise<void> {
  const request = peer.sendCall(procedure, args);
  assertError(await peer.callOutcome(request), MSG.CALL, request, URI.notAuthorized);
}

/** The identity keys a router adds to INVOCATION/EVENT details when it discloses the caller or publisher. */
const CALLER_KEYS = ['caller', 'caller_authid', 'caller_authrole'];
const PUBLISHER_KEYS = ['publisher', 'publisher_authid', 'publisher_authrole'];

function secureCase(id: string, title: string, run: ConformanceCase['run']): ConformanceCase {
  return { id: `secure.${id}`, group: 'secure', title, checklist: [], skip: closedRealmOnly, run };
}

/** Secure-defaults cases. */
export const secureCases: ConformanceCase[] = [
  secureCase(
    '01',
    'wamp.session.count/list/get/kill/kill_by_authid/kill_by_authrole/kill_all → not_authorized; C2 lives on',
    async (ctx) => {
      const c1 = await joinClosed(ctx);
      const c2 = await joinClosed(ctx);
      await assertRefused(c1, 'wamp.session.count');
      await assertRefused(c1, 'wamp.session.list');
      await assertRefused(c1, 'wamp.session.get', [c2.session]);
      await assertRefused(c1, 'wamp.session.kill', [c2.session]);
      const authid = c2.welcome.authid;
      await assertRefused(c1, 'wamp.session.kill_by_authid', [typeof authid === 'string' ? authid : '']);
      const authrole = c2.welcome.authrole;
      await assertRefused(c1, 'wamp.session.kill_by_authrole', [
        typeof authrole === 'string' ? authrole : 'anonymous',
      ]);
      await assertRefused(c1, 'wamp.session.kill_all');
      const published = await c2.publishAck(ctx.uri('alive'));
      assert.equal(published[0], MSG.PUBLISHED, `C2 is still in its session: ${render(published)}`);
    },
  ),
  secureCase('02', 'wamp.subscription.* and wamp.registration.* procedures → not_authorized', async (ctx) => {
    const c1 = await joinClosed(ctx);
    const c2 = await joinClosed(ctx);
    const subscription = await c2.subscribe(ctx.uri('t'));
    const registration = await c2.register(ctx.uri('p'));
    for (const [procedure, args] of [
      ['wamp.subscription.list', []],
      ['wamp.subscription.lookup', [ctx.uri('t')]],
      ['wamp.subscription.match', [ctx.uri('t')]],
      ['wamp.subscription.get', [subscription]],
      ['wamp.subscription.list_subscribers', [subscription]],
      ['wamp.subscription.count_subscribers', [subscription]],
      ['wamp.registration.list', []],
      ['wamp.registration.lookup', [ctx.uri('p')]],
      ['wamp.registration.match', [ctx.uri('p')]],
      ['wamp.registration.get', [registration]],
      ['wamp.registration.list_callees', [registration]],
      ['wamp.registration.count_callees', [registration]],
    ] as const) {
      await assertRefused(c1, procedure, [...args]);
    }
  }),
  secureCase(
    '03',
    'SUBSCRIBE to meta events (exact, prefix wamp., wildcard wamp..on_join) → not_authorized',
    async (ctx) => {
      const c1 = await joinClosed(ctx);
      const attempts: [string, string][] = [
        ['wamp.session.on_join', 'exact'],
        ['wamp.session.on_leave', 'exact'],
        ['wamp.subscription.on_create', 'exact'],
        ['wamp.registration.on_register', 'exact'],
        ['wamp.', 'prefix'],
        ['wamp.session.', 'prefix'],
        ['wamp..on_join', 'wildcard'],
      ];
      for (const [topic, match] of attempts) {
        const request = c1.nextRequestId();
        const options = match === 'exact' ? {} : { match };
        const reply = await c1.request(MSG.SUBSCRIBE, MSG.SUBSCRIBED, [
          MSG.SUBSCRIBE,
          request,
          options,
          topic,
        ]);
        assertError(reply, MSG.SUBSCRIBE, request, URI.notAuthorized);
      }
    },
  ),
  secureCase(
    '04',
    'a prefix "" subscription gets no meta event when C2 joins, subscribes, registers and leaves',
    async (ctx) => {
      const c1 = await joinClosed(ctx);
      const all = await c1.subscribe('', { match: 'prefix' });
      const c2 = await joinClosed(ctx);
      await c2.subscribe(ctx.uri('t'));
      await c2.register(ctx.uri('p'));
      await c2.goodbye();
      // Barrier: C3's event follows every router event caused before it (all sent synchronously).
      const c3 = await joinClosed(ctx);
      const marker = ctx.uri('marker');
      c3.publish(marker, ['marker']);
      const first = await c1.next(eventOf(all));
      assert.equal(
        detailsOf(first, 3).topic,
        marker,
        `the first event on the "" subscription is C3's marker, not ${render(first)}`,
      );
    },
  ),
  secureCase(
    '05',
    'wamp.session.add_testament to wamp.session.on_leave / on_join → invalid_uri; to an own topic → RESULT',
    async (ctx) => {
      const c1 = await joinClosed(ctx);
      for (const topic of ['wamp.session.on_leave', 'wamp.session.on_join', 'wamp.x']) {
        const request = c1.sendCall('wamp.session.add_testament', [
          topic,
          [c1.session, 'admin', 'admin'],
          {},
        ]);
        assertError(await c1.callOutcome(request), MSG.CALL, request, URI.invalidUri);
      }
      const request = c1.sendCall('wamp.session.add_testament', [ctx.uri('gone'), [1], {}]);
      assertResult(await c1.callOutcome(request), request);
    },
  ),
  secureCase(
    '06',
    'REGISTER {match:"prefix"} "" / P, {match:"wildcard"} P..x → not_authorized; an unknown CALL → no_such_procedure',
    async (ctx) => {
      const c1 = await joinClosed(ctx);
      for (const [procedure, match] of [
        ['', 'prefix'],
        [ctx.uri('a'), 'prefix'],
        [`${ctx.uri('a')}..x`, 'wildcard'],
      ] as const) {
        const request = c1.nextRequestId();
        const reply = await c1.request(MSG.REGISTER, MSG.REGISTERED, [
          MSG.REGISTER,
          request,
          { match },
          procedure,
        ]);
        assertError(reply, MSG.REGISTER, request, URI.notAuthorized);
      }
      const c2 = await joinClosed(ctx);
      const request = c2.sendCall(`${ctx.uri('a')}.mistyped`);
      assertError(await c2.callOutcome(request), MSG.CALL, request, URI.noSuchProcedure);
    },
  ),
  secureCase(
    '07',
    'PUBLISH {disclose_me} → EVENT without publisher*; CALL {disclose_me} to a disclose_caller registration → INVOCATION without caller*',
    async (ctx) => {
      const c1 = await joinClosed(ctx, { label: 'subscriber' });
      const c2 = await joinClosed(ctx, { label: 'publisher' });
      const subscription = await c1.subscribe(ctx.uri('t'));
      c2.publish(ctx.uri('t'), [], undefined, { disclose_me: true });
      const event = await c1.next(eventOf(subscription));
      const eventDetails = detailsOf(event, 3);
      for (const key of PUBLISHER_KEYS) assert.ok(!(key in eventDetails), `${key} in ${render(event)}`);

      const callee = await joinClosed(ctx, { label: 'callee' });
      const registration = await callee.register(ctx.uri('p'), { disclose_caller: true });
      c2.sendCall(ctx.uri('p'), [], undefined, { disclose_me: true });
      const invocation = await callee.invocation(registration);
      const invocationDetails = detailsOf(invocation, 3);
      for (const key of CALLER_KEYS)
        assert.ok(!(key in invocationDetails), `${key} in ${render(invocation)}`);
    },
  ),
];
