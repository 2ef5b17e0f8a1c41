/**
 * The outbox capture mode against a real PostgreSQL: triggers append instead of notifying, the pump notifies in id
 * order with positions, never skips a transaction that holds a low id and commits late, sends nothing for rolled-back
 * ones, hands oversized payloads over through the outbox row, fails over to another pump, and a listener that lost
 * its connection replays the gap from the outbox (resyncing only when retention deleted it).
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import type { BusEvent } from '../bus/change-bus.js';
import { PgNotificationBus, type PgNotificationBusOptions } from '../bus/pg-notification-bus.js';
import { PgDatabase } from '../database/database.js';
import { introspectTable } from '../database/introspect.js';
import { ensureSchema, installCapture } from '../database/schema.js';
import type { TableInfo } from '../database/table-info.js';
import { OutboxPump, type OutboxPumpOptions } from './outbox-pump.js';
import { WAKE_CHANNEL, WAKE_LOCK_KEY } from './outbox-source.js';

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  await waitUntil(condition, { timeoutMs, what: () => what });
}

let counter = 0;

describe('outbox capture mode', function () {
  this.timeout(20_000);
  let db: PgDatabase;
  let table: TableInfo;
  let channel: string;
  let bus: PgNotificationBus;
  let events: BusEvent[];
  const pumps: OutboxPump[] = [];
  const clients: pg.Client[] = [];

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 6 });
    await ensureSchema(db);
  });
  after(async () => {
    await db.close();
  });

  async function setUp(busOptions: PgNotificationBusOptions = {}): Promise<void> {
    const name = `outbox_${process.pid}_${++counter}`;
    channel = `${name}_ch`;
    await db.query(`CREATE TABLE ${name} (id int8 PRIMARY KEY, v int, body text)`);
    table = await introspectTable(db, name);
    await installCapture(db, table, { channel, mode: 'outbox' });
    events = [];
    bus = new PgNotificationBus(db, { channel, outbox: true, ...busOptions });
    bus.subscribe((event) => events.push(event));
    await bus.start();
  }

  function pump(options: OutboxPumpOptions = {}): OutboxPump {
    const p = new OutboxPump(db, {
      electionIntervalMs: 100,
      busyPollMs: 2,
      idlePollMs: 10,
      ...options,
    });
    pumps.push(p);
    p.start();
    return p;
  }

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client(testDatabaseUrl());
    await client.connect();
    clients.push(client);
    return client;
  }

  afterEach(async () => {
    await Promise.all(pumps.splice(0).map((p) => p.close()));
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
    await bus?.close();
  });

  const changes = () => events.filter((e) => e.kind === 'change');
  const keys = () => changes().map((e) => (e.kind === 'change' ? `${e.op}:${String(e.key)}` : ''));
  const resyncs = () => events.filter((e) => e.kind === 'resync').length;

  /**
   * Rows 1..written were each delivered once, in order: a marker row written after them arrives after any repeat or
   * stray change (one pump delivers in id order).
   */
  async function expectAllOnce(written: number): Promise<void> {
    const marker = written + 1;
    await db.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'marker')`, [marker]);
    await until(
      () => changes().some((e) => e.kind === 'change' && e.key === String(marker)),
      'the marker row',
    );
    assert.deepEqual(
      keys(),
      Array.from({ length: marker }, (_, i) => `insert:${i + 1}`),
    );
  }

  it('appends without notifying; the pump notifies in id order with increasing positions, several per notification', async () => {
    await setUp();
    const raw = await connect();
    const heard: string[] = [];
    raw.on('notification', (m) => heard.push(m.payload ?? ''));
    await raw.query(`LISTEN ${raw.escapeIdentifier(channel)}`);
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'a')`);
    await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table.name} VALUES (2, 2, 'b')`);
      await tx.query(`UPDATE ${table.name} SET v = 20 WHERE id = 2`);
      await tx.query(`DELETE FROM ${table.name} WHERE id = 1`);
    });
    await db.query(`TRUNCATE ${table.name}`);
    // PostgreSQL delivers in commit order: what the writers notified would arrive before this marker.
    await db.query('SELECT pg_notify($1, $2)', [channel, 'marker']);
    await until(() => heard.includes('marker'), 'the marker');
    assert.deepEqual(heard, ['marker'], 'nothing is notified by the writers themselves');
    heard.length = 0;
    const stored = await db.query<{ n: string }>('SELECT count(*) AS n FROM pgrt.outbox WHERE channel = $1', [
      channel,
    ]);
    assert.equal(stored.rows[0]?.n, '5');

    const p = pump();
    await until(() => events.length === 5, '5 events');
    assert.equal(p.leading, true);
    assert.deepEqual(keys(), ['insert:1', 'insert:2', 'update:2', 'delete:1']);
    assert.equal(events[4]?.kind, 'truncate');
    const update = events[2];
    assert.ok(update?.kind === 'change');
    assert.deepEqual(update.row, { id: '2', v: 20, body: 'b' });
    assert.equal(events[1]?.kind === 'change' && events[1].txid, update.txid, 'one transaction, one txid');
    // One notification carries consecutive rows of a channel: a JSON array of the per-row payloads.
    const notes = () =>
      heard.flatMap((text) => {
        const value = JSON.parse(text) as { p: number } | Array<{ p: number }>;
        return Array.isArray(value) ? value : [value];
      });
    await until(() => notes().length === 5, 'the raw listener to hear 5 changes');
    assert.equal(heard.length, 1, 'the five rows in one notification');
    const positions = notes().map((note) => note.p);
    for (let i = 1; i < positions.length; i++)
      assert.ok(positions[i]! > positions[i - 1]!, 'positions increase');
    assert.equal(bus.lastPosition, positions[4]);
    const state = await db.query<{ pumped: string }>(
      'SELECT pumped_through AS pumped FROM pgrt.outbox_state',
    );
    assert.ok(Number(state.rows[0]?.pumped) >= positions[4]!);
  });

  /** Whether `p`'s connection holds the wake lock, i.e. the pump sleeps (0008_pump_wake.sql). */
  async function asleep(p: OutboxPump): Promise<boolean> {
    const key = BigInt(WAKE_LOCK_KEY);
    const held = await db.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND granted AND pid = $1
          AND classid = $2::int8::oid AND objid = $3::int8::oid AND objsubid = 1`,
      [p.backendPid ?? 0, String(key >> 32n), String(key & 0xffffffffn)],
    );
    return held.rowCount === 1;
  }

  it('sleeps while nothing happens and is woken by the next change; writers notify only a sleeping pump', async () => {
    await setUp();
    const raw = await connect();
    const wakes: string[] = [];
    raw.on('notification', (m) => wakes.push(m.payload ?? ''));
    await raw.query(`LISTEN ${WAKE_CHANNEL}`);
    // No pump sleeps: the writer takes no notify lock.
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'a')`);
    await db.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, 'marker']);
    await until(() => wakes.includes('marker'), 'the marker');
    assert.deepEqual(wakes, ['marker'], 'no wake-up without a sleeping pump');
    wakes.length = 0;
    // Polling and the sleeping pump's own steps an hour apart: only a writer's wake-up can deliver what follows.
    const p = pump({ idlePollMs: 3_600_000, asleepCheckMs: 3_600_000 });
    await until(() => changes().length === 1, 'the first change');
    for (const id of [2, 3]) {
      await until(() => asleep(p), 'the pump asleep');
      await db.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'b')`, [id]);
      await until(() => changes().length === id, `change ${id}`);
    }
    assert.deepEqual(keys(), ['insert:1', 'insert:2', 'insert:3']);
    await until(() => wakes.length === 2, 'the wake-ups');
    await db.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, 'marker']);
    await until(() => wakes.includes('marker'), 'the marker');
    assert.deepEqual(wakes, ['', '', 'marker'], 'one wake-up per change that found the pump asleep');
  });

  it("stays asleep while changes come slowly: each is pumped on its writer's wake-up, not at a poll", async () => {
    await setUp();
    // No poll or check comes within the test: only the writers' wake-ups can deliver.
    const p = pump({ busyPollMs: 3_600_000 });
    await until(() => asleep(p), 'the pump asleep');
    for (const id of [1, 2, 3]) {
      await db.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'x')`, [id]);
      await until(() => changes().length === id, `change ${id}`);
    }
    assert.deepEqual(keys(), ['insert:1', 'insert:2', 'insert:3']);
    assert.ok(await asleep(p), 'still asleep: the writers keep waking it');
  });

  it('wakes up when writers crowd in, however few changes it has delivered: writers stop notifying', async () => {
    await setUp();
    const p = pump();
    await until(() => asleep(p), 'the pump asleep');
    // Hold the pump's first step at its position update, so the next commits' wake-ups queue up behind it (as many
    // writers' commits do when the notify lock serialises them and the delivered rate stays low).
    const hold = await connect();
    await hold.query('BEGIN');
    await hold.query('SELECT * FROM pgrt.outbox_state FOR UPDATE');
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'x')`);
    await until(async () => {
      const r = await db.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [
        p.backendPid ?? 0,
      ]);
      return r.rowCount === 1;
    }, 'the pump step waiting for the held position');
    for (const id of [2, 3, 4, 5])
      await db.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'x')`, [id]);
    await hold.query('COMMIT');
    await until(() => changes().length === 5, 'the five changes');
    // Awake now: the next commits wake nothing (by the rate alone, ~5 changes in its window, it would stay asleep).
    const raw = await connect();
    const heard: string[] = [];
    raw.on('notification', (m) => heard.push(m.payload ?? ''));
    await raw.query(`LISTEN ${WAKE_CHANNEL}`);
    for (const id of [6, 7, 8]) {
      await db.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'x')`, [id]);
      await until(() => changes().length === id, `change ${id}`);
    }
    await db.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, 'marker']);
    await until(() => heard.includes('marker'), 'the marker');
    const wakeUps = heard.length - 1;
    assert.ok(wakeUps < 3, `writers stopped waking the pump (heard ${wakeUps} wake-ups for 3 commits)`);
    await expectAllOnce(8);
  });

  it('never skips a transaction that holds a low id and commits late (delivered in id order)', async () => {
    await setUp();
    const p = pump();
    const late = await connect();
    await late.query('BEGIN');
    await late.query(`INSERT INTO ${table.name} VALUES (1, 1, 'late')`); // draws the lower id
    await db.query(`INSERT INTO ${table.name} VALUES (2, 2, 'early')`); // higher id, commits first
    await db.query(`INSERT INTO ${table.name} VALUES (3, 3, 'early')`);
    // Steps begun after the early rows committed: the missing lower id stops the committed ones; the first step takes
    // a barrier over them (and would send them were the late transaction not running), the next checks it.
    const from = p.steps;
    await until(() => p.steps >= from + 2, 'two steps past the early rows');
    assert.equal(p.sent, 0, 'rows behind a running transaction wait for it');
    await late.query('COMMIT');
    await until(() => changes().length === 3, '3 changes');
    assert.deepEqual(keys(), ['insert:1', 'insert:2', 'insert:3']);

    // The same with the late transaction updating a row that an early one updates afterwards: the row lock orders
    // them, and the last change delivered is the committed one.
    await late.query('BEGIN');
    await late.query(`UPDATE ${table.name} SET v = 10 WHERE id = 1`);
    const blocked = db.query(`UPDATE ${table.name} SET v = 11 WHERE id = 1`);
    // Not through `late`: a transaction keeps its first view of pg_stat_activity.
    await until(async () => {
      const waiting = await db.query(
        "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE ' || $1 || ' %'",
        [table.name],
      );
      return waiting.rowCount === 1;
    }, 'the second UPDATE to wait for the row lock');
    await late.query('COMMIT');
    await blocked;
    await until(() => changes().length === 5, '5 changes');
    const last = changes().at(-1);
    assert.ok(last?.kind === 'change');
    assert.equal(last.row?.v, 11);
  });

  it('does not wait for a running transaction that drew no id after the position', async () => {
    await setUp();
    const p = pump();
    // A transaction with an xid of its own that appends nothing: it holds pg_snapshot_xmin back while it runs.
    const other = await connect();
    await other.query('BEGIN');
    await other.query('SELECT pg_current_xact_id()');
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'a')`);
    await db.query(`INSERT INTO ${table.name} VALUES (2, 2, 'b')`);
    // Rows with consecutive ids, all committed: none can ever be preceded by another, so they leave at once.
    await until(() => changes().length === 2, '2 changes while the other transaction runs');
    assert.deepEqual(keys(), ['insert:1', 'insert:2']);
    await until(() => p.sent === 2, 'the pump to count them'); // its step returns after its notifications arrive
    await other.query('COMMIT');
  });

  it('delivers nothing for a rolled-back transaction and moves past its ids', async () => {
    await setUp();
    pump();
    await db
      .transaction(async (tx) => tx.query(`INSERT INTO ${table.name} VALUES (1, 1, 'x')`))
      .catch(() => {});
    const tx = await db.begin();
    await tx.query(`INSERT INTO ${table.name} VALUES (2, 2, 'rolled back')`);
    await tx.query(`INSERT INTO ${table.name} VALUES (3, 3, 'rolled back')`);
    await tx.rollback();
    await db.query(`INSERT INTO ${table.name} VALUES (4, 4, 'y')`);
    await db.query(`INSERT INTO ${table.name} VALUES (5, 5, 'marker')`);
    // Delivered in id order: a rolled-back row would come before the marker's.
    await until(() => changes().length === 3, '3 changes');
    assert.deepEqual(keys(), ['insert:1', 'insert:4', 'insert:5']);
    const last = await db.query<{ id: string }>('SELECT max(id) AS id FROM pgrt.outbox WHERE channel = $1', [
      channel,
    ]);
    const state = await db.query<{ pumped: string }>(
      'SELECT pumped_through AS pumped FROM pgrt.outbox_state',
    );
    assert.ok(Number(state.rows[0]?.pumped) >= Number(last.rows[0]?.id), 'the pump past the last row');
  });

  it('hands oversized payloads over through the outbox row; fences follow their transaction', async () => {
    await setUp();
    pump({ spillThresholdBytes: 200 });
    const big = 'x'.repeat(5000);
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, $1)`, [big]);
    const fenced = await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table.name} VALUES (2, 2, 'small')`);
      return (await tx.query<{ f: boolean }>('SELECT pgrt.fence_outbox($1, $2) AS f', [channel, 'fence-1']))
        .rows[0]?.f;
    });
    assert.equal(fenced, true);
    const readOnly = await db.transaction(
      async (tx) =>
        (await tx.query<{ f: boolean }>('SELECT pgrt.fence_outbox($1, $2) AS f', [channel, 'fence-2']))
          .rows[0]?.f,
    );
    assert.equal(readOnly, false, 'a transaction that wrote nothing has no fence');
    await until(() => events.length === 3, '3 events');
    const [first, second, fence] = events;
    assert.ok(first?.kind === 'change');
    assert.equal(first.row?.body, big);
    assert.ok(second?.kind === 'change' && second.key === '2');
    assert.deepEqual(fence, { kind: 'fence', seq: 3, id: 'fence-1' });
  });

  it('fails over: another pump takes over within seconds and nothing is lost or repeated', async () => {
    await setUp();
    const a = pump();
    const b = pump();
    await until(() => a.leading || b.leading, 'a leader');
    assert.ok(!(a.leading && b.leading), 'one leader');
    let stop = false;
    let written = 0;
    const writer = await connect();
    const writing = (async () => {
      while (!stop) {
        written++;
        await writer.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'w')`, [written]);
      }
    })();
    try {
      await until(() => changes().length >= 10, 'changes delivered by the first leader');
      const leader = a.leading ? a : b;
      const follower = leader === a ? b : a;
      const killer = await connect();
      await killer.query('SELECT pg_terminate_backend($1)', [leader.backendPid]);
      const killedAt = Date.now();
      await until(() => follower.leading || leader.leading, 'a new leader', 5000);
      assert.ok(Date.now() - killedAt < 3000, 'taken over within seconds');
      const atTakeover = changes().length;
      await until(() => changes().length >= atTakeover + 10, 'changes delivered by the new leader');
    } finally {
      stop = true;
      await writing;
    }
    await expectAllOnce(written);
  });

  it('replays a LISTEN gap from the outbox instead of resyncing', async () => {
    await setUp({ backoff: { initialMs: 50, maxMs: 100 } });
    pump();
    let stop = false;
    let written = 0;
    const writer = await connect();
    const writing = (async () => {
      while (!stop) {
        written++;
        await writer.query(`INSERT INTO ${table.name} VALUES ($1::int8, $1::int4, 'w')`, [written]);
      }
    })();
    try {
      for (let kill = 0; kill < 2; kill++) {
        const before = written;
        await until(() => written >= before + 10, 'writes before the kill');
        const pid = bus.listenerPid;
        assert.ok(pid);
        const killer = await connect();
        await killer.query('SELECT pg_terminate_backend($1)', [pid]);
        await until(
          () => bus.listenerPid !== undefined && bus.listenerPid !== pid,
          'a new LISTEN connection',
        );
      }
      const after = written;
      await until(() => written >= after + 10, 'writes after the last kill');
    } finally {
      stop = true;
      await writing;
    }
    await expectAllOnce(written);
    assert.equal(resyncs(), 0, 'no resync');
    assert.equal(bus.replays, 2);
  });

  it('deletes rows after the retention; a gap whose rows are gone falls back to resync', async () => {
    // The listener comes back only after retention deleted the missed row (2 s: ample even on a loaded machine).
    await setUp({ backoff: { initialMs: 2000, maxMs: 2000 } });
    const p = pump({ retentionMs: 0, gcIntervalMs: 0 });
    await db.query(`INSERT INTO ${table.name} VALUES (1, 1, 'a')`);
    await until(() => changes().length === 1, 'the first change');
    const pid = bus.listenerPid;
    const killer = await connect();
    await killer.query('SELECT pg_terminate_backend($1)', [pid]);
    await db.query(`INSERT INTO ${table.name} VALUES (2, 2, 'missed')`);
    const last = await db.query<{ id: string }>('SELECT max(id) AS id FROM pgrt.outbox WHERE channel = $1', [
      channel,
    ]);
    const id = Number(last.rows[0]?.id);
    await until(async () => {
      const state = await db.query<{ deleted: string }>(
        'SELECT deleted_through AS deleted FROM pgrt.outbox_state',
      );
      return Number(state.rows[0]?.deleted) >= id;
    }, 'retention to delete the missed row');
    const gone = await db.query('SELECT 1 FROM pgrt.outbox WHERE id <= $1', [id]);
    assert.equal(gone.rowCount, 0, 'rows up to the position deleted');
    await until(() => resyncs() === 1, 'a resync');
    await db.query(`INSERT INTO ${table.name} VALUES (3, 3, 'after')`);
    await until(() => changes().length === 2, 'the change after the resync');
    assert.deepEqual(keys(), ['insert:1', 'insert:3']);
    assert.ok(p.leading);
  });
});
