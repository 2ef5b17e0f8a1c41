/**
 * Subscriptions and data (ddp.md checklist 68–91, §1.5, §1.7): `added`…`ready`, "Malformed subscription",
 * `nosub` shapes for unknown, failing, erroring and stopping publications, `unsub`, `changed` with `fields` or
 * `cleared` only when something changed, the merge box across overlapping publications (first come, first
 * served), client-side consistency over a whole sequence, the universal publication, and id escaping.
 */
import assert from 'node:assert/strict';
import type { CaseContext, ConformanceCase } from '../case.js';
import type { DdpMessage, DdpTestClient, JsonObject } from '../client.js';
import {
  assertProtocolError,
  assertWireError,
  barrier,
  call,
  callValue,
  echoBarrier,
  insertTasks,
  isData,
  resetTasks,
  subscribe,
  subscribeReady,
  unsubscribe,
} from '../helpers.js';

const THREE_TASKS: Record<string, JsonObject> = {
  t1: { title: 'one' },
  t2: { title: 'two', a: 1 },
  t3: { title: 'three', f: { nested: [1, { x: true }] } },
};

/** A connected client with exactly `docs` in `tasks`, not yet subscribed. */
async function withTasks(ctx: CaseContext, docs: Record<string, JsonObject>): Promise<DdpTestClient> {
  const client = await ctx.connected();
  await resetTasks(client);
  await insertTasks(client, docs);
  return client;
}

/** Sorts data messages by id, for order-independent comparison. */
function byId(messages: DdpMessage[]): DdpMessage[] {
  return [...messages].sort((x, y) => String(x.id).localeCompare(String(y.id)));
}

/** Sub-related messages (data of `collection`, ready, nosub) received after `mark`, as `msg` names. */
function sequence(client: DdpTestClient, mark: number, collection: string): string[] {
  return client
    .receivedAfter(mark, (m) => isData(collection)(m) || m.msg === 'ready' || m.msg === 'nosub')
    .map((m) => String(m.msg));
}

async function subscribeAll(ctx: CaseContext, params: boolean): Promise<void> {
  const client = await withTasks(ctx, THREE_TASKS);
  const mark = client.mark();
  const ready = await subscribe(client, 's1', 'tasks', params ? [] : undefined);
  assert.deepEqual(ready, { msg: 'ready', subs: ['s1'] });
  const added = client.receivedAfter(mark, isData('tasks'));
  assert.deepEqual(
    byId(added),
    Object.entries(THREE_TASKS).map(([id, fields]) => ({ msg: 'added', collection: 'tasks', id, fields })),
    'one added per task, exact fields, no _id',
  );
  for (const m of added) assert.ok(client.seqOf(m) < client.seqOf(ready), 'added before ready');
}

function malformedSub(id: string, title: string, checklist: number, message: JsonObject): ConformanceCase {
  return {
    id,
    group: 'subscriptions',
    title,
    checklist: [checklist],
    async run(ctx) {
      const client = await ctx.connected();
      const mark = client.mark();
      client.send(message);
      assertProtocolError(await client.next({ msg: 'error' }), 'Malformed subscription', {
        optional: message,
      });
      await barrier(client);
      assert.deepEqual(
        client.receivedAfter(mark, (m) => m.msg === 'ready' || m.msg === 'nosub' || isData('tasks')(m)),
        [],
        'the malformed sub was not started',
      );
    },
  };
}

/** The merge-box setup of 85: m1 {a,b,c} published by tasksA (a,b) then tasksB (b,c). */
async function overlapping(ctx: CaseContext): Promise<DdpTestClient> {
  const client = await withTasks(ctx, { m1: { a: 1, b: 2, c: 3 } });
  await subscribeReady(client, 'A', 'tasksA');
  assert.deepEqual(await client.next(isData('tasks')), {
    msg: 'added',
    collection: 'tasks',
    id: 'm1',
    fields: { a: 1, b: 2 },
  });
  const mark = client.mark();
  await subscribeReady(client, 'B', 'tasksB');
  assert.deepEqual(
    client.receivedAfter(mark, isData('tasks')),
    [{ msg: 'changed', collection: 'tasks', id: 'm1', fields: { c: 3 } }],
    'the second publication adds only the new field c (b already has a value)',
  );
  client.take(isData('tasks'));
  return client;
}

/** Subscription cases. */
export const subscriptionCases: ConformanceCase[] = [
  {
    id: 'subscriptions.68',
    group: 'subscriptions',
    title: 'sub tasks → one added per doc (exact fields, no _id), then ready',
    checklist: [68],
    run: (ctx) => subscribeAll(ctx, true),
  },
  {
    id: 'subscriptions.69',
    group: 'subscriptions',
    title: 'sub without params → same as with params: []',
    checklist: [69],
    run: (ctx) => subscribeAll(ctx, false),
  },
  {
    id: 'subscriptions.70',
    group: 'subscriptions',
    title: 'sub empty → ready with no data',
    checklist: [70],
    async run(ctx) {
      const client = await ctx.connected();
      const mark = client.mark();
      assert.deepEqual(await subscribe(client, 'e', 'empty', []), { msg: 'ready', subs: ['e'] });
      await echoBarrier(client);
      const data = client.receivedAfter(mark, (m) => isData()(m) && m.collection !== 'serverInfo');
      assert.deepEqual(data, [], 'no data for an empty publication');
    },
  },
  malformedSub('subscriptions.71', 'sub without id → error "Malformed subscription"', 71, {
    msg: 'sub',
    name: 'tasks',
    params: [],
  }),
  malformedSub('subscriptions.72', 'sub without name → error "Malformed subscription"', 72, {
    msg: 'sub',
    id: 'noname',
    params: [],
  }),
  malformedSub('subscriptions.73', 'sub with params "x" → error "Malformed subscription"', 73, {
    msg: 'sub',
    id: 'badparams',
    name: 'tasks',
    params: 'x',
  }),
  {
    id: 'subscriptions.74',
    group: 'subscriptions',
    title: 'unknown publication → nosub with 404 "Subscription \'nope\' not found"',
    checklist: [74],
    async run(ctx) {
      const client = await ctx.connected();
      const nosub = await subscribe(client, 's2', 'nope', []);
      assert.equal(nosub.msg, 'nosub', JSON.stringify(nosub));
      assert.deepEqual(
        Object.keys(nosub).sort(),
        ['error', 'id', 'msg'],
        `nosub shape ${JSON.stringify(nosub)}`,
      );
      assert.equal(nosub.id, 's2');
      assertWireError(
        nosub.error,
        { error: 404, reason: "Subscription 'nope' not found", errorType: 'Meteor.Error' },
        { message: "Subscription 'nope' not found [404]" },
      );
    },
  },
  {
    id: 'subscriptions.75',
    group: 'subscriptions',
    title: 'sub with the id of a live sub → ignored (no new messages)',
    checklist: [75],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: 'one' } });
      await subscribeReady(client, 's1', 'tasks');
      const mark = client.mark();
      client.send({ msg: 'sub', id: 's1', name: 'tasks', params: [] });
      const { result, updated } = await barrier(client);
      const others = client.receivedAfter(mark, (m) => m !== result && m !== updated);
      assert.deepEqual(others, [], 'a duplicate sub id produces nothing');
    },
  },
  {
    id: 'subscriptions.76',
    group: 'subscriptions',
    title: 'publication errors after ready → added, ready, removed, then nosub with error 412',
    checklist: [76],
    async run(ctx) {
      const client = await ctx.connected();
      const mark = client.mark();
      client.send({ msg: 'sub', id: 'err', name: 'errors', params: [] });
      const nosub = await client.next({ msg: 'nosub', id: 'err' });
      assert.deepEqual(sequence(client, mark, 'errorsColl'), ['added', 'ready', 'removed', 'nosub']);
      const [added, ready, removed] = client.receivedAfter(
        mark,
        (m) => isData('errorsColl')(m) || m.msg === 'ready',
      );
      assert.equal(added?.id, 'e1', 'added e1');
      assert.deepEqual(ready, { msg: 'ready', subs: ['err'] });
      assert.deepEqual(removed, { msg: 'removed', collection: 'errorsColl', id: 'e1' });
      assert.deepEqual(
        Object.keys(nosub).sort(),
        ['error', 'id', 'msg'],
        `nosub shape ${JSON.stringify(nosub)}`,
      );
      assertWireError(
        nosub.error,
        { error: 412, reason: 'Explicit error', errorType: 'Meteor.Error' },
        { message: 'Explicit error [412]' },
      );
    },
  },
  {
    id: 'subscriptions.77',
    group: 'subscriptions',
    title: 'publication throws a plain Error → nosub with error 500 "Internal server error"',
    checklist: [77],
    async run(ctx) {
      const client = await ctx.connected();
      const mark = client.mark();
      const nosub = await subscribe(client, 'thr', 'throws', []);
      assert.equal(nosub.msg, 'nosub', JSON.stringify(nosub));
      assert.deepEqual(
        Object.keys(nosub).sort(),
        ['error', 'id', 'msg'],
        `nosub shape ${JSON.stringify(nosub)}`,
      );
      assertWireError(
        nosub.error,
        { error: 500, reason: 'Internal server error' },
        { message: 'Internal server error [500]', errorType: 'Meteor.Error' },
      );
      assert.deepEqual(client.receivedAfter(mark, { msg: 'ready' }), [], 'no ready');
    },
  },
  {
    id: 'subscriptions.78',
    group: 'subscriptions',
    title: 'publication stops → removed for its docs, then nosub without error',
    checklist: [78],
    async run(ctx) {
      const client = await ctx.connected();
      const mark = client.mark();
      client.send({ msg: 'sub', id: 'st', name: 'stops', params: [] });
      const nosub = await client.next({ msg: 'nosub', id: 'st' });
      assert.deepEqual(nosub, { msg: 'nosub', id: 'st' });
      assert.deepEqual(sequence(client, mark, 'stopsColl'), ['added', 'ready', 'removed', 'nosub']);
      assert.deepEqual(client.receivedAfter(mark, { msg: 'removed' }), [
        { msg: 'removed', collection: 'stopsColl', id: 's1' },
      ]);
    },
  },
  {
    id: 'subscriptions.79',
    group: 'subscriptions',
    title: 'unsub → removed for each doc the sub published, then nosub',
    checklist: [79],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: 'one' }, t2: { title: 'two' } });
      await subscribeReady(client, 's1', 'tasks');
      const mark = client.mark();
      const nosub = await unsubscribe(client, 's1');
      assert.deepEqual(nosub, { msg: 'nosub', id: 's1' });
      const data = client.receivedAfter(mark, isData());
      assert.deepEqual(byId(data), [
        { msg: 'removed', collection: 'tasks', id: 't1' },
        { msg: 'removed', collection: 'tasks', id: 't2' },
      ]);
      for (const m of data) assert.ok(client.seqOf(m) < client.seqOf(nosub), 'removed before nosub');
    },
  },
  {
    id: 'subscriptions.80',
    group: 'subscriptions',
    title: 'unsub of an unknown id → nosub {id}',
    checklist: [80],
    async run(ctx) {
      const client = await ctx.connected();
      client.send({ msg: 'unsub', id: 'never' });
      assert.deepEqual(await client.next({ msg: 'nosub' }), { msg: 'nosub', id: 'never' });
    },
  },
  {
    id: 'subscriptions.81',
    group: 'subscriptions',
    title: 'unsub without id → nosub without id',
    checklist: [81],
    async run(ctx) {
      const client = await ctx.connected();
      client.send({ msg: 'unsub' });
      assert.deepEqual(await client.next((m) => m.msg === 'nosub' || m.msg === 'error'), { msg: 'nosub' });
    },
  },
  {
    id: 'subscriptions.82',
    group: 'subscriptions',
    title: 'setField on a published doc → changed {fields:{f}} only, before that method’s updated',
    checklist: [82],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: 'x' } });
      await subscribeReady(client, 's1', 'tasks');
      client.take(isData('tasks'));
      for (const value of [5, { deep: [1, { x: true }] }]) {
        const { updated } = await call(client, 'setField', ['t1', 'f', value]);
        const changed = await client.next(isData('tasks'));
        assert.deepEqual(changed, { msg: 'changed', collection: 'tasks', id: 't1', fields: { f: value } });
        assert.ok(client.seqOf(changed) < client.seqOf(updated), 'changed arrives before updated');
      }
    },
  },
  {
    id: 'subscriptions.83',
    group: 'subscriptions',
    title: 'unsetField → changed {cleared:["f"]} with no fields key',
    checklist: [83],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: 'x', f: 1 } });
      await subscribeReady(client, 's1', 'tasks');
      client.take(isData('tasks'));
      const { updated } = await call(client, 'unsetField', ['t1', 'f']);
      const changed = await client.next(isData('tasks'));
      assert.deepEqual(changed, { msg: 'changed', collection: 'tasks', id: 't1', cleared: ['f'] });
      assert.ok(client.seqOf(changed) < client.seqOf(updated), 'changed arrives before updated');
    },
  },
  {
    id: 'subscriptions.84',
    group: 'subscriptions',
    title: 'setting a field to its current value → no changed',
    checklist: [84],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: 'x', f: { v: [1, 2] } } });
      await subscribeReady(client, 's1', 'tasks');
      const mark = client.mark();
      await callValue(client, 'setField', ['t1', 'f', { v: [1, 2] }]);
      await callValue(client, 'setField', ['t1', 'title', 'x']);
      assert.deepEqual(client.receivedAfter(mark, isData('tasks')), [], 'no changed for an unchanged value');
    },
  },
  {
    id: 'subscriptions.85',
    group: 'subscriptions',
    title: 'tasksA then tasksB on one doc → added {a,b}, then changed {c} only',
    checklist: [85],
    async run(ctx) {
      await overlapping(ctx);
    },
  },
  {
    id: 'subscriptions.86',
    group: 'subscriptions',
    title: 'unsub tasksA after 85 → changed {cleared:["a"]} (b unchanged), no removed',
    checklist: [86],
    async run(ctx) {
      const client = await overlapping(ctx);
      const mark = client.mark();
      await unsubscribe(client, 'A');
      assert.deepEqual(client.receivedAfter(mark, isData('tasks')), [
        { msg: 'changed', collection: 'tasks', id: 'm1', cleared: ['a'] },
      ]);
    },
  },
  {
    id: 'subscriptions.87',
    group: 'subscriptions',
    title: 'unsub tasksB after 86 → removed',
    checklist: [87],
    async run(ctx) {
      const client = await overlapping(ctx);
      await unsubscribe(client, 'A');
      const mark = client.mark();
      await unsubscribe(client, 'B');
      assert.deepEqual(client.receivedAfter(mark, isData('tasks')), [
        { msg: 'removed', collection: 'tasks', id: 'm1' },
      ]);
    },
  },
  {
    id: 'subscriptions.88',
    group: 'subscriptions',
    title: 'over a whole sequence: no added for a present id, no changed/removed for an absent one',
    checklist: [88],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: '1', a: 1, b: 1, c: 1 } });
      await subscribeReady(client, 'all', 'tasks');
      await subscribeReady(client, 'A', 'tasksA');
      await subscribeReady(client, 'B', 'tasksB');
      await callValue(client, 'insertTaskWithId', ['t2', { a: 2, c: 2 }]);
      await callValue(client, 'setField', ['t1', 'a', 5]);
      await callValue(client, 'unsetField', ['t2', 'a']);
      await callValue(client, 'setField', ['t2', 'b', 7]);
      await unsubscribe(client, 'all');
      assert.deepEqual(client.store.get('tasks', 't1'), { a: 5, b: 1, c: 1 }, 't1 after unsub of tasks');
      assert.deepEqual(client.store.get('tasks', 't2'), { b: 7, c: 2 }, 't2 after unsub of tasks');
      await unsubscribe(client, 'A');
      assert.deepEqual(client.store.get('tasks', 't1'), { b: 1, c: 1 }, 't1 after unsub of tasksA');
      await subscribeReady(client, 'all2', 'tasks');
      await resetTasks(client);
      await unsubscribe(client, 'B');
      await unsubscribe(client, 'all2');
      assert.deepEqual(client.store.violations, [], 'no inconsistent data messages');
      assert.deepEqual(client.store.ids('tasks'), [], 'every task removed');
    },
  },
  {
    id: 'subscriptions.89',
    group: 'subscriptions',
    title: 'universal publication → serverInfo added after connected without a sub, never a ready',
    checklist: [89],
    async run(ctx) {
      const client = await ctx.open();
      await client.connect();
      const added = await client.next(isData('serverInfo'));
      assert.equal(added.msg, 'added');
      assert.equal(added.id, 'server');
      assert.deepEqual(
        Object.keys(added).sort(),
        ['collection', 'fields', 'id', 'msg'],
        JSON.stringify(added),
      );
      const fields = added.fields as JsonObject;
      assert.deepEqual(Object.keys(fields), ['name'], 'serverInfo fields');
      assert.equal(typeof fields.name, 'string', 'name is a string');
      const connected = client.received({ msg: 'connected' })[0];
      assert.ok(connected && client.seqOf(connected) < client.seqOf(added), 'added after connected');
      await barrier(client);
      assert.deepEqual(client.received({ msg: 'ready' }), [], 'a universal publication never sends ready');
    },
  },
  {
    id: 'subscriptions.90',
    group: 'subscriptions',
    title: 'never addedBefore/movedBefore to a version "1" client',
    checklist: [90],
    async run(ctx) {
      const client = await withTasks(ctx, { t1: { title: 'one' } });
      await subscribeReady(client, 's1', 'tasks');
      await subscribeReady(client, 'A', 'tasksA');
      await callValue(client, 'insertTask', ['two']);
      await callValue(client, 'setField', ['t1', 'a', 1]);
      await resetTasks(client);
      await barrier(client);
      assert.deepEqual(
        client.received((m) => m.msg === 'addedBefore' || m.msg === 'movedBefore'),
        [],
        'no ordered-collection messages',
      );
    },
  },
  {
    id: 'subscriptions.91',
    group: 'subscriptions',
    title: 'id escaping: 24-hex and "-", "~", "{" ids get a "-" prefix on the wire (numeric ids n/a)',
    checklist: [91],
    async run(ctx) {
      const hex = '5f1d0000000000000000abcd';
      const client = await withTasks(ctx, {
        [hex]: { title: 'hex' },
        '-dash': { title: 'dash' },
        '~tilde': { title: 'tilde' },
        '{brace': { title: 'brace' },
        plain: { title: 'plain' },
      });
      const mark = client.mark();
      const ready = await subscribe(client, 's1', 'tasks', []);
      assert.equal(ready.msg, 'ready', JSON.stringify(ready));
      const ids = client.receivedAfter(mark, isData('tasks')).map((m) => m.id);
      assert.deepEqual(ids.sort(), [`-${hex}`, '--dash', '-{brace', '-~tilde', 'plain'].sort());
      await callValue(client, 'setField', [hex, 'f', 1]);
      assert.deepEqual(await client.next({ msg: 'changed' }), {
        msg: 'changed',
        collection: 'tasks',
        id: `-${hex}`,
        fields: { f: 1 },
      });
    },
  },
];
