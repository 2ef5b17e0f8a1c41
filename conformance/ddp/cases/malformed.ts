/**
 * Pre-connect and malformed input (ddp.md checklist 25–34, §1.3 and §1.8): "Must connect first" with the
 * offending message, "Bad request" for objects without `msg`, unparsable text, JSON non-objects and unknown
 * message types, and the connection surviving all of them.
 */
import assert from 'node:assert/strict';
import type { CaseContext, ConformanceCase } from '../case.js';
import type { JsonObject, JsonValue } from '../client.js';
import { assertProtocolError, barrier } from '../helpers.js';

function beforeConnect(id: string, title: string, checklist: number, message: JsonObject): ConformanceCase {
  return {
    id,
    group: 'malformed',
    title,
    checklist: [checklist],
    async run(ctx) {
      const client = await ctx.open();
      client.send(message);
      assertProtocolError(await client.next(), 'Must connect first', { required: message });
    },
  };
}

/** Sends `raw` on a connected client and asserts the error it earns; the connection must stay usable. */
async function badInput(
  ctx: CaseContext,
  raw: string,
  offending: { readonly required: JsonValue } | 'absent',
): Promise<void> {
  const client = await ctx.connected();
  client.send(raw);
  assertProtocolError(await client.next({ msg: 'error' }), 'Bad request', offending);
  await barrier(client);
}

/** Malformed-input cases. */
export const malformedCases: ConformanceCase[] = [
  beforeConnect('malformed.25', 'ping before connect → error "Must connect first"', 25, { msg: 'ping' }),
  beforeConnect('malformed.26', 'ping {id} before connect → error "Must connect first"', 26, {
    msg: 'ping',
    id: 'early',
  }),
  beforeConnect('malformed.27', 'method before connect → error "Must connect first"', 27, {
    msg: 'method',
    id: '1',
    method: 'echo',
    params: [],
  }),
  beforeConnect('malformed.28', 'sub before connect → error "Must connect first"', 28, {
    msg: 'sub',
    id: 's1',
    name: 'tasks',
    params: [],
  }),
  beforeConnect('malformed.29', 'unsub before connect → error "Must connect first"', 29, {
    msg: 'unsub',
    id: 's1',
  }),
  {
    id: 'malformed.30',
    group: 'malformed',
    title: '{"foo":"bar"} (no msg) → error "Bad request" with offendingMessage',
    checklist: [30],
    run: (ctx) => badInput(ctx, '{"foo":"bar"}', { required: { foo: 'bar' } }),
  },
  {
    id: 'malformed.31',
    group: 'malformed',
    title: 'invalid JSON text → error "Bad request" without offendingMessage; connection stays open',
    checklist: [31],
    run: (ctx) => badInput(ctx, '{nope', 'absent'),
  },
  {
    id: 'malformed.32',
    group: 'malformed',
    title: 'JSON non-objects (42, "x", null) → error "Bad request" each',
    checklist: [32],
    async run(ctx) {
      for (const raw of ['42', '"x"', 'null']) await badInput(ctx, raw, 'absent');
    },
  },
  {
    id: 'malformed.33',
    group: 'malformed',
    title: 'unknown msg "frobnicate" after connect → error "Bad request" echoing it',
    checklist: [33],
    run: (ctx) => badInput(ctx, '{"msg":"frobnicate","x":1}', { required: { msg: 'frobnicate', x: 1 } }),
  },
  {
    id: 'malformed.34',
    group: 'malformed',
    title: 'after every kind of bad input, ping → pong (the connection survived)',
    checklist: [34],
    async run(ctx) {
      const client = await ctx.connected();
      const inputs = ['{"foo":"bar"}', '{nope', '42', '"x"', 'null', '{"msg":"frobnicate"}'];
      for (const raw of inputs) client.send(raw);
      for (const raw of inputs) {
        const error = await client.next({ msg: 'error' });
        assert.equal(error.reason, 'Bad request', `reply to ${raw}: ${JSON.stringify(error)}`);
      }
      client.send({ msg: 'ping', id: 'alive' });
      assert.deepEqual(await client.next({ msg: 'pong' }), { msg: 'pong', id: 'alive' });
      assert.ok(client.isOpen, 'still open');
    },
  },
];
