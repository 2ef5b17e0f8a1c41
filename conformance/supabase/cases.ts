/**
 * The Supabase Realtime conformance cases (what each checks: spec.ts). Frames are written as realtime-js writes
 * them; every case ends by checking the socket still answers a heartbeat where the client keeps the connection.
 */
import assert from 'node:assert/strict';
import type { ConformanceCase } from './case.js';
import { rowCases } from './cases-rows.js';
import { alive, changesOf, eventIs, join, joinPayload, needsTable, refIs, topic, type V2 } from './frames.js';

/** Every case, in run order. */
export const allCases: readonly ConformanceCase[] = [
  {
    id: 'socket.01',
    group: 'socket',
    title: 'heartbeat on topic phoenix gets an ok reply with its ref',
    run: async ({ open }) => alive(await open()),
  },
  {
    id: 'socket.02',
    group: 'socket',
    title: 'vsn 2.0.0 replies are 5-element arrays [join_ref, ref, topic, event, payload]',
    run: async ({ open }) => {
      const client = await open();
      const name = topic('arrays');
      client.send(['1', '1', name, 'phx_join', joinPayload()]);
      const reply = await client.waitFor<V2>(refIs('1'), 'join reply');
      assert.deepEqual(reply.slice(0, 4), ['1', '1', name, 'phx_reply']);
    },
  },
  {
    id: 'socket.03',
    group: 'socket',
    title: 'a join outside realtime:* gets the unmatched topic error, and the socket stays',
    run: async ({ open }) => {
      const client = await open();
      client.send(['1', '1', 'rooms:lobby', 'phx_join', joinPayload()]);
      const reply = await client.waitFor<V2>(refIs('1'), 'error reply');
      assert.deepEqual(reply[4], { status: 'error', response: { reason: 'unmatched topic' } });
      await alive(client);
    },
  },
  {
    id: 'socket.04',
    group: 'socket',
    title: 'an event on a topic not joined gets unmatched topic; a leave of it, ok',
    run: async ({ open }) => {
      const client = await open();
      const name = topic('unjoined');
      client.send([null, '1', name, 'access_token', { access_token: 'x' }]);
      assert.deepEqual((await client.waitFor<V2>(refIs('1'), 'error reply'))[4], {
        status: 'error',
        response: { reason: 'unmatched topic' },
      });
      client.send(['7', '2', name, 'phx_leave', {}]);
      assert.deepEqual((await client.waitFor<V2>(refIs('2'), 'leave reply'))[4], {
        status: 'ok',
        response: {},
      });
      await alive(client);
    },
  },
  {
    id: 'socket.05',
    group: 'socket',
    title: 'joining a joined topic again closes the earlier join (phx_close) and joins anew',
    run: async ({ open }) => {
      const client = await open();
      const name = topic('dup');
      client.send(['1', '1', name, 'phx_join', joinPayload()]);
      await client.waitFor(refIs('1'), 'first join reply');
      client.send(['2', '2', name, 'phx_join', joinPayload()]);
      const close = await client.waitFor<V2>(eventIs(name, 'phx_close'), 'phx_close of the first join');
      assert.equal(close[0], '1');
      const reply = await client.waitFor<V2>(refIs('2'), 'second join reply');
      assert.equal(reply[4].status, 'ok');
    },
  },
  {
    id: 'socket.06',
    group: 'socket',
    title: 'vsn 1.0.0 speaks JSON objects both ways',
    run: async ({ open }) => {
      const client = await open('1.0.0');
      client.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '1' });
      const reply = await client.waitFor<Record<string, unknown>>(
        (f) => typeof f === 'object' && f !== null && (f as { ref?: unknown }).ref === '1',
        'heartbeat reply object',
      );
      assert.equal(reply.event, 'phx_reply');
      assert.deepEqual(reply.payload, { status: 'ok', response: {} });
    },
  },
  {
    id: 'channel.07',
    group: 'channel',
    title: 'the join reply lists the postgres_changes bindings in order, echoed, each with an id',
    skip: needsTable,
    run: async ({ open, options }) => {
      const client = await open();
      const first = changesOf(options.table as string);
      const second = { ...first, event: 'INSERT', filter: 'id=eq.1' };
      const response = await join(client, topic('bindings'), joinPayload([first, second]));
      const bindings = response.postgres_changes as Record<string, unknown>[];
      assert.equal(bindings.length, 2);
      for (const [i, sent] of [first, second].entries()) {
        const { id, ...echoed } = bindings[i] as Record<string, unknown>;
        assert.deepEqual(echoed, sent);
        assert.ok(id !== undefined && id !== null, 'an id per binding');
      }
    },
  },
  {
    id: 'channel.08',
    group: 'channel',
    title: 'replies carry the ref of the push and the join_ref of the channel',
    run: async ({ open }) => {
      const client = await open();
      const name = topic('refs');
      client.send(['11', '12', name, 'phx_join', joinPayload()]);
      const reply = await client.waitFor<V2>(refIs('12'), 'join reply');
      assert.deepEqual(reply.slice(0, 3), ['11', '12', name]);
    },
  },
  {
    id: 'channel.09',
    group: 'channel',
    title: 'phx_leave gets an ok reply, then phx_close with the join_ref',
    run: async ({ open }) => {
      const client = await open();
      const name = topic('leave');
      client.send(['1', '1', name, 'phx_join', joinPayload()]);
      await client.waitFor(refIs('1'), 'join reply');
      client.send(['1', '2', name, 'phx_leave', {}]);
      assert.deepEqual(await client.waitFor(refIs('2'), 'leave reply'), [
        '1',
        '2',
        name,
        'phx_reply',
        { status: 'ok', response: {} },
      ]);
      const close = await client.waitFor<V2>(eventIs(name, 'phx_close'), 'phx_close');
      assert.equal(close[0], '1');
      await alive(client);
    },
  },
  {
    id: 'channel.10',
    group: 'channel',
    title: 'a join to realtime: alone is refused with TopicNameRequired',
    run: async ({ open }) => {
      const client = await open();
      client.send(['1', '1', 'realtime:', 'phx_join', joinPayload()]);
      assert.deepEqual((await client.waitFor<V2>(refIs('1'), 'error reply'))[4], {
        status: 'error',
        response: { reason: 'TopicNameRequired: You must provide a topic name' },
      });
      await alive(client);
    },
  },
  {
    id: 'changes.11',
    group: 'changes',
    title: 'a join with postgres_changes is followed by system "Subscribed to PostgreSQL"',
    skip: needsTable,
    run: async ({ open, options }) => {
      const client = await open();
      const name = topic('ready');
      await join(client, name, joinPayload([changesOf(options.table as string)]));
      const system = await client.waitFor<V2>(eventIs(name, 'system'), 'system message');
      assert.deepEqual(system[4], {
        extension: 'postgres_changes',
        status: 'ok',
        message: 'Subscribed to PostgreSQL',
        channel: name.slice('realtime:'.length),
      });
    },
  },
  {
    id: 'changes.12',
    group: 'changes',
    title: 'a bad filter is a system error after a successful join',
    skip: needsTable,
    run: async ({ open, options }) => {
      const client = await open();
      const name = topic('badfilter');
      await join(
        client,
        name,
        joinPayload([{ ...changesOf(options.table as string), filter: 'id=foo.hey' }]),
      );
      const system = await client.waitFor<V2>(eventIs(name, 'system'), 'system message');
      assert.equal(system[4].status, 'error');
      assert.equal(system[4].extension, 'postgres_changes');
      assert.match(String(system[4].message), /^Error parsing `filter` params: \["foo", ?"hey"\]$/);
      await alive(client);
    },
  },
  {
    id: 'changes.13',
    group: 'changes',
    title: 'a change arrives as postgres_changes {ids, data} with columns, record and a commit timestamp',
    skip: (o) =>
      needsTable(o) ?? (o.insert ? undefined : 'no way to write a row (the runner needs an insert hook)'),
    run: async ({ open, options }) => {
      const client = await open();
      const name = topic('change');
      const response = await join(client, name, joinPayload([changesOf(options.table as string)]));
      const id = (response.postgres_changes as { id: unknown }[])[0]?.id;
      await client.waitFor(eventIs(name, 'system'), 'system message');
      await options.insert?.();
      const push = await client.waitFor<V2>(eventIs(name, 'postgres_changes'), 'postgres_changes push');
      const payload = push[4] as { ids: unknown[]; data: Record<string, unknown> };
      assert.deepEqual(payload.ids, [id]);
      const [schema, table] = (options.table as string).split('.');
      assert.equal(payload.data.schema, schema);
      assert.equal(payload.data.table, table);
      assert.equal(payload.data.type, 'INSERT');
      assert.match(String(payload.data.commit_timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      assert.ok(Array.isArray(payload.data.columns), 'columns');
      for (const column of payload.data.columns as { name: unknown; type: unknown }[]) {
        assert.equal(typeof column.name, 'string');
        assert.equal(typeof column.type, 'string');
      }
      assert.equal(typeof payload.data.record, 'object');
      assert.ok('errors' in payload.data, 'errors');
    },
  },
  {
    id: 'binary.14',
    group: 'binary',
    title: 'a binary broadcast (kind 3, self) comes back as the kind-4 frame the client decodes',
    skip: (o) => (o.broadcast ? undefined : 'the server under test serves no broadcast (--broadcast)'),
    run: async ({ open }) => {
      const client = await open();
      const name = topic('binary');
      await join(client, name, joinPayload([], { ack: false, self: true }));
      const parts = ['', '', name, 'blob', ''].map((p) => Buffer.from(p));
      client.send(
        Buffer.concat([Buffer.from([3, ...parts.map((p) => p.length), 0]), ...parts, Buffer.from([1, 2, 3])]),
      );
      const frame = await client.waitFor<Uint8Array>((f) => f instanceof Uint8Array, 'a binary frame');
      assert.equal(frame[0], 4, 'kind 4 (userBroadcast), the only binary kind realtime-js decodes');
      const [topicSize, eventSize, metaSize, encoding] = [frame[1], frame[2], frame[3], frame[4]].map(
        Number,
      ) as [number, number, number, number];
      const eventAt = 5 + topicSize;
      const payloadAt = eventAt + eventSize + metaSize;
      assert.equal(Buffer.from(frame.subarray(5, eventAt)).toString(), name);
      assert.equal(Buffer.from(frame.subarray(eventAt, eventAt + eventSize)).toString(), 'blob');
      assert.equal(encoding, 0, 'binary encoding');
      const at = payloadAt;
      assert.deepEqual([...frame.subarray(at)], [1, 2, 3]);
    },
  },
  ...rowCases,
  {
    id: 'pgrt.15',
    group: 'pgrt',
    title: 'undecodable frames are dropped and the socket keeps working',
    run: async ({ open }) => {
      const client = await open();
      client.send('not json');
      client.send('[1,2]');
      client.send(Uint8Array.from([9, 9, 9]));
      await alive(client);
    },
  },
];
