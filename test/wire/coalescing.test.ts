/**
 * Outbound coalescing (ddp({ coalesceMs })) keeps every message intact and in order: over raw `/websocket` each
 * WebSocket message is still exactly one DDP message; over SockJS several messages may share one `a[…]` frame
 * (and do, for a burst). A method's `updated` still follows the data of its write.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import WebSocket from 'ws';
import type { PgrtServer } from '../../server.js';
import { ddpUrl, startPresentations } from '../fixtures/presentations-servers.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const ROWS = 200;

for (const coalesceMs of [0, 2] as const) {
  describe(`coalescing outbound frames (coalesceMs ${coalesceMs})`, function () {
    this.timeout(30_000);
    let server: PgrtServer | undefined;
    let db: pg.Client | undefined;

    before(async () => {
      server = await startPresentations({ coalesceMs });
      db = new pg.Client(testDatabaseUrl());
      await db.connect();
    });
    after(async () => {
      await db?.end();
      await server?.close();
    });

    it('raw WebSocket: one DDP message per frame, every one of a 200-row burst, none duplicated', async () => {
      const client = await RawDdpClient.connect(ddpUrl(server!.port));
      await client.subscribe('presentations');
      const tag = randomUUID().slice(0, 8);
      const first = client.messages.length;
      await db!.query(
        `INSERT INTO presentations (id, title) SELECT $1 || lpad(g::text, 4, '0'), 'c' || g FROM generate_series(1, ${ROWS}) g`,
        [`co-${tag}-`],
      );
      const ours = () => client.messages.slice(first).filter((m) => String(m.id).startsWith(`co-${tag}-`));
      await waitUntil(() => ours().length >= ROWS, { what: () => `${ROWS} added, got ${ours().length}` });
      // Every frame parsed as one object (the client records one message per frame; a batched frame would fail).
      assert.deepEqual(client.violations, []);
      const ids = ours().map((m) => String(m.id));
      assert.equal(new Set(ids).size, ROWS);
      assert.ok(ours().every((m) => m.msg === 'added'));
      // A method's result and updated come after the added of its own write.
      const call = await client.call('presentations.add', { title: `m-${tag}` });
      const after = client.messages.slice(first);
      const added = after.findIndex(
        (m) => m.msg === 'added' && (m.fields as { title?: string })?.title === `m-${tag}`,
      );
      const updated = after.findIndex((m) => m.msg === 'updated');
      assert.ok(call.result !== undefined || call.error === undefined);
      assert.ok(
        added >= 0 && updated > added,
        `updated (${updated}) must follow the method's added (${added})`,
      );
      await client.close();
    });

    it('SockJS: every message intact and in order, several per frame in a burst', async () => {
      const ws = new WebSocket(
        `ws://127.0.0.1:${server!.port}/sockjs/000/${randomUUID().slice(0, 8)}/websocket`,
        { perMessageDeflate: false },
      );
      const messages: Record<string, unknown>[] = [];
      let framesWithSeveral = 0;
      ws.on('message', (data) => {
        const text = String(data);
        if (!text.startsWith('a')) return;
        const batch = JSON.parse(text.slice(1)) as string[];
        if (batch.length > 1) framesWithSeveral++;
        for (const item of batch) messages.push(JSON.parse(item) as Record<string, unknown>);
      });
      await new Promise((resolve) => ws.once('open', resolve));
      const send = (m: object) => ws.send(JSON.stringify([JSON.stringify(m)]));
      send({ msg: 'connect', version: '1', support: ['1'] });
      await waitUntil(() => messages.some((m) => m.msg === 'connected'));
      send({ msg: 'sub', id: 's1', name: 'presentations', params: [] });
      await waitUntil(() => messages.some((m) => m.msg === 'ready'));
      const tag = randomUUID().slice(0, 8);
      const first = messages.length;
      await db!.query(
        `INSERT INTO presentations (id, title) SELECT $1 || lpad(g::text, 4, '0'), 'c' || g FROM generate_series(1, ${ROWS}) g`,
        [`sj-${tag}-`],
      );
      const ours = () => messages.slice(first).filter((m) => String(m.id).startsWith(`sj-${tag}-`));
      await waitUntil(() => ours().length >= ROWS, { what: () => `${ROWS} added, got ${ours().length}` });
      assert.equal(new Set(ours().map((m) => m.id)).size, ROWS);
      assert.ok(framesWithSeveral > 0, 'a burst should share SockJS frames');
      ws.close();
    });
  });
}
