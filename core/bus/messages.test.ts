/**
 * Application messages on the bus (messages.ts) against a real PostgreSQL: delivered to every listening process
 * (two buses here), spilled when large, numbered within a transaction so identical ones are not folded, dropped on
 * rollback, published from SQL through `pgrt.emit`, and delivered in the outbox capture mode's bus too.
 */
import assert from 'node:assert/strict';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { OutboxPump } from '../capture/outbox-pump.js';
import { outboxCapture } from '../capture/trigger-capture.js';
import { PgDatabase } from '../database/database.js';
import { ensureSchema } from '../database/schema.js';
import type { BusEvent } from './change-bus.js';
import { publishMessage } from './messages.js';
import { PgNotificationBus } from './pg-notification-bus.js';

let counter = 0;

type Message = Extract<BusEvent, { kind: 'message' }>;

describe('bus messages', () => {
  let db: PgDatabase;
  let channel: string;
  let buses: PgNotificationBus[];
  let received: Message[][];

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 4 });
    await ensureSchema(db);
  });
  after(async () => {
    await db.close();
  });

  async function listen(count: number, outbox = false): Promise<void> {
    channel = `messages_${process.pid}_${++counter}`;
    buses = [];
    received = [];
    for (let i = 0; i < count; i++) {
      const bus = new PgNotificationBus(db, { channel, outbox, spillGcIntervalMs: 0 });
      const events: Message[] = [];
      bus.subscribe((event) => {
        if (event.kind === 'message') events.push(event);
      });
      await bus.start();
      buses.push(bus);
      received.push(events);
    }
  }

  afterEach(async () => {
    for (const bus of buses) await bus.close();
  });

  it('reaches every listening process, in order, with its topic and JSON data', async () => {
    await listen(2);
    await publishMessage(db, 'room:1', { text: 'hi', n: [1, 2] }, { channel });
    await publishMessage(db, 'room:2', 'plain', { channel });
    await waitUntil(() => received.every((events) => events.length === 2), {
      what: () => JSON.stringify(received),
    });
    for (const events of received) {
      assert.deepEqual(
        events.map((e) => [e.topic, e.data]),
        [
          ['room:1', { text: 'hi', n: [1, 2] }],
          ['room:2', 'plain'],
        ],
      );
    }
  });

  it('spills a message over the threshold and still delivers it whole', async () => {
    await listen(1);
    const big = 'é'.repeat(6000); // 12000 bytes, over NOTIFY's 8000-byte limit
    await publishMessage(db, 'big', { big }, { channel });
    await waitUntil(() => received[0]!.length === 1);
    assert.deepEqual(received[0]![0]!.data, { big });
    const spilled = await db.query<{ n: string }>(
      'SELECT count(*) AS n FROM pgrt.spill WHERE payload LIKE \'{"m":"big"%\'',
    );
    assert.ok(Number(spilled.rows[0]!.n) >= 1);
  });

  it('delivers identical messages of one transaction each, on commit only', async () => {
    await listen(1);
    await db.transaction(async (client) => {
      await publishMessage(client, 'same', { a: 1 }, { channel });
      await publishMessage(client, 'same', { a: 1 }, { channel });
    });
    await assert.rejects(
      db.transaction(async (client) => {
        await publishMessage(client, 'rolled-back', {}, { channel });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await publishMessage(db, 'after', null, { channel });
    await waitUntil(() => received[0]!.some((e) => e.topic === 'after'));
    assert.deepEqual(
      received[0]!.map((e) => e.topic),
      ['same', 'same', 'after'],
    );
  });

  it('is published from SQL with pgrt.emit, and reaches an outbox-mode bus', async () => {
    await listen(1, true);
    await db.query(
      `SELECT pgrt.emit($1, '"m":' || to_json('sql'::text)::text, ',"d":' || $2::jsonb::text, 7900)`,
      [channel, '{"x": true}'],
    );
    await waitUntil(() => received[0]!.length === 1);
    assert.deepEqual(
      received[0]!.map((e) => [e.topic, e.data]),
      [['sql', { x: true }]],
    );
  });

  it('passes through the outbox in outbox mode, and the pump delivers it', async () => {
    await listen(1, true);
    const pump = new OutboxPump(db, { capture: outboxCapture, spillThresholdBytes: 7900 });
    pump.start();
    try {
      await publishMessage(db, 'via-outbox', { big: 'y'.repeat(9000) }, { channel, mode: outboxCapture });
      const rows = await db.query('SELECT 1 FROM pgrt.outbox WHERE channel = $1', [channel]);
      assert.equal(rows.rowCount, 1);
      await waitUntil(() => received[0]!.length === 1);
      assert.deepEqual(received[0]![0]!.data, { big: 'y'.repeat(9000) });
    } finally {
      await pump.close();
    }
  });

  it('refuses data without a JSON form', async () => {
    await listen(1);
    await assert.rejects(publishMessage(db, 'nothing', undefined, { channel }), TypeError);
  });
});
