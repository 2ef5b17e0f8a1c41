/**
 * Handshake and version negotiation (ddp.md checklist 10–24, §1.3): `connected` with a 17-character session,
 * `failed {version}` followed by a close for every refused or malformed `connect`, client preference order,
 * pre1/pre2 sessions, messages sent in the same burst as `connect`, and a second `connect`.
 */
import assert from 'node:assert/strict';
import { type ConformanceCase, FAST_HEARTBEAT_MS } from '../case.js';
import type { JsonObject } from '../client.js';
import {
  assertProtocolError,
  barrier,
  echoBarrier,
  expectFailedThenClose,
  readyFor,
  sleep,
} from '../helpers.js';

const ALL = ['1', 'pre2', 'pre1'];

/** Asserts a `connected` message with a 17-character string session (ddp.md §1.3 step 7). */
function assertSession(message: Record<string, unknown>): string {
  assert.equal(message.msg, 'connected', `expected connected, got ${JSON.stringify(message)}`);
  assert.deepEqual(
    Object.keys(message).sort(),
    ['msg', 'session'],
    `connected shape ${JSON.stringify(message)}`,
  );
  const session = message.session;
  assert.equal(typeof session, 'string', 'session is a string');
  assert.equal(String(session).length, 17, `session ${JSON.stringify(session)} has 17 characters`);
  return String(session);
}

function refused(id: string, title: string, checklist: number, connect: JsonObject): ConformanceCase {
  return {
    id,
    group: 'handshake',
    title,
    checklist: [checklist],
    async run(ctx) {
      const client = await ctx.open();
      await expectFailedThenClose(client, { msg: 'connect', ...connect });
    },
  };
}

/** Handshake cases. */
export const handshakeCases: ConformanceCase[] = [
  {
    id: 'handshake.10',
    group: 'handshake',
    title: 'connect v1 → connected with a 17-character session',
    checklist: [10],
    async run(ctx) {
      const client = await ctx.open();
      client.send({ msg: 'connect', version: '1', support: ALL });
      assertSession(await client.next((m) => m.msg === 'connected' || m.msg === 'failed'));
    },
  },
  {
    id: 'handshake.11',
    group: 'handshake',
    title: 'connect with an unknown session → connected with a new session (no resumption)',
    checklist: [11],
    async run(ctx) {
      const client = await ctx.open();
      const given = 'p7WNSmY6QvjSsoGmS';
      client.send({ msg: 'connect', version: '1', support: ['1'], session: given });
      const session = assertSession(await client.next((m) => m.msg === 'connected' || m.msg === 'failed'));
      assert.notEqual(session, given, 'a new session id');
    },
  },
  refused('handshake.12', 'connect version "_" support ["_"] → failed {version:"1"}, then close', 12, {
    version: '_',
    support: ['_'],
  }),
  refused('handshake.13', 'connect without version → failed {version:"1"}, then close', 13, {
    support: ['1'],
  }),
  refused('handshake.14', 'connect without support → failed {version:"1"}, then close', 14, { version: '1' }),
  refused('handshake.15', 'connect version "1" support ["pre2"] → failed {version:"1"}, then close', 15, {
    version: '1',
    support: ['pre2'],
  }),
  {
    id: 'handshake.16',
    group: 'handshake',
    title: 'connect with a non-string support entry → failed {version:"1"}, then close',
    checklist: [16],
    async run(ctx) {
      const client = await ctx.open();
      await expectFailedThenClose(client, { msg: 'connect', version: '1', support: [1] });
    },
  },
  refused('handshake.17', 'connect pre2 when the client prefers 1 → failed {version:"1"}, then close', 17, {
    version: 'pre2',
    support: ['1', 'pre2'],
  }),
  {
    id: 'handshake.18',
    group: 'handshake',
    title: 'connect pre2 with support ["pre2","1"] → connected (a pre2 session answers pings)',
    checklist: [18],
    async run(ctx) {
      const client = await ctx.open();
      client.send({ msg: 'connect', version: 'pre2', support: ['pre2', '1'] });
      assertSession(await client.next((m) => m.msg === 'connected' || m.msg === 'failed'));
      client.send({ msg: 'ping', id: 'p2' });
      assert.deepEqual(await client.next({ msg: 'pong' }), { msg: 'pong', id: 'p2' });
    },
  },
  {
    id: 'handshake.19',
    group: 'handshake',
    title: 'connect pre1 → connected; ping → error "Bad request"; the server never pings',
    checklist: [19],
    timeoutMs: (options) => Math.max(15000, options.heartbeatMs * 3 + 5000),
    async run(ctx) {
      const client = await ctx.open({ showPings: true });
      client.send({ msg: 'connect', version: 'pre1', support: ['pre1'] });
      assertSession(await client.next((m) => m.msg === 'connected' || m.msg === 'failed'));
      client.send({ msg: 'ping' });
      const error = await client.next((m) => m.msg === 'error' || m.msg === 'pong');
      assertProtocolError(error, 'Bad request', { optional: { msg: 'ping' } });
      if (ctx.options.heartbeatMs <= FAST_HEARTBEAT_MS || ctx.options.slow) {
        // Past two heartbeat intervals without traffic: a heartbeating session would have pinged by now.
        await sleep(ctx.options.heartbeatMs * 2.5);
        assert.deepEqual(client.serverPings, [], 'no server pings in a pre1 session');
        assert.ok(client.isOpen, 'the pre1 session stays open without heartbeats');
      }
    },
  },
  {
    id: 'handshake.20',
    group: 'handshake',
    title: 'the failed frame is delivered before the close',
    checklist: [20],
    async run(ctx) {
      const client = await ctx.open();
      client.send({ msg: 'connect', version: '_', support: ['_'] });
      const closed = await client.waitClose();
      const failed = client.received({ msg: 'failed' });
      assert.equal(
        failed.length,
        1,
        `exactly one failed frame before the close (closed with ${closed.code})`,
      );
      const closeEntry = client.log.find((entry) => entry.kind === 'close');
      assert.ok(
        closeEntry && failed[0] && client.seqOf(failed[0]) < closeEntry.seq,
        'failed precedes the close',
      );
    },
  },
  {
    id: 'handshake.21',
    group: 'handshake',
    title: 'connect and sub in one burst (version accepted) → connected, then the sub is processed',
    checklist: [21],
    async run(ctx) {
      const client = await ctx.open();
      client.send({ msg: 'connect', version: '1', support: ALL });
      client.send({ msg: 'sub', id: 'burst', name: 'empty', params: [] });
      const connected = await client.next({ msg: 'connected' });
      const ready = await client.next(readyFor('burst'));
      assert.deepEqual(ready, { msg: 'ready', subs: ['burst'] });
      assert.ok(client.seqOf(connected) < client.seqOf(ready), 'connected before ready');
    },
  },
  {
    id: 'handshake.22',
    group: 'handshake',
    title: 'connect and sub in one burst (version refused) → failed, close; the sub is ignored',
    checklist: [22],
    async run(ctx) {
      const client = await ctx.open();
      client.send({ msg: 'connect', version: '_', support: ['_'] });
      client.send({ msg: 'sub', id: 'burst', name: 'empty', params: [] });
      assert.deepEqual(await client.next((m) => m.msg !== 'error'), { msg: 'failed', version: '1' });
      await client.waitClose();
      const processed = client.received((m) =>
        ['ready', 'nosub', 'added', 'changed', 'removed'].includes(String(m.msg)),
      );
      assert.deepEqual(processed, [], 'no reply to the sub sent after a refused connect');
    },
  },
  {
    id: 'handshake.23',
    group: 'handshake',
    title: 'a second connect → error "Already connected" with offendingMessage; the session stays usable',
    checklist: [23],
    async run(ctx) {
      const client = await ctx.connected();
      const again = { msg: 'connect', version: '1', support: ['1'] };
      client.send(again);
      assertProtocolError(await client.next({ msg: 'error' }), 'Already connected', { required: again });
      await barrier(client);
    },
  },
  {
    id: 'handshake.24',
    group: 'handshake',
    title: 'connect with unknown extra fields → connected (fields ignored)',
    checklist: [24],
    async run(ctx) {
      const client = await ctx.open();
      client.send({ msg: 'connect', version: '1', support: ['1'], foo: 'bar', nested: { x: [1, 2] } });
      // Only what DDP.md says: `connected` with a session string (its 17 characters are Meteor's, case 10).
      const reply = await client.next((m) => m.msg === 'connected' || m.msg === 'failed');
      assert.equal(reply.msg, 'connected', JSON.stringify(reply));
      assert.equal(typeof reply.session, 'string', 'session is a string');
      await echoBarrier(client);
    },
  },
];
