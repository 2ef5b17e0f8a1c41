/**
 * Session resumption, Meteor 3.5+ (ddp.md checklist 104–106, §1.12, meteor#14051): a client whose socket closed
 * without a `disconnect` message reconnects within the grace period with `connect {session, receivedCount}` and
 * gets `connected` with the same session, then exactly the messages it missed, in their original order; a
 * `receivedCount` the server cannot serve, or a preceding `disconnect`, gives a new session.
 *
 * `receivedCount` is what a Meteor 3.5 client sends: every message it received on the session except `ping` and
 * `pong`, the first `connected` included. The first socket is closed with a plain WebSocket close (no
 * `disconnect`), which is an ungraceful disconnect at the DDP level. The grace-period expiry half of case 105
 * needs a server with a short grace period and is covered by pgrt's wire tests (test/wire/resumption.test.ts).
 */
import assert from 'node:assert/strict';
import type { CaseContext, ConformanceCase } from '../case.js';
import type { DdpMessage, DdpTestClient } from '../client.js';
import { barrier, callValue, isData, resetTasks, sleep, subscribeReady } from '../helpers.js';

const ALL = ['1', 'pre2', 'pre1'];

/** Lets the server notice a closed socket before the client comes back. */
const CLOSE_SETTLE_MS = 100;

/** Messages a Meteor 3.5 client counts in `receivedCount`: everything but ping and pong. */
function receivedCount(client: DdpTestClient): number {
  return client.received((m) => m.msg !== 'ping' && m.msg !== 'pong').length;
}

/** The session id of a client's first `connected`. */
function sessionOf(client: DdpTestClient): string {
  const [connected] = client.received({ msg: 'connected' });
  assert.ok(connected && typeof connected.session === 'string', 'the client is connected');
  return connected.session;
}

/**
 * A connected client subscribed to `tasks` (which holds task `r1`), then closed without `disconnect`. Returns
 * its session id and the count its client would report.
 */
async function dropSubscribedClient(ctx: CaseContext): Promise<{ session: string; count: number }> {
  const client = await ctx.connected();
  await resetTasks(client);
  await callValue(client, 'insertTaskWithId', ['r1', { title: 'one' }]);
  await subscribeReady(client, 's1', 'tasks');
  await barrier(client);
  const session = sessionOf(client);
  await client.close();
  await sleep(CLOSE_SETTLE_MS);
  return { session, count: receivedCount(client) };
}

/** Messages after `connected`, data and `ready` only (the ones a replay may carry). */
function dataAndReady(messages: readonly DdpMessage[]): DdpMessage[] {
  return messages.filter((m) => isData()(m) || m.msg === 'ready' || m.msg === 'nosub');
}

/** Resumption cases. */
export const resumptionCases: ConformanceCase[] = [
  {
    id: 'resumption.104',
    group: 'resumption',
    title:
      'reconnect with session and receivedCount in the grace period → same session, missed messages once',
    checklist: [104],
    async run(ctx) {
      const { session, count } = await dropSubscribedClient(ctx);

      // While the client is away: a new task and a change to the one it has.
      const writer = await ctx.connected();
      await callValue(writer, 'insertTaskWithId', ['r2', { title: 'two' }]);
      await callValue(writer, 'setField', ['r1', 'title', 'one!']);

      const back = await ctx.open();
      const resumed = await back.connect('1', ALL, { session, receivedCount: count });
      assert.equal(resumed, session, 'connected carries the same session id');
      // A Meteor client re-sends its subs at once; on a resumed session the server ignores the duplicate.
      back.send({ msg: 'sub', id: 's1', name: 'tasks' });
      await barrier(back);

      const missed = dataAndReady(back.received());
      assert.deepEqual(
        missed,
        [
          { msg: 'added', collection: 'tasks', id: 'r2', fields: { title: 'two' } },
          { msg: 'changed', collection: 'tasks', id: 'r1', fields: { title: 'one!' } },
        ],
        'exactly the missed messages, in order; no second added or ready for the re-sent sub',
      );
      const [first] = back.received((m) => m.msg !== 'ping' && m.msg !== 'pong');
      assert.equal(first?.msg, 'connected', 'connected comes before the replayed messages');

      // The session is live: later changes still arrive.
      await callValue(writer, 'setField', ['r2', 'a', 1]);
      await back.next({ msg: 'changed', collection: 'tasks', id: 'r2', fields: { a: 1 } });
    },
  },
  {
    id: 'resumption.105',
    group: 'resumption',
    title: 'reconnect with a receivedCount the server cannot serve → a new session',
    checklist: [105],
    async run(ctx) {
      const { session, count } = await dropSubscribedClient(ctx);
      const back = await ctx.open();
      const fresh = await back.connect('1', ALL, { session, receivedCount: count + 5 });
      assert.notEqual(fresh, session, 'a new session id');
      // A new session has no subscriptions: the re-sent sub runs again and sends its data.
      await subscribeReady(back, 's1', 'tasks');
      assert.deepEqual(back.store.ids('tasks'), ['r1'], 'the re-sent sub publishes from scratch');
    },
  },
  {
    id: 'resumption.106',
    group: 'resumption',
    title: 'disconnect message, then reconnect with the old session → a new session',
    checklist: [106],
    async run(ctx) {
      const client = await ctx.connected();
      await subscribeReady(client, 's1', 'empty');
      const session = sessionOf(client);
      client.send({ msg: 'disconnect' });
      await sleep(CLOSE_SETTLE_MS);
      const count = receivedCount(client);
      await client.close();
      await sleep(CLOSE_SETTLE_MS);
      const back = await ctx.open();
      const fresh = await back.connect('1', ALL, { session, receivedCount: count });
      assert.notEqual(fresh, session, 'a new session id');
    },
  },
];
