/**
 * EJSON on the wire (ddp.md checklist 56–63, §1.9): every built-in type, escaping, a registered custom type,
 * key order, and look-alike objects round-trip through `echo` in exactly their wire form. An unregistered custom
 * type is a top-level "Parse error" with no `result`.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from '../case.js';
import type { JsonValue } from '../client.js';
import { assertProtocolError, barrier, callResult } from '../helpers.js';

function roundTrip(id: string, title: string, checklist: number, args: JsonValue[]): ConformanceCase {
  return {
    id,
    group: 'ejson',
    title,
    checklist: [checklist],
    async run(ctx) {
      const client = await ctx.connected();
      // The result is what DDP.md requires; `updated` (a "should") is not waited for.
      const result = await callResult(client, 'echo', args);
      assert.deepEqual(result.result, args, `echo of ${JSON.stringify(args)}`);
      assert.equal(JSON.stringify(result.result), JSON.stringify(args), 'same wire form, same key order');
    },
  };
}

/** EJSON cases. */
export const ejsonCases: ConformanceCase[] = [
  roundTrip('ejson.56', 'Date {$date} round-trips (top level and nested)', 56, [
    { $date: 1700000000000 },
    { when: { $date: 0 }, list: [{ $date: 1 }] },
  ]),
  roundTrip('ejson.57', 'Binary {$binary} round-trips', 57, [{ $binary: 'AAEC' }, { $binary: '' }]),
  roundTrip('ejson.58', '{$InfNaN: 1 | -1 | 0} round-trip', 58, [
    { $InfNaN: 1 },
    { $InfNaN: -1 },
    { $InfNaN: 0 },
  ]),
  roundTrip('ejson.59', '{$escape:{$date:5}} round-trips as an escaped literal', 59, [
    { $escape: { $date: 5 } },
  ]),
  roundTrip('ejson.60', 'registered custom type {$type:"myType",$value} round-trips', 60, [
    { $type: 'myType', $value: { x: 1 } },
  ]),
  {
    id: 'ejson.60b',
    group: 'ejson',
    title: 'unregistered custom type in params → error "Parse error", no result',
    checklist: [60],
    cite: {
      level: 'meteor',
      source: "reference/ddp.md §1.3 (Meteor's ddp-server)",
      text: 'The separate "Parse error" reason is reached only when `parseDDP` itself throws during EJSON adjustment, e.g. `params` containing an unregistered custom type.',
    },
    async run(ctx) {
      const client = await ctx.connected();
      client.send({ msg: 'method', id: 'unreg', method: 'echo', params: [{ $type: 'nope', $value: 1 }] });
      assertProtocolError(await client.next({ msg: 'error' }), 'Parse error', 'absent');
      const { result } = await barrier(client);
      assert.deepEqual(
        client.received((m) => m.msg === 'result' && m !== result),
        [],
        'no result for an unparsable method',
      );
    },
  },
  roundTrip('ejson.61', 'RegExp {$regexp,$flags} round-trips', 61, [{ $regexp: 'a+', $flags: 'gi' }]),
  roundTrip('ejson.62', 'object key order is preserved', 62, [{ b: 1, a: 2, c: 3 }, { z: { y: 1, x: 2 } }]),
  roundTrip('ejson.63', '{$date:1, extra:2} (not a type) comes back as a plain object', 63, [
    { $date: 1, extra: 2 },
  ]),
];
