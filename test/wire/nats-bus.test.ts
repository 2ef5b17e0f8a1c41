/**
 * The NATS JetStream change bus (core/bus/nats/) against the machine's nats-server and a real PostgreSQL:
 * - each process consumes only the subjects of the tables its live observers watch (plus its channel's control
 *   subject), adding and dropping them as observers come and go without losing or repeating a change, and a write
 *   fence waits for the changes of every table it consumes that were published before it;
 * - a subject's hole (a message the stream's retention deleted while the process was away: its successor names it as
 *   `q`) becomes a `resync` before the next change; duplicates are dropped, malformed messages skipped;
 * - the pump hands its steps' rows to the relay: nothing is NOTIFYed and the relay reads no outbox row of its own,
 *   in capture `outbox` and in capture `logical` (its appends);
 * - a change bigger than NATS's max_payload (a 2 MiB row) is delivered whole, in chunks, without a resync;
 * - bus `nats` with capture `notify` is refused at start with the fix.
 * The NATS restart and pump kill cases are in test/faults/nats-restart.test.ts and test/faults/pump-kill.test.ts.
 */
import assert from 'node:assert/strict';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { App } from '../../core/app.js';
import type { BusEvent } from '../../core/bus/change-bus.js';
import { NatsChangeBus } from '../../core/bus/nats/nats-change-bus.js';
import { NatsRelay } from '../../core/bus/nats/nats-relay.js';
import { controlSubject, tableSubject } from '../../core/bus/nats/nats-stream.js';
import { createServer } from '../../index.js';
import { deleteStream, testNatsUrl, testStreamName } from '../fixtures/nats.js';
import { PrivatePostgres } from '../fixtures/private-postgres.js';
import { waitUntil } from '../fixtures/wait.js';
import { startTestCore, type TestCore } from '../support/core.js';
import { testDatabaseUrl } from '../support/database.js';

describe('NATS bus: subjects per table, fences across tables', function () {
  this.timeout(30_000);
  const url = testNatsUrl();
  const stream = testStreamName();
  const channel = `pgrt_nats_${process.pid}`;
  const items = `nats_items_${process.pid}`;
  const notes = `nats_notes_${process.pid}`;
  let a: TestCore;
  let b: TestCore;
  const eventsA: BusEvent[] = [];
  const eventsB: BusEvent[] = [];

  before(async () => {
    const appA = new App()
      .collection('items', { table: items })
      .collection('notes', { table: notes })
      .publish('items', (ctx) => ctx.find('items'))
      .publish('notes', (ctx) => ctx.find('notes'))
      .method('both', async (ctx, n: unknown) => {
        await ctx.insert('items', { id: `i${String(n)}`, v: Number(n) });
        await ctx.insert('notes', { id: `n${String(n)}`, v: Number(n) });
      });
    const appB = new App()
      .collection('items', { table: items })
      .collection('notes', { table: notes })
      .publish('items', (ctx) => ctx.find('items'))
      .publish('notes', (ctx) => ctx.find('notes'));
    const setup = async (db: TestCore['db']): Promise<void> => {
      await db.query(`CREATE TABLE IF NOT EXISTS ${items} (id text PRIMARY KEY, v int NOT NULL, note text)`);
      await db.query(`CREATE TABLE IF NOT EXISTS ${notes} (id text PRIMARY KEY, v int NOT NULL)`);
    };
    const nats = { url, stream };
    a = await startTestCore(appA, setup, channel, { capture: 'outbox', nats });
    b = await startTestCore(appB, setup, channel, { capture: 'outbox', nats, outboxPump: false });
    a.core.bus.subscribe((event) => eventsA.push(event));
    b.core.bus.subscribe((event) => eventsB.push(event));
  });

  after(async () => {
    await b?.close();
    await a?.close();
    await deleteStream(url, stream);
  });

  it('consumes the control subject, and the subject of a table while an observer watches it', async () => {
    const busB = b.core.bus;
    assert.ok(busB instanceof NatsChangeBus);
    const control = controlSubject(stream, channel);
    const itemsSubject = tableSubject(stream, channel, `public.${items}`);
    assert.deepEqual(busB.subjects, [control], 'no observer yet: no table subject');
    const { session, out } = b.session();
    await session.subscribe('si', 'items', []);
    await out.waitFor((m) => m.msg === 'ready' && m.subs.includes('si'));
    assert.deepEqual(busB.subjects, [control, itemsSubject]);
    session.unsubscribe('si');
    await waitUntil(() => busB.subjects.length === 1, { what: () => busB.subjects.join(', ') });
    session.close();
  });

  it("delivers a table's changes only to the processes watching it; a fence follows every table's changes", async () => {
    const watcher = b.session();
    await watcher.session.subscribe('si', 'items', []);
    await watcher.out.waitFor((m) => m.msg === 'ready' && m.subs.includes('si'));
    const { session, out } = a.session();
    await session.subscribe('si', 'items', []);
    await session.subscribe('sn', 'notes', []);
    await out.waitFor((m) => m.msg === 'ready' && m.subs.includes('sn'));
    for (let n = 1; n <= 20; n++) await a.call(session, out, 'both', n);
    // `updated` came after both rows of each call: the session holds them all at once.
    assert.equal(Object.keys(out.collection('items')).length, 20);
    assert.equal(Object.keys(out.collection('notes')).length, 20);
    await b.db.query(`INSERT INTO ${notes} VALUES ('external', 0)`);
    await b.db.query(`INSERT INTO ${items} VALUES ('external', 0)`);
    const seen = (events: BusEvent[], table: string): number =>
      events.filter((e) => e.kind === 'change' && e.table === `public.${table}`).length;
    await waitUntil(() => seen(eventsB, items) === 21 && seen(eventsA, notes) === 21, {
      what: () => `B items ${seen(eventsB, items)}, A notes ${seen(eventsA, notes)}`,
    });
    assert.equal(seen(eventsB, notes), 0, 'B watches items only: no notes change reached it');
    assert.equal(eventsB.filter((e) => e.kind === 'fence').length, 20, "B receives the channel's fences");
    assert.equal([...eventsA, ...eventsB].filter((e) => e.kind === 'resync').length, 0);
    session.close();
    watcher.session.close();
  });

  it('adds and drops a table under writes without losing or repeating a change of another', async () => {
    const busB = b.core.bus as NatsChangeBus;
    const holder = b.session();
    await holder.session.subscribe('si', 'items', []);
    await holder.out.waitFor((m) => m.msg === 'ready' && m.subs.includes('si'));
    const from = eventsB.length;
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        written++;
        await a.db.query(`INSERT INTO ${items} VALUES ('s${written}', ${written})`);
        await a.db.query(`INSERT INTO ${notes} VALUES ('s${written}', ${written})`);
      }
    })();
    try {
      for (let round = 0; round < 5; round++) {
        const toggler = b.session();
        await toggler.session.subscribe(`sn${round}`, 'notes', []);
        await toggler.out.waitFor((m) => m.msg === 'ready' && m.subs.includes(`sn${round}`));
        assert.equal(busB.subjects.length, 3, 'notes consumed while watched');
        // A change committed after the new observer's snapshot reaches it.
        await b.db.query(`INSERT INTO ${notes} VALUES ('r${round}', ${round})`);
        await waitUntil(() => `r${round}` in toggler.out.collection('notes'), {
          what: () => `notes row r${round} in the new live query`,
        });
        toggler.session.close();
        await waitUntil(() => busB.subjects.length === 2, { what: () => busB.subjects.join(', ') });
      }
    } finally {
      writing = false;
      await writer;
    }
    const itemKeys = (): string[] =>
      eventsB
        .slice(from)
        .filter((e) => e.kind === 'change' && e.table === `public.${items}`)
        .map((e) => (e.kind === 'change' ? String(e.key) : ''));
    await waitUntil(() => itemKeys().length >= written, { what: () => `${itemKeys().length} of ${written}` });
    const keys = itemKeys();
    assert.equal(new Set(keys).size, keys.length, 'no items change delivered twice');
    assert.deepEqual(
      keys,
      Array.from({ length: written }, (_, i) => `s${i + 1}`),
      'every items change, in order',
    );
    assert.equal(eventsB.slice(from).filter((e) => e.kind === 'resync').length, 0, 'no resync');
    await waitUntil(() => Object.keys(holder.out.collection('items')).some((id) => id === `s${written}`), {
      what: () => 'the live query has the last row',
    });
    holder.session.close();
  });

  it("publishes the pump's steps to NATS only: no NOTIFY, no outbox read of the relay's own", async () => {
    const relay = a.core.outboxPump?.relay;
    assert.ok(relay instanceof NatsRelay);
    const watcher = b.session();
    await watcher.session.subscribe('si', 'items', []);
    await watcher.out.waitFor((m) => m.msg === 'ready' && m.subs.includes('si'));
    const listener = new pg.Client({ connectionString: testDatabaseUrl() });
    await listener.connect();
    let notified = 0;
    listener.on('notification', () => notified++);
    await listener.query(`LISTEN ${channel}`);
    try {
      const readsBefore = relay.reads;
      const seenBefore = eventsB.length;
      for (let n = 100; n < 150; n++) await b.db.query(`INSERT INTO ${items} VALUES ('x${n}', ${n})`);
      await waitUntil(() => eventsB.length - seenBefore >= 50, {
        what: () => `${eventsB.length - seenBefore}`,
      });
      // A notification sent before the last change's delivery would have reached the listener by now.
      await listener.query('SELECT 1');
      assert.equal(notified, 0, 'the pump sent no NOTIFY');
      assert.equal(relay.reads, readsBefore, 'the relay published the rows its pump passed it');
    } finally {
      await listener.end();
      watcher.session.close();
    }
  });

  it('delivers a 2 MiB row whole (in chunks), without a resync', async () => {
    const relay = a.core.outboxPump?.relay;
    assert.ok(relay instanceof NatsRelay);
    const watcher = b.session();
    await watcher.session.subscribe('si', 'items', []);
    await watcher.out.waitFor((m) => m.msg === 'ready' && m.subs.includes('si'));
    const note = 'é"\\x\n'.repeat(400_000); // 2.4 MiB as JSON, with escapes and multibyte characters
    const seenBefore = eventsB.length;
    await a.db.query(`INSERT INTO ${items} VALUES ('big', 1, $1)`, [note]);
    await b.db.query(`INSERT INTO ${items} VALUES ('after big', 2)`);
    const big = (): BusEvent | undefined =>
      eventsB.slice(seenBefore).find((e) => e.kind === 'change' && e.key === 'big');
    await waitUntil(
      () => eventsB.slice(seenBefore).some((e) => e.kind === 'change' && e.key === 'after big'),
      {
        timeoutMs: 20_000, // 2.4 MiB through JSON, NATS chunks and a reassembly: past 10 s at load 20
        what: () => JSON.stringify(eventsB.slice(seenBefore).map((e) => e.kind)),
      },
    );
    const event = big();
    assert.ok(event?.kind === 'change', 'the big row was delivered');
    assert.equal(event.row?.note, note);
    assert.ok(relay.chunked >= 1, 'it went in chunks');
    assert.equal([...eventsA, ...eventsB].filter((e) => e.kind === 'resync').length, 0, 'no resync');
    const changes = eventsB.slice(seenBefore).filter((e) => e.kind === 'change');
    assert.deepEqual(
      changes.map((e) => (e.kind === 'change' ? e.key : '')),
      ['big', 'after big'],
    );
    watcher.session.close();
  });
});

describe("NATS bus, capture 'logical': the pump's appends go to the relay", function () {
  this.timeout(60_000);
  const url = testNatsUrl();
  const stream = testStreamName();
  const channel = `pgrt_nats_logical_${process.pid}`;
  const items = `nats_logical_items_${process.pid}`;
  let logical: PrivatePostgres;
  let t: TestCore;
  const events: BusEvent[] = [];

  before(async () => {
    logical = await PrivatePostgres.create('logical');
    const app = new App().collection('items', { table: items }).publish('items', (ctx) => ctx.find('items'));
    t = await startTestCore(
      app,
      async (db) => {
        await db.query(`CREATE TABLE ${items} (id text PRIMARY KEY, v int NOT NULL)`);
      },
      channel,
      { capture: 'logical', url: logical.url, nats: { url, stream } },
    );
    t.core.bus.subscribe((event) => events.push(event));
  });

  after(async () => {
    await t?.close();
    await logical?.destroy();
    await deleteStream(url, stream);
  });

  it("publishes the appended rows to NATS only: no NOTIFY, no outbox read of the relay's own", async () => {
    const relay = t.core.outboxPump?.relay;
    assert.ok(relay instanceof NatsRelay);
    const watcher = t.session();
    await watcher.session.subscribe('si', 'items', []);
    await watcher.out.waitFor((m) => m.msg === 'ready' && m.subs.includes('si'));
    const listener = new pg.Client({ connectionString: logical.url });
    await listener.connect();
    let notified = 0;
    listener.on('notification', () => notified++);
    await listener.query(`LISTEN ${channel}`);
    try {
      // The leading pump's relay reads the outbox once, to catch up: a first row is delivered after that read.
      await t.db.query(`INSERT INTO ${items} VALUES ('first', 0)`);
      await waitUntil(() => Object.keys(watcher.out.collection('items')).length === 1, {
        what: () => 'the first row delivered',
      });
      const readsBefore = relay.reads;
      const seenBefore = events.length;
      for (let n = 1; n <= 50; n++) await t.db.query(`INSERT INTO ${items} VALUES ('x${n}', ${n})`);
      await waitUntil(() => Object.keys(watcher.out.collection('items')).length === 51, {
        what: () => `${Object.keys(watcher.out.collection('items')).length} rows delivered`,
      });
      assert.ok(events.length - seenBefore >= 50, `${events.length - seenBefore} bus events`);
      // A notification sent before the last change's delivery would have reached the listener by now.
      await listener.query('SELECT 1');
      assert.equal(notified, 0, 'the pump sent no NOTIFY');
      assert.equal(relay.reads, readsBefore, 'the relay published the rows its pump appended');
    } finally {
      await listener.end();
      watcher.session.close();
    }
  });
});

describe('NATS bus: holes, duplicates and malformed messages on a subject', function () {
  this.timeout(20_000);
  const url = testNatsUrl();
  const stream = testStreamName();
  const channel = 'pgrt_holes';
  const table = 'public.holes';
  let bus: NatsChangeBus;
  let nc: NatsConnection;
  const events: BusEvent[] = [];

  before(async () => {
    bus = new NatsChangeBus({ url, stream, channel });
    bus.watch([table]);
    bus.subscribe((event) => events.push(event));
    await bus.start();
    nc = await connect({ servers: url });
  });

  after(async () => {
    await bus?.close();
    await nc?.close();
    await deleteStream(url, stream);
  });

  it('drops duplicates, skips malformed messages, resyncs before a change whose predecessor is missing', async () => {
    const js = jetstream(nc);
    const subject = tableSubject(stream, channel, table);
    const change = (p: number, q?: number) =>
      JSON.stringify({ p, ...(q === undefined ? {} : { q }), t: table, o: 'i', k: p, r: { id: p }, x: '7' });
    await js.publish(subject, change(1));
    await js.publish(subject, change(2, 1));
    await js.publish(subject, change(2, 1)); // a relay's retry
    await js.publish(subject, 'not json');
    await js.publish(subject, change(5, 4)); // 3 and 4 were deleted by the stream's retention
    await js.publish(subject, change(6, 5));
    await waitUntil(() => events.length >= 5, { what: () => JSON.stringify(events) });
    assert.deepEqual(
      events.map((e) => (e.kind === 'change' ? `change ${String(e.key)}` : e.kind)),
      ['change 1', 'change 2', 'resync', 'change 5', 'change 6'],
    );
    assert.deepEqual(
      events.map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
  });

  it('holds a fence until the changes it names of the tables it consumes arrived', async () => {
    const js = jetstream(nc);
    const control = controlSubject(stream, channel);
    const subject = tableSubject(stream, channel, table);
    events.length = 0;
    // The fence (published first, on its own subject) names change 9 of this table and one of an unwatched table.
    await js.publish(control, JSON.stringify({ p: 10, f: 'F1', w: { [table]: 9, 'public.other': 8 } }));
    await js.publish(control, JSON.stringify({ p: 11, q: 10, f: 'F2', w: { [table]: 9 } }));
    await js.publish(subject, JSON.stringify({ p: 9, t: table, o: 'u', k: 1, r: { id: 1 }, x: '8' }));
    await waitUntil(() => events.length >= 3, { what: () => JSON.stringify(events) });
    assert.deepEqual(
      events.map((e) => (e.kind === 'fence' ? `fence ${e.id}` : e.kind)),
      ['change', 'fence F1', 'fence F2'],
    );
  });
});

describe("NATS bus: bus 'nats' needs a capture mode with an outbox", () => {
  it("refuses capture 'notify' at start, naming the fix", async () => {
    await assert.rejects(
      createServer({
        app: new App(),
        port: 0,
        host: '127.0.0.1',
        databaseUrl: testDatabaseUrl(),
        bus: 'nats',
        natsUrl: testNatsUrl(),
      }),
      /bus 'nats' needs capture 'outbox' or 'logical'/,
    );
  });
});
