/**
 * The 19 cases of meteorhacks/ddptest (ddp.md §2.1), adapted to the raw `/websocket` endpoint. ddptest ran over
 * SockJS and waited for a server-first welcome frame (`{"server_id":"0"}`) before every test; over raw
 * `/websocket` the client speaks first, so these cases send right after the socket opens. Like ddptest, each case
 * sends a raw string, waits for the first message of the expected `msg` type and checks only what ddptest
 * checked. It needs no fixtures: it calls the nonexistent method and publication `hello`.
 */
import assert from 'node:assert/strict';
import type { CaseContext, ConformanceCase } from '../case.js';
import { caseNumber } from '../case.js';
import type { DdpTestClient } from '../client.js';
import { DDPTEST_CITATION } from '../spec.js';

/** A random 17-character id, as ddptest's `Random.id()`. */
function randomId(): string {
  const alphabet = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';
  return Array.from({ length: 17 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
}

/** ddptest's `Utils.connect`: connect v1 and wait for `connected`. */
async function connected(ctx: CaseContext): Promise<DdpTestClient> {
  const client = await ctx.open();
  client.send('{"msg": "connect", "version": "1", "support": ["1"]}');
  await client.next({ msg: 'connected' });
  return client;
}

async function expectReason(client: DdpTestClient, raw: string, reason: string): Promise<void> {
  client.send(raw);
  const error = await client.next({ msg: 'error' });
  assert.equal(error.reason, reason);
}

function ddptest(n: number, title: string, run: (ctx: CaseContext) => Promise<void>): ConformanceCase {
  return {
    id: `ddptest.${caseNumber(n)}`,
    group: 'ddptest',
    title,
    checklist: [],
    cite: DDPTEST_CITATION,
    run,
  };
}

async function connectsWith17(ctx: CaseContext, raw: string): Promise<void> {
  const client = await ctx.open();
  client.send(raw);
  const reply = await client.next({ msg: 'connected' });
  assert.equal(typeof reply.session, 'string');
  assert.equal(String(reply.session).length, 17);
}

async function failsWith(ctx: CaseContext, raw: string, version?: string): Promise<void> {
  const client = await ctx.open();
  client.send(raw);
  const reply = await client.next({ msg: 'failed' });
  if (version === undefined) assert.equal(typeof reply.version, 'string');
  else assert.equal(reply.version, version);
}

/** ddptest cases, numbered as in ddp.md §2.1. */
export const ddptestCases: ConformanceCase[] = [
  ddptest(1, 'bad request: {"foo":"bar"} → error "Bad request"', async (ctx) => {
    await expectReason(await ctx.open(), '{"foo": "bar"}', 'Bad request');
  }),
  ddptest(2, 'connect without version → failed with version "1"', (ctx) =>
    failsWith(ctx, '{"msg": "connect", "support": ["1"]}', '1'),
  ),
  ddptest(3, 'connect without support → failed with version "1"', (ctx) =>
    failsWith(ctx, '{"msg": "connect", "version": "1"}', '1'),
  ),
  ddptest(4, 'connect (without session id) → connected, 17-character session', (ctx) =>
    connectsWith17(ctx, '{"msg": "connect", "version": "1", "support": ["1"]}'),
  ),
  ddptest(5, 'connect (with session id) → connected, 17-character session', (ctx) =>
    connectsWith17(ctx, `{"msg": "connect", "version": "1", "support": ["1"], "session": "${randomId()}"}`),
  ),
  ddptest(6, 'unsupported version (without session id) → failed with a string version', (ctx) =>
    failsWith(ctx, '{"msg": "connect", "version": "_", "support": ["_"]}'),
  ),
  ddptest(7, 'unsupported version (with session id) → failed with a string version', (ctx) =>
    failsWith(ctx, `{"msg": "connect", "version": "_", "support": ["_"], "session": "${randomId()}"}`),
  ),
  ddptest(8, 'ping before connect (without id) → error "Must connect first"', async (ctx) => {
    await expectReason(await ctx.open(), '{"msg": "ping"}', 'Must connect first');
  }),
  ddptest(9, 'ping before connect (with id) → error "Must connect first"', async (ctx) => {
    await expectReason(await ctx.open(), `{"msg": "ping", "id": "${randomId()}"}`, 'Must connect first');
  }),
  ddptest(10, 'ping when connected (without id) → pong', async (ctx) => {
    const client = await connected(ctx);
    client.send('{"msg": "ping"}');
    await client.next({ msg: 'pong' });
  }),
  ddptest(11, 'ping when connected (with id) → pong with the same id', async (ctx) => {
    const client = await connected(ctx);
    const id = randomId();
    client.send(`{"msg": "ping", "id": "${id}"}`);
    const pong = await client.next({ msg: 'pong' });
    assert.equal(pong.id, id);
  }),
  ddptest(12, 'method before connect → error "Must connect first"', async (ctx) => {
    const raw = `{"msg": "method", "method": "hello", "params": [], "id": "${randomId()}"}`;
    await expectReason(await ctx.open(), raw, 'Must connect first');
  }),
  ddptest(13, 'method without method → error "Malformed method invocation"', async (ctx) => {
    const raw = `{"msg": "method", "params": [], "id": "${randomId()}"}`;
    await expectReason(await connected(ctx), raw, 'Malformed method invocation');
  }),
  ddptest(14, 'method without id → error "Malformed method invocation"', async (ctx) => {
    await expectReason(
      await connected(ctx),
      '{"msg": "method", "method": "hello", "params": []}',
      'Malformed method invocation',
    );
  }),
  ddptest(15, 'sub before connect → error "Must connect first"', async (ctx) => {
    const raw = `{"msg": "sub", "name": "hello", "params": [], "id": "${randomId()}"}`;
    await expectReason(await ctx.open(), raw, 'Must connect first');
  }),
  ddptest(16, 'sub without id → error "Malformed subscription"', async (ctx) => {
    await expectReason(
      await connected(ctx),
      '{"msg": "sub", "name": "hello", "params": []}',
      'Malformed subscription',
    );
  }),
  ddptest(17, 'sub without name → error "Malformed subscription"', async (ctx) => {
    const raw = `{"msg": "sub", "params": [], "id": "${randomId()}"}`;
    await expectReason(await connected(ctx), raw, 'Malformed subscription');
  }),
  ddptest(18, 'unsub before connect → error "Must connect first"', async (ctx) => {
    await expectReason(await ctx.open(), `{"msg": "unsub", "id": "${randomId()}"}`, 'Must connect first');
  }),
  ddptest(19, 'unsub without id → nosub', async (ctx) => {
    const client = await connected(ctx);
    client.send('{"msg": "unsub"}');
    await client.next({ msg: 'nosub' });
  }),
];
