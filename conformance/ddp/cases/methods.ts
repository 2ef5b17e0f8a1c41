/**
 * Methods (ddp.md checklist 42–55, §1.5, §1.6, §1.8): `result` plus `updated` in either order, the exact
 * Meteor.Error shapes for unknown methods, Meteor.Errors and plain throws, "Malformed method invocation" with no
 * `result`, in-order processing on one connection, no serialization across connections, and reused ids.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import type { JsonObject } from '../client.js';
import { assertProtocolError, assertWireError, barrier, call } from '../helpers.js';

function malformed(id: string, title: string, checklist: number, message: JsonObject): ConformanceCase {
  return {
    id,
    group: 'methods',
    title,
    checklist: [checklist],
    async run(ctx) {
      const client = await ctx.connected();
      client.send(message);
      assertProtocolError(await client.next({ msg: 'error' }), 'Malformed method invocation', {
        optional: message,
      });
      const { result } = await barrier(client);
      const others = client.received((m) => m.msg === 'result' && m !== result);
      assert.deepEqual(others, [], 'no result for a malformed method invocation');
    },
  };
}

/** Method cases. */
export const methodCases: ConformanceCase[] = [
  {
    id: 'methods.42',
    group: 'methods',
    title: 'echo → result with the args and updated, in either order',
    checklist: [42],
    async run(ctx) {
      const client = await ctx.connected();
      const { result, updated } = await call(client, 'echo', [1, 'a', { b: true }], { id: '1' });
      assert.deepEqual(result, { msg: 'result', id: '1', result: [1, 'a', { b: true }] });
      assert.deepEqual(updated, { msg: 'updated', methods: ['1'] });
    },
  },
  {
    id: 'methods.43',
    group: 'methods',
    title: 'noop → result with no result key, plus updated',
    checklist: [43],
    async run(ctx) {
      const client = await ctx.connected();
      const { result, updated } = await call(client, 'noop', [], { id: 'n' });
      assert.deepEqual(result, { msg: 'result', id: 'n' });
      assert.deepEqual(updated, { msg: 'updated', methods: ['n'] });
    },
  },
  {
    id: 'methods.44',
    group: 'methods',
    title: 'method without params → the handler runs with no arguments',
    checklist: [44],
    async run(ctx) {
      const client = await ctx.connected();
      const { result } = await call(client, 'echo', [], { id: 'np', omitParams: true });
      assert.deepEqual(result, { msg: 'result', id: 'np', result: [] });
    },
  },
  {
    id: 'methods.45',
    group: 'methods',
    title: 'unknown method → result.error 404 "Method \'nope\' not found", plus updated',
    checklist: [45],
    async run(ctx) {
      const client = await ctx.connected();
      const { result } = await call(client, 'nope', [], { id: 'x' });
      assert.deepEqual(
        Object.keys(result).sort(),
        ['error', 'id', 'msg'],
        `result shape ${JSON.stringify(result)}`,
      );
      assertWireError(result.error, {
        error: 404,
        reason: "Method 'nope' not found",
        message: "Method 'nope' not found [404]",
        errorType: 'Meteor.Error',
      });
    },
  },
  {
    id: 'methods.46',
    group: 'methods',
    title: 'throwMeteorError("bad-thing","Nope","more") → the exact Meteor.Error on the wire',
    checklist: [46],
    async run(ctx) {
      const client = await ctx.connected();
      const { result } = await call(client, 'throwMeteorError', ['bad-thing', 'Nope', 'more']);
      assert.ok(!('result' in result), 'no result key next to error');
      assertWireError(result.error, {
        error: 'bad-thing',
        reason: 'Nope',
        details: 'more',
        message: 'Nope [bad-thing]',
        errorType: 'Meteor.Error',
      });
    },
  },
  {
    id: 'methods.47',
    group: 'methods',
    title: 'throwPlain → result.error 500 "Internal server error", nothing leaked',
    checklist: [47],
    async run(ctx) {
      const client = await ctx.connected();
      const { result } = await call(client, 'throwPlain');
      assert.ok(!('result' in result), 'no result key next to error');
      assertWireError(
        result.error,
        { error: 500, reason: 'Internal server error' },
        { message: 'Internal server error [500]', errorType: 'Meteor.Error' },
      );
    },
  },
  malformed('methods.48', 'method without id → error "Malformed method invocation", no result', 48, {
    msg: 'method',
    method: 'echo',
    params: [],
  }),
  malformed('methods.49', 'method without method → error "Malformed method invocation"', 49, {
    msg: 'method',
    id: 'bad49',
    params: [],
  }),
  malformed('methods.50', 'method with params {} → error "Malformed method invocation"', 50, {
    msg: 'method',
    id: 'bad50',
    method: 'echo',
    params: {},
  }),
  malformed('methods.51', 'method with randomSeed 5 → error "Malformed method invocation"', 51, {
    msg: 'method',
    id: 'bad51',
    method: 'echo',
    params: [],
    randomSeed: 5,
  }),
  malformed('methods.52', 'method with numeric id 1 → error "Malformed method invocation"', 52, {
    msg: 'method',
    id: 1,
    method: 'echo',
    params: [],
  }),
  {
    id: 'methods.53',
    group: 'methods',
    title: 'slow then echo on one connection → echo’s result after slow’s (in-order processing)',
    checklist: [53],
    async run(ctx) {
      const client = await ctx.connected();
      const slow = call(client, 'slow', [400], { id: 'slow' });
      const echo = call(client, 'echo', ['after'], { id: 'echo' });
      const [slowReplies, echoReplies] = await Promise.all([slow, echo]);
      assert.deepEqual(slowReplies.result, { msg: 'result', id: 'slow', result: 400 });
      assert.deepEqual(echoReplies.result, { msg: 'result', id: 'echo', result: ['after'] });
      assert.ok(
        client.seqOf(slowReplies.result) < client.seqOf(echoReplies.result),
        'the second method’s result arrives after the first’s',
      );
    },
  },
  {
    id: 'methods.54',
    group: 'methods',
    title: 'slow on two connections at once → they overlap (no cross-connection serialization)',
    checklist: [54],
    async run(ctx) {
      const ms = 1000;
      const [a, b] = await Promise.all([ctx.connected(), ctx.connected()]);
      const started = performance.now();
      const [ra, rb] = await Promise.all([
        call(a, 'slow', [ms], { id: 'a' }),
        call(b, 'slow', [ms], { id: 'b' }),
      ]);
      const elapsed = performance.now() - started;
      assert.deepEqual(ra.result, { msg: 'result', id: 'a', result: ms });
      assert.deepEqual(rb.result, { msg: 'result', id: 'b', result: ms });
      assert.ok(
        elapsed < ms * 1.7,
        `both finished after ${Math.round(elapsed)} ms; serialized would take ${2 * ms}`,
      );
    },
  },
  {
    id: 'methods.55',
    group: 'methods',
    title: 'a method id reused after completion → a new call',
    checklist: [55],
    async run(ctx) {
      const client = await ctx.connected();
      const first = await call(client, 'echo', ['first'], { id: 'same' });
      const second = await call(client, 'echo', ['second'], { id: 'same' });
      assert.deepEqual(first.result, { msg: 'result', id: 'same', result: ['first'] });
      assert.deepEqual(second.result, { msg: 'result', id: 'same', result: ['second'] });
    },
  },
];
