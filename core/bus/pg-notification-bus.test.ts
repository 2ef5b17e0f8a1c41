/**
 * PgNotificationBus against a real PostgreSQL with real NOTIFY: event shapes, order across spilled payloads,
 * rollbacks, fences, malformed payloads, reconnection after the LISTEN backend is killed, and spill collection.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { PgDatabase } from '../database/database.js';
import { introspectTable } from '../database/introspect.js';
import { ensureSchema, installCapture } from '../database/schema.js';
import type { TableInfo } from '../database/table-info.js';
import type { Logger } from '../logger.js';
import type { BusEvent } from './change-bus.js';
import { PgNotificationBus, type PgNotificationBusOptions } from './pg-notification-bus.js';

interface LogLine {
  level: string;
  fields: object;
  message: string | undefined;
}

function recordingLogger(lines: LogLine[]): Logger {
  const log =
    (level: string) =>
    (fields: object, message?: string): void => {
      lines.push({ level, fields, message });
    };
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return logger;
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  await waitUntil(condition, { timeoutMs, what: () => what });
}

let counter = 0;

describe('PgNotificationBus', () => {
  let db: PgDatabase;
  let table: TableInfo;
  let channel: string;
  let bus: PgNotificationBus;
  let events: BusEvent[];
  let logs: LogLine[];

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 4 });
    await ensureSchema(db);
  });
  after(async () => {
    await db.close();
  });

  async function setUp(options: PgNotificationBusOptions = {}): Promise<void> {
    const name = `bus_${process.pid}_${++counter}`;
    channel = `${name}_ch`;
    await db.query(`CREATE TABLE ${name} (id int8 PRIMARY KEY, n numeric, body text)`);
    table = await introspectTable(db, name);
    await installCapture(db, table, { channel });
    events = [];
    logs = [];
    bus = new PgNotificationBus(db, { channel, logger: recordingLogger(logs), ...options });
    bus.subscribe((event) => events.push(event));
    await bus.start();
  }
  afterEach(async () => {
    await bus.close();
  });

  const changes = () => events.filter((e) => e.kind === 'change');

  it('delivers changes in order with exact bigint/numeric text, a txid and a seq increasing by one', async () => {
    await setUp();
    assert.equal(bus.connected, true);
    assert.equal(bus.lastSeq, 0);
    const seen: number[] = [];
    bus.subscribe(() => {
      throw new Error('handler bug');
    });
    const unsubscribe = bus.subscribe((e) => seen.push(e.seq));
    await db.query(
      `INSERT INTO ${table.name} VALUES (9007199254740993, 12345678901234567890.123456789, 'a')`,
    );
    await db.query(`UPDATE ${table.name} SET body = 'b'`);
    await db.query(`UPDATE ${table.name} SET body = 'b'`);
    await db.query(`DELETE FROM ${table.name}`);
    await db.query(`TRUNCATE ${table.name}`);
    await until(() => events.length === 4, '4 events');
    unsubscribe();
    const t = table.qualifiedName;
    const [insert, update, remove, truncate] = events;
    assert.match(String((insert as { txid?: string }).txid), /^\d+$/);
    // The transaction's time (ms) is carried; core/capture/old-rows.test.ts checks its value.
    for (const event of [insert, update, remove]) {
      assert.equal(typeof (event as { committedAt?: number }).committedAt, 'number');
    }
    const plain = (event: BusEvent | undefined) => ({ ...event, txid: '', committedAt: 0 });
    assert.deepEqual(plain(insert), {
      kind: 'change',
      seq: 1,
      table: t,
      op: 'insert',
      key: '9007199254740993',
      row: { id: '9007199254740993', n: '12345678901234567890.123456789', body: 'a' },
      txid: '',
      committedAt: 0,
    });
    assert.deepEqual(plain(update), {
      ...plain(insert),
      seq: 2,
      op: 'update',
      row: { ...(insert as { row: object }).row, body: 'b' },
    });
    assert.deepEqual(plain(remove), {
      kind: 'change',
      seq: 3,
      table: t,
      op: 'delete',
      key: '9007199254740993',
      row: undefined,
      txid: '',
      committedAt: 0,
    });
    assert.deepEqual({ ...truncate, txid: '' }, { kind: 'truncate', seq: 4, table: t, txid: '' });
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.equal(bus.lastSeq, 4);
    assert.equal(logs.filter((l) => l.message === 'bus handler threw').length, 4);
  });

  it('fetches spilled payloads (over 7900 bytes, multibyte included) and keeps order around them', async () => {
    await setUp();
    const big = 'x'.repeat(20_000);
    const multibyte = '€'.repeat(3000); // 3000 characters, 9000 bytes
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'small')`);
    await db.query(`INSERT INTO ${table.name} VALUES (2, 2, $1)`, [big]);
    await db.query(`INSERT INTO ${table.name} VALUES (3, 3, 'small')`);
    await db.query(`INSERT INTO ${table.name} VALUES (4, 4, $1)`, [multibyte]);
    await db.transaction(async (c) => {
      await c.query(`UPDATE ${table.name} SET body = $1 WHERE id = 1`, [big]);
      await c.query(`INSERT INTO ${table.name} VALUES (5, 5, 'small')`);
    });
    await until(() => events.length === 6, '6 events');
    assert.deepEqual(
      events.map((e) => (e.kind === 'change' ? `${e.seq}:${e.op}:${String(e.key)}` : e.kind)),
      ['1:insert:1', '2:insert:2', '3:insert:3', '4:insert:4', '5:update:1', '6:insert:5'],
    );
    const bodies = changes().map((e) => e.row?.body);
    assert.deepEqual(bodies, ['small', big, 'small', multibyte, big, 'small']);
    const spilled = await db.query('SELECT 1 FROM pgrt.spill WHERE payload LIKE $1', [
      `%"t":"${table.qualifiedName}"%`,
    ]);
    assert.equal(spilled.rowCount, 3);
  });

  it('delivers nothing for rolled-back transactions; a fence follows its transaction’s changes', async () => {
    await setUp();
    await assert.rejects(
      db.transaction(async (c) => {
        await c.query(`INSERT INTO ${table.name} VALUES (1, 1, 'rolled back')`);
        throw new Error('rollback');
      }),
    );
    const readOnly = await db.transaction(async (c) => {
      await c.query(`SELECT * FROM ${table.name}`);
      return (await c.query<{ f: boolean }>('SELECT pgrt.fence($1, $2) AS f', [channel, 'ro'])).rows[0]?.f;
    });
    assert.equal(readOnly, false);
    const wrote = await db.transaction(async (c) => {
      await c.query(`INSERT INTO ${table.name} VALUES (2, 2, 'kept')`);
      await c.query(`INSERT INTO ${table.name} VALUES (3, 3, $1)`, ['y'.repeat(10_000)]);
      return (await c.query<{ f: boolean }>('SELECT pgrt.fence($1, $2) AS f', [channel, 'm1'])).rows[0]?.f;
    });
    assert.equal(wrote, true);
    await until(() => events.length === 3, 'fence');
    // Nothing more from these transactions: a fence notified after them arrives after anything they sent.
    await db.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify({ f: 'barrier' })]);
    await until(() => events.some((e) => e.kind === 'fence' && e.id === 'barrier'), 'the barrier fence');
    assert.deepEqual(
      events.map((e) =>
        e.kind === 'change' ? String(e.key) : e.kind === 'fence' ? `fence ${e.id}` : e.kind,
      ),
      ['2', '3', 'fence m1', 'fence barrier'],
    );
  });

  it('logs and skips malformed payloads; a lost spilled payload becomes a resync', async () => {
    await setUp();
    for (const payload of [
      'not json',
      '[1]',
      '{"t":"x","o":"i","x":"1"}',
      '{"t":"x","o":"z","k":1,"x":"1"}',
      '',
    ]) {
      await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
    }
    await db.query('SELECT pg_notify($1, $2)', [channel, '{"t":"x","o":"i","k":1,"x":"1","s":-1}']);
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'after')`);
    await until(() => events.length === 2, 'resync and insert');
    assert.deepEqual(
      events.map((e) => `${e.seq}:${e.kind}`),
      ['1:resync', '2:change'],
    );
    assert.equal(logs.filter((l) => l.message === 'malformed notification skipped').length, 5);
    assert.equal(
      logs.filter((l) => l.level === 'error' && /spilled payload lost/.test(l.message ?? '')).length,
      1,
    );
  });

  it('outbox mode: delivers each change of a notification of several, in order; positions drop repeats', async () => {
    await setUp({ outbox: true });
    const base = 1e12; // past any position the suites' pumps reached in this database
    const change = (p: number, key: number) => ({
      p,
      t: 'public.x',
      o: 'i',
      k: String(key),
      x: '9',
      r: { id: key },
    });
    const send = (value: unknown) => db.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(value)]);
    await send([change(base + 1, 1), change(base + 2, 2), { p: base + 3, f: 'F' }]);
    await send(change(base + 2, 2)); // a repeat (e.g. replayed): dropped by its position
    await send([change(base + 4, 4), 'not an object']); // malformed: skipped whole
    await send([change(base + 5, 5)]);
    await until(() => events.length === 4, 'four events');
    assert.deepEqual(
      events.map((e) => (e.kind === 'change' ? `${e.seq}:${String(e.key)}` : `${e.seq}:${e.kind}`)),
      ['1:1', '2:2', '3:fence', '4:5'],
    );
    assert.equal(bus.lastPosition, base + 5);
    assert.equal(logs.filter((l) => l.message === 'malformed notification skipped').length, 1);
  });

  it('reconnects after the LISTEN backend is killed, emits resync, then delivers later inserts', async () => {
    await setUp({ backoff: { initialMs: 20, maxMs: 200 } });
    let id = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await db.query(`INSERT INTO ${table.name} (id) VALUES ($1)`, [++id]);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      await until(() => changes().length >= 3, 'first inserts');
      const pid = bus.listenerPid;
      assert.ok(pid);
      const killed = await db.query<{ ok: boolean }>(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE pid = $1 AND application_name = 'pgrt-listen'",
        [pid],
      );
      assert.deepEqual(killed.rows, [{ ok: true }]);
      await until(() => events.some((e) => e.kind === 'resync'), 'resync');
      const resyncAt = events.findIndex((e) => e.kind === 'resync');
      const before = changes().length;
      await until(() => changes().length >= before + 3, 'inserts after resync');
      assert.equal(bus.connected, true);
      assert.notEqual(bus.listenerPid, pid);
      // seq stays contiguous across the gap; inserts after the resync are new ones, in order.
      assert.deepEqual(
        events.map((e) => e.seq),
        events.map((_, i) => i + 1),
      );
      const keys = events.slice(resyncAt + 1).map((e) => Number((e as { key: string }).key));
      assert.deepEqual(
        keys,
        [...keys].sort((a, b) => a - b),
      );
      assert.ok(logs.some((l) => l.message === 'LISTEN connection lost; reconnecting'));
    } finally {
      writing = false;
      await writer;
    }
  });

  it('stops for good on close: no reconnect, no delivery, no restart', async () => {
    await setUp({ backoff: { initialMs: 10, maxMs: 10 } });
    await bus.close();
    assert.equal(bus.connected, false);
    // Another listener on the channel gets the insert's notification: the closed bus would have too by then.
    const other = new pg.Client(testDatabaseUrl());
    await other.connect();
    try {
      let heard = 0;
      other.on('notification', () => {
        heard++;
      });
      await other.query(`LISTEN ${other.escapeIdentifier(channel)}`);
      await db.query(`INSERT INTO ${table.name} (id) VALUES (1)`);
      await until(() => heard > 0, 'the insert notified to another listener');
    } finally {
      await other.end();
    }
    assert.deepEqual(events, []);
    const listeners = await db.query(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pgrt-listen' AND query LIKE $1",
      [`%${channel}%`],
    );
    assert.equal(listeners.rowCount, 0);
    await assert.rejects(bus.start(), /closed/);
  });

  it('collects spilled payloads older than the retention, periodically', async () => {
    const marker = `gc_${process.pid}`;
    await db.query(
      `INSERT INTO pgrt.spill (payload, created_at) VALUES ($1, now() - interval '10 minutes'), ($1, now() - interval '1 minute')`,
      [marker],
    );
    await setUp({ spillGcIntervalMs: 20, spillRetentionMs: 5 * 60_000 });
    const count = () =>
      db.query('SELECT 1 FROM pgrt.spill WHERE payload = $1', [marker]).then((r) => r.rowCount);
    await waitUntil(async () => (await count()) === 1, {
      timeoutMs: 2000,
      what: () => 'the old spill row gone',
    });
    assert.equal(await bus.collectSpill(), 0);
  });
});
