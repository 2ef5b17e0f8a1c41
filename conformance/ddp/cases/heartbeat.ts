/**
 * Heartbeats (ddp.md checklist 35–41, §1.4): pong with and without id, pings answered out of band while a method
 * runs, server pings after an idle interval, the close after an unanswered ping, any message counting as
 * liveness, and unsolicited pongs being ignored. The timing cases (38–40) run when the server's heartbeat is
 * short (`heartbeatMs` ≤ 2000) or with `--slow`.
 */
import assert from 'node:assert/strict';
import { type ConformanceCase, FAST_HEARTBEAT_MS, type SuiteOptions } from '../case.js';
import type { DdpMessage } from '../client.js';
import { barrier, call, isData, sleep } from '../helpers.js';

function slowOnly(options: SuiteOptions): string | undefined {
  if (options.heartbeatMs <= FAST_HEARTBEAT_MS || options.slow) return undefined;
  return `server heartbeat is ${options.heartbeatMs} ms: run with --slow, or against a server with a short heartbeat`;
}

const heartbeatTimeout = (options: SuiteOptions): number => options.heartbeatMs * 6 + 5000;

/** Waits for the first server ping: at most two intervals after the last traffic, plus slack. */
function waitServerPing(options: SuiteOptions): number {
  return options.heartbeatMs * 2 + 2000;
}

function assertPingShape(ping: DdpMessage): void {
  const extra = Object.keys(ping).filter((key) => key !== 'msg' && key !== 'id');
  assert.deepEqual(extra, [], `server ping shape ${JSON.stringify(ping)}`);
  if ('id' in ping) assert.equal(typeof ping.id, 'string', 'a ping id is a string');
}

/** Heartbeat cases. */
export const heartbeatCases: ConformanceCase[] = [
  {
    id: 'heartbeat.35',
    group: 'heartbeat',
    title: 'ping → pong with no id key',
    checklist: [35],
    async run(ctx) {
      const client = await ctx.connected();
      client.send({ msg: 'ping' });
      assert.deepEqual(await client.next({ msg: 'pong' }), { msg: 'pong' });
    },
  },
  {
    id: 'heartbeat.36',
    group: 'heartbeat',
    title: 'ping {id:"abc"} → pong {id:"abc"}',
    checklist: [36],
    async run(ctx) {
      const client = await ctx.connected();
      client.send({ msg: 'ping', id: 'abc' });
      assert.deepEqual(await client.next({ msg: 'pong' }), { msg: 'pong', id: 'abc' });
    },
  },
  {
    id: 'heartbeat.37',
    group: 'heartbeat',
    title: 'ping while a slow method runs → pong before that method’s result',
    checklist: [37],
    async run(ctx) {
      const client = await ctx.connected();
      const ms = 1500;
      const slow = call(client, 'slow', [ms], { id: 'slow' });
      await sleep(100);
      client.send({ msg: 'ping', id: 'during' });
      const pong = await client.next({ msg: 'pong', id: 'during' }, ms + 2000);
      const { result } = await slow;
      assert.deepEqual(result, { msg: 'result', id: 'slow', result: ms });
      assert.ok(client.seqOf(pong) < client.seqOf(result), 'pong arrives before the slow method’s result');
    },
  },
  {
    id: 'heartbeat.38',
    group: 'heartbeat',
    title: 'no client traffic for a heartbeat interval → the server pings',
    checklist: [38],
    skip: slowOnly,
    timeoutMs: heartbeatTimeout,
    async run(ctx) {
      const client = await ctx.connected({ showPings: true });
      const ping = await client.next({ msg: 'ping' }, waitServerPing(ctx.options));
      assertPingShape(ping);
    },
  },
  {
    id: 'heartbeat.39',
    group: 'heartbeat',
    title: 'server ping left unanswered → the server closes about one timeout later',
    checklist: [39],
    skip: slowOnly,
    timeoutMs: heartbeatTimeout,
    async run(ctx) {
      const hb = ctx.options.heartbeatMs;
      const client = await ctx.connected({ showPings: true, autoPong: false });
      const ping = await client.next({ msg: 'ping' }, waitServerPing(ctx.options));
      assertPingShape(ping);
      const pingAt = client.serverPings[0]?.at ?? performance.now();
      const closed = await client.waitClose(hb * 3 + 2000);
      const after = closed.at - pingAt;
      assert.ok(after >= hb * 0.5, `closed ${Math.round(after)} ms after the ping; expected about ${hb} ms`);
    },
  },
  {
    id: 'heartbeat.40',
    group: 'heartbeat',
    title: 'any message instead of pong after a server ping keeps the connection open',
    checklist: [40],
    skip: slowOnly,
    timeoutMs: heartbeatTimeout,
    async run(ctx) {
      const hb = ctx.options.heartbeatMs;
      const client = await ctx.connected({ showPings: true, autoPong: false });
      await client.next({ msg: 'ping' }, waitServerPing(ctx.options));
      const pingAt = client.serverPings[0]?.at ?? performance.now();
      await call(client, 'echo', ['alive']);
      // Past the timeout that an unanswered ping would have hit, before a second unanswered ping could.
      await sleep(Math.max(0, pingAt + hb * 1.5 - performance.now()));
      assert.ok(client.isOpen, 'the method counted as liveness: the connection is still open');
      client.send({ msg: 'ping', id: 'still' });
      assert.deepEqual(await client.next({ msg: 'pong' }), { msg: 'pong', id: 'still' });
    },
  },
  {
    id: 'heartbeat.41',
    group: 'heartbeat',
    title: 'unsolicited pong {id:"zzz"} → no response, no error',
    checklist: [41],
    async run(ctx) {
      const client = await ctx.connected();
      client.send({ msg: 'pong', id: 'zzz' });
      const { result, updated } = await barrier(client);
      const others = client.received(
        (m) =>
          m !== result &&
          m !== updated &&
          m.msg !== 'connected' &&
          !isData('serverInfo')(m) &&
          m.msg !== 'ping',
      );
      assert.deepEqual(others, [], 'no reply to an unsolicited pong');
    },
  },
];
