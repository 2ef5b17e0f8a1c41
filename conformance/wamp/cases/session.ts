/**
 * Session lifecycle (wamp.md checklist 14–29 and 101, §1.2, §1.4): WELCOME with a random session id in
 * [1, 2^53] and `Details.roles` for broker and dealer, ids that are integers on the wire, realm and HELLO
 * validation, unknown Details keys ignored, ticket and WAMP-CRA authentication (when configured), GOODBYE in both
 * directions, a client ABORT, and cleanup after GOODBYE or a transport drop.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { ConformanceCase } from '../case.js';
import { isDict, render, type WampMessage, type WampPeer, WampReplyError } from '../client.js';
import {
  argsAt,
  assertAbort,
  assertResult,
  assertSilent,
  detailsOf,
  eventOf,
  serve,
  sleep,
} from '../helpers.js';
import { isId, MSG, URI } from '../messages.js';

/** Sends HELLO and returns the router's first reply (WELCOME, ABORT or CHALLENGE). */
async function helloReply(
  peer: WampPeer,
  realm: string,
  details: Record<string, unknown>,
): Promise<WampMessage> {
  peer.send([MSG.HELLO, realm, details]);
  return peer.next();
}

/** Polls `wamp.session.get` until the session is gone (or the wait ends). */
async function expectSessionGone(caller: WampPeer, session: number, withinMs: number): Promise<void> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const reply = await caller.call('wamp.session.get', [session]);
    if (reply[0] === MSG.ERROR) {
      assert.equal(reply[4], URI.noSuchSession, `wamp.session.get of a gone session: ${render(reply)}`);
      return;
    }
    if (performance.now() > deadline)
      throw caller.failure(`session ${session} still listed after ${withinMs} ms`);
    await sleep(50);
  }
}

const ticketSkip = (options: { ticket?: unknown }) =>
  options.ticket ? undefined : 'no ticket realm configured (--ticket realm:authid:ticket)';

/** Session cases. */
export const sessionCases: ConformanceCase[] = [
  {
    id: 'session.14',
    group: 'session',
    title:
      'HELLO {roles:{subscriber:{}}} → WELCOME with an id in [1, 2^53] and Details.roles.broker/dealer dicts',
    checklist: [14, 101],
    async run(ctx) {
      const peer = await ctx.open();
      const welcome = await helloReply(peer, ctx.options.realm, { roles: { subscriber: {} } });
      assert.equal(welcome[0], MSG.WELCOME, `expected WELCOME, got ${render(welcome)}`);
      assert.ok(isId(welcome[1]), `session id ${render(welcome[1])} is an integer in [1, 2^53]`);
      const details = detailsOf(welcome, 2);
      assert.ok(isDict(details.roles), `WELCOME.Details.roles is a dict: ${render(details)}`);
      assert.ok(isDict(details.roles.broker), 'WELCOME.Details.roles.broker is a dict');
      assert.ok(isDict(details.roles.dealer), 'WELCOME.Details.roles.dealer is a dict');
    },
  },
  {
    id: 'session.14b',
    group: 'session',
    title:
      'ids travel as integers on the wire (WELCOME, SUBSCRIBED, PUBLISHED, EVENT, REGISTERED, INVOCATION)',
    checklist: [14],
    // The spec types ids as integers but a float64 that holds one decodes the same in most clients (wamp.md §1.5).
    cite: {
      level: 'practice',
      source: 'WAMP spec rfc/text/basic/messages.md, reference/wamp.md §1.5',
      text: "`id`: an integer ID as defined in IDs. (Strict msgpack/CBOR clients, e.g. Python's, reject a float64 where an integer is expected.)",
    },
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      const topic = ctx.uri('t');
      const subscription = await c1.subscribe(topic);
      await c2.publishAck(topic, [1]);
      await c1.next(eventOf(subscription));
      await serve(c1, ctx.uri('p'));
      const request = c2.sendCall(ctx.uri('p'), [1]);
      assertResult(await c2.callOutcome(request), request);
      for (const peer of [c1, c2]) {
        for (const entry of peer.log) {
          if (entry.kind !== 'message') continue;
          const [code] = entry.message;
          const idPositions =
            code === MSG.WELCOME
              ? [1]
              : code === MSG.SUBSCRIBED || code === MSG.PUBLISHED || code === MSG.REGISTERED
                ? [1, 2]
                : code === MSG.EVENT || code === MSG.INVOCATION
                  ? [1, 2]
                  : code === MSG.RESULT
                    ? [1]
                    : [];
          for (const position of idPositions) {
            const kind = entry.kinds[position];
            if (kind !== undefined && kind !== 'int') {
              throw peer.failure(
                `${render(entry.message)}: element ${position} is a ${kind} on the wire, not an integer`,
              );
            }
          }
        }
      }
    },
  },
  {
    id: 'session.15',
    group: 'session',
    title: 'four sessions → distinct, random-looking ids (no two within 1000; one above 2^32)',
    checklist: [15],
    async run(ctx) {
      const peers = await Promise.all([ctx.join(), ctx.join(), ctx.join(), ctx.join()]);
      const ids = peers.map((peer) => peer.session);
      assert.equal(new Set(ids).size, ids.length, `distinct ids ${ids.join(', ')}`);
      for (const a of ids) {
        for (const b of ids)
          if (a !== b) assert.ok(Math.abs(a - b) > 1000, `ids look sequential: ${ids.join(', ')}`);
      }
      assert.ok(
        ids.some((id) => id > 2 ** 32),
        `ids are not drawn from the whole [1, 2^53] range: ${ids.join(', ')}`,
      );
    },
  },
  {
    id: 'session.16',
    group: 'session',
    title: 'HELLO to a non-existent realm → ABORT wamp.error.no_such_realm',
    checklist: [16],
    skip: (options) =>
      options.autoRealms ? 'the router creates realms on demand (--auto-realms)' : undefined,
    async run(ctx) {
      const peer = await ctx.open();
      const reply = await helloReply(peer, 'com.conformance.no_such_realm', { roles: { caller: {} } });
      // The spec requires the ABORT, not that the router closes the transport after it.
      assertAbort(reply, URI.noSuchRealm);
    },
  },
  {
    id: 'session.17',
    group: 'session',
    title: 'HELLO with an invalid realm URI ("a..b", "realm 1") → ABORT',
    checklist: [17],
    async run(ctx) {
      for (const realm of ['a..b', 'realm 1']) {
        const peer = await ctx.open();
        const reply = await helloReply(peer, realm, { roles: { caller: {} } });
        assertAbort(reply, [URI.invalidUri, URI.protocolViolation, URI.noSuchRealm]);
      }
    },
  },
  {
    id: 'session.18',
    group: 'session',
    title: 'HELLO without roles, or with roles {} → ABORT wamp.error.protocol_violation',
    checklist: [18],
    async run(ctx) {
      for (const details of [{}, { roles: {} }]) {
        const peer = await ctx.open();
        const reply = await helloReply(peer, ctx.options.realm, details);
        assertAbort(reply, URI.protocolViolation);
      }
    },
  },
  {
    id: 'session.19',
    group: 'session',
    title: 'HELLO with an unknown Details key → WELCOME (unknown keys ignored)',
    checklist: [19],
    async run(ctx) {
      const peer = await ctx.open();
      await peer.hello(ctx.options.realm, { details: { foo_bar: 1, _private_key: 'x' } });
    },
  },
  {
    id: 'session.20',
    group: 'session',
    title: 'HELLO authmethods ["ticket"] on a ticket realm → CHALLENGE [4, "ticket", {}]',
    checklist: [20],
    skip: ticketSkip,
    async run(ctx) {
      const ticket = ctx.options.ticket!;
      const peer = await ctx.open();
      const reply = await helloReply(peer, ticket.realm, {
        roles: { caller: {} },
        authmethods: ['ticket'],
        authid: ticket.authid,
      });
      assert.equal(reply[0], MSG.CHALLENGE, `expected CHALLENGE, got ${render(reply)}`);
      assert.equal(reply[1], 'ticket');
      detailsOf(reply, 2);
    },
  },
  {
    id: 'session.21',
    group: 'session',
    title:
      'AUTHENTICATE with the right ticket → WELCOME with authid, authrole, authmethod "ticket", authprovider',
    checklist: [21],
    skip: ticketSkip,
    async run(ctx) {
      const ticket = ctx.options.ticket!;
      const peer = await ctx.open();
      await helloReply(peer, ticket.realm, {
        roles: { caller: {} },
        authmethods: ['ticket'],
        authid: ticket.authid,
      });
      peer.send([MSG.AUTHENTICATE, ticket.ticket, {}]);
      const welcome = await peer.next();
      assert.equal(welcome[0], MSG.WELCOME, `expected WELCOME, got ${render(welcome)}`);
      const details = detailsOf(welcome, 2);
      assert.equal(details.authid, ticket.authid, 'authid');
      assert.equal(details.authmethod, 'ticket', 'authmethod');
      assert.equal(typeof details.authrole, 'string', 'authrole');
      assert.equal(typeof details.authprovider, 'string', 'authprovider');
    },
  },
  {
    id: 'session.22',
    group: 'session',
    title: 'AUTHENTICATE with a wrong ticket → ABORT authentication_failed (or _denied); transport closed',
    checklist: [22],
    skip: ticketSkip,
    async run(ctx) {
      const ticket = ctx.options.ticket!;
      const peer = await ctx.open();
      await helloReply(peer, ticket.realm, {
        roles: { caller: {} },
        authmethods: ['ticket'],
        authid: ticket.authid,
      });
      peer.send([MSG.AUTHENTICATE, `${ticket.ticket}-wrong`, {}]);
      // ABORT is the spec's answer; closing the transport after it is the router's choice.
      assertAbort(await peer.next(), [URI.authenticationFailed, 'wamp.error.authentication_denied']);
    },
  },
  {
    id: 'session.23',
    group: 'session',
    title:
      'WAMP-CRA: CHALLENGE with the documented fields; the HMAC-SHA256 signature → WELCOME with that session',
    checklist: [23],
    skip: (options) => (options.cra ? undefined : 'no WAMP-CRA realm configured (--cra realm:authid:secret)'),
    async run(ctx) {
      const cra = ctx.options.cra!;
      const peer = await ctx.open();
      const challenge = await helloReply(peer, cra.realm, {
        roles: { caller: {} },
        authmethods: ['wampcra'],
        authid: cra.authid,
      });
      assert.equal(challenge[0], MSG.CHALLENGE, `expected CHALLENGE, got ${render(challenge)}`);
      assert.equal(challenge[1], 'wampcra');
      const extra = detailsOf(challenge, 2);
      assert.equal(typeof extra.challenge, 'string', 'extra.challenge is a string');
      const parsed = JSON.parse(String(extra.challenge)) as Record<string, unknown>;
      for (const key of [
        'authid',
        'authrole',
        'authmethod',
        'authprovider',
        'nonce',
        'timestamp',
        'session',
      ]) {
        assert.ok(key in parsed, `challenge has ${key}: ${String(extra.challenge)}`);
      }
      const signature = createHmac('sha256', cra.secret).update(String(extra.challenge)).digest('base64');
      peer.send([MSG.AUTHENTICATE, signature, {}]);
      const welcome = await peer.next();
      assert.equal(welcome[0], MSG.WELCOME, `expected WELCOME, got ${render(welcome)}`);
      assert.equal(welcome[1], parsed.session, 'WELCOME carries the session promised in the challenge');
    },
  },
  {
    id: 'session.24',
    group: 'session',
    title: 'HELLO with only unsupported authmethods on an auth realm → ABORT no_matching_auth_method',
    checklist: [24],
    skip: ticketSkip,
    async run(ctx) {
      const ticket = ctx.options.ticket!;
      const peer = await ctx.open();
      const reply = await helloReply(peer, ticket.realm, {
        roles: { caller: {} },
        authmethods: ['x-unknown-method'],
        authid: ticket.authid,
      });
      assertAbort(reply, [URI.noMatchingAuthMethod, 'wamp.error.authentication_failed']);
    },
  },
  {
    id: 'session.25',
    group: 'session',
    title:
      'GOODBYE close_realm → GOODBYE goodbye_and_out; the session’s registrations and subscriptions are gone',
    checklist: [25],
    async run(ctx) {
      const c1 = await ctx.join();
      const procedure = ctx.uri('p');
      const topic = ctx.uri('t');
      await c1.register(procedure);
      await c1.subscribe(topic);
      const reply = await c1.goodbye(URI.closeRealm);
      detailsOf(reply, 1);
      assert.equal(reply[2], URI.goodbyeAndOut, `GOODBYE reason in ${render(reply)}`);
      const c2 = await ctx.join();
      await c2.register(procedure);
      if (ctx.router.features.has('broker.subscription_meta_api')) {
        const lookup = await c2.call('wamp.subscription.lookup', [topic]);
        assertResult(lookup, lookup[1] as number);
        assert.deepEqual(
          argsAt(lookup, 3),
          [null],
          `wamp.subscription.lookup after GOODBYE: ${render(lookup)}`,
        );
      }
    },
  },
  {
    id: 'session.26',
    group: 'session',
    title: 'GOODBYE with the non-standard reason wamp.close.normal (Autobahn) → GOODBYE reply',
    checklist: [26],
    async run(ctx) {
      const peer = await ctx.join();
      const reply = await peer.goodbye('wamp.close.normal');
      assert.equal(typeof reply[2], 'string', `GOODBYE reason in ${render(reply)}`);
      assert.equal(
        peer.received((m) => m[0] === MSG.ABORT || m[0] === MSG.ERROR).length,
        0,
        'no ABORT or ERROR',
      );
    },
  },
  {
    id: 'session.27',
    group: 'session',
    title: 'router GOODBYE (wamp.session.kill), client echoes wamp.error.goodbye_and_out → session freed',
    checklist: [27],
    requires: ['dealer.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      assertResult(await c1.call('wamp.session.kill', [c2.session]), 1);
      const goodbye = await c2.next([MSG.GOODBYE]);
      detailsOf(goodbye, 1);
      c2.send([MSG.GOODBYE, {}, 'wamp.error.goodbye_and_out']);
      await expectSessionGone(c1, c2.session, 1000);
      await c2.expectNone([MSG.GOODBYE], 50, 'a GOODBYE answering the echo');
    },
  },
  {
    id: 'session.27b',
    group: 'session',
    title: 'router GOODBYE (wamp.session.kill), client just closes the socket → session freed',
    checklist: [27],
    requires: ['dealer.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const c2 = await ctx.join();
      assertResult(await c1.call('wamp.session.kill', [c2.session]), 1);
      await c2.next([MSG.GOODBYE]);
      await c2.close();
      await expectSessionGone(c1, c2.session, 1000);
    },
  },
  {
    id: 'session.28',
    group: 'session',
    title: 'ABORT from the client instead of HELLO → no reply (the router may close or keep the transport)',
    checklist: [28],
    async run(ctx) {
      const peer = await ctx.open();
      peer.send([MSG.ABORT, { message: 'changed my mind' }, 'wamp.error.cannot_authenticate']);
      // A barrier: a HELLO after the ABORT. A router that keeps the transport (the spec allows re-use) answers it
      // after anything it sent for the ABORT; one that closes it never reads it; one that ignores it stays silent
      // (the wait ends). In no case may the first thing back be a reply to the ABORT.
      peer.send([MSG.HELLO, ctx.options.realm, { roles: { subscriber: {} } }]);
      let first: WampMessage | undefined;
      try {
        first = await peer.next();
      } catch {
        assertSilent(peer, peer.isOpen ? 'no reply to ABORT' : 'no reply to ABORT before the close');
        return;
      }
      assert.ok(
        first[0] === MSG.WELCOME ||
          first[0] === MSG.CHALLENGE ||
          (first[0] === MSG.ABORT && first[2] !== URI.protocolViolation),
        `the first message after the client's ABORT answers the later HELLO, got ${render(first)}`,
      );
    },
  },
  {
    id: 'session.29',
    group: 'session',
    title: 'transport drop without GOODBYE → wamp.session.on_leave published; the procedure is free again',
    checklist: [29],
    requires: ['broker.session_meta_api'],
    async run(ctx) {
      const c1 = await ctx.join();
      const subscription = await c1.subscribe('wamp.session.on_leave');
      const c2 = await ctx.join();
      const procedure = ctx.uri('p');
      await c2.register(procedure);
      c2.terminate();
      const event = await c1.next(
        (m) => m[0] === MSG.EVENT && m[1] === subscription && argsAt(m, 4)[0] === c2.session,
      );
      assert.ok(event);
      await c1.register(procedure).catch((error: unknown) => {
        if (error instanceof WampReplyError)
          throw new Error(`registration not freed: ${render(error.reply)}`);
        throw error;
      });
    },
  },
];
