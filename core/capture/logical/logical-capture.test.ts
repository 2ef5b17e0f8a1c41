/**
 * The logical capture mode against a real PostgreSQL with wal_level=logical (a private embedded server): the pump
 * decodes the WAL and produces exactly the payloads the triggers produce, for every column kind; fences follow
 * their transaction; a pump that stops and a new one that takes over lose and repeat nothing; a lost slot makes
 * listeners resync. Plus the pgoutput decoder on hand-made messages.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { PrivatePostgres } from '../../../test/fixtures/private-postgres.js';
import { waitUntil } from '../../../test/fixtures/wait.js';
import type { BusEvent } from '../../bus/change-bus.js';
import { PgNotificationBus, type PgNotificationBusOptions } from '../../bus/pg-notification-bus.js';
import { PgDatabase } from '../../database/database.js';
import { introspectTable } from '../../database/introspect.js';
import { ensureSchema, installCapture } from '../../database/schema.js';
import { logicalCapture } from '../logical-capture.js';
import { OutboxPump, type OutboxPumpOptions } from '../outbox-pump.js';
import { type CapturedTable, logicalAppendQuery } from './append-query.js';
import type { DecodedChange, StreamRelation } from './decoder.js';
import { decodePgoutput, formatLsn, parseLsn } from './pgoutput.js';
import { ensureLogicalSlot, logicalSlotName } from './slot.js';

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  await waitUntil(condition, { timeoutMs, what: () => what });
}

/** The top-level objects of a JSON array's text, as written (strings respected). */
function elements(text: string): string[] {
  const found: string[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 1) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 1) found.push(text.slice(start, i + 1));
    } else if (c === '[') depth++;
    else if (c === ']') depth--;
  }
  return found;
}

/** `k` and `r` of a change payload as written: `"k":…` from the key on (r is the last field), minus `x`, `c`, `n`. */
function keyAndRow(payload: string): string {
  return payload.slice(payload.indexOf(',"k":')).replace(/,"x":"\d+","c":\d+(,"n":\d+)?/, '');
}

/** The positions of raw pump notifications, in order. */
function positions(texts: readonly string[]): number[] {
  return texts.flatMap((text) => {
    const value = JSON.parse(text) as { p: number } | Array<{ p: number }>;
    return (Array.isArray(value) ? value : [value]).map((note) => note.p);
  });
}

describe('pgoutput decoder', () => {
  it('reads and writes LSNs', () => {
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) | 0xb374d848n);
    assert.equal(formatLsn(parseLsn('0/16B3748')), '0/16B3748');
    assert.throws(() => parseLsn('nope'), /not an LSN/);
  });

  it('decodes relation, insert (null, unchanged TOAST, text), update with old key, delete, truncate, message', () => {
    const cstring = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
    const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const text = (s: string) => Buffer.concat([Buffer.from('t'), u32(Buffer.byteLength(s)), Buffer.from(s)]);
    const relation = decodePgoutput(
      Buffer.concat([
        Buffer.from('R'),
        u32(42),
        cstring('public'),
        cstring('t'),
        Buffer.from('d'),
        u16(2),
        Buffer.from([1]),
        cstring('id'),
        u32(20),
        u32(0xffffffff),
        Buffer.from([0]),
        cstring('body'),
        u32(25),
        u32(0xffffffff),
      ]),
    );
    assert.deepEqual(relation, {
      tag: 'relation',
      oid: 42,
      schema: 'public',
      name: 't',
      replicaIdentity: 'd',
      columns: [
        { name: 'id', key: true, typeOid: 20 },
        { name: 'body', key: false, typeOid: 25 },
      ],
    });
    const tuple = Buffer.concat([u16(2), text('7'), Buffer.from('u')]);
    assert.deepEqual(decodePgoutput(Buffer.concat([Buffer.from('I'), u32(42), Buffer.from('N'), tuple])), {
      tag: 'insert',
      relation: 42,
      values: ['7', undefined],
    });
    const oldKey = Buffer.concat([u16(2), text('6'), Buffer.from('n')]);
    assert.deepEqual(
      decodePgoutput(
        Buffer.concat([Buffer.from('U'), u32(42), Buffer.from('K'), oldKey, Buffer.from('N'), tuple]),
      ),
      { tag: 'update', relation: 42, old: ['6', null], values: ['7', undefined] },
    );
    assert.deepEqual(decodePgoutput(Buffer.concat([Buffer.from('D'), u32(42), Buffer.from('K'), oldKey])), {
      tag: 'delete',
      relation: 42,
      old: ['6', null],
    });
    assert.deepEqual(
      decodePgoutput(Buffer.concat([Buffer.from('T'), u32(2), Buffer.from([0]), u32(42), u32(43)])),
      {
        tag: 'truncate',
        relations: [42, 43],
      },
    );
    const lsn = Buffer.alloc(8);
    assert.deepEqual(
      decodePgoutput(
        Buffer.concat([
          Buffer.from('M'),
          Buffer.from([1]),
          lsn,
          cstring('pgrt'),
          u32(3),
          Buffer.from('a\nb'),
        ]),
      ),
      { tag: 'message', transactional: true, prefix: 'pgrt', content: Buffer.from('a\nb') },
    );
    const commit = Buffer.alloc(26);
    commit.write('C');
    commit.writeBigUInt64BE(5n, 2);
    commit.writeBigUInt64BE(6n, 10);
    commit.writeBigInt64BE(786_326_400_123_456n, 18); // µs since 2000-01-01
    assert.deepEqual(decodePgoutput(commit), {
      tag: 'commit',
      commitLsn: 5n,
      endLsn: 6n,
      commitTime: Date.parse('2024-12-01T00:00:00.123Z'),
    });
    assert.throws(() => decodePgoutput(Buffer.concat([Buffer.from('I'), u32(42)])), /truncated/);
    assert.throws(
      () =>
        decodePgoutput(
          Buffer.concat([Buffer.from('I'), u32(42), Buffer.from('N'), u16(1), Buffer.from('b')]),
        ),
      /unsupported column kind/,
    );
  });
});

describe('logicalAppendQuery', () => {
  const relation: StreamRelation = {
    oid: 1,
    table: 'public.t',
    schema: 'public',
    name: 't',
    full: false,
    columns: [
      { name: 'id', key: true, typeOid: 20 },
      { name: 'body', key: false, typeOid: 25 },
    ],
  };
  const tables = new Map<string, CapturedTable>([['public.t', { channel: 'a', key: 'id', exact: ['id'] }]]);

  it('gathers payloads of a channel into notifications that fit even with 19-digit positions', () => {
    const threshold = 600;
    const changes: DecodedChange[] = [];
    for (let i = 1; i <= 200; i++) {
      const body = 'é'.repeat(i % 7 === 0 ? 400 : i % 13); // multibyte: bytes, not characters, count
      changes.push({ kind: 'row', op: 'i', relation, values: [String(i), body], old: undefined });
      if (i % 50 === 0) changes.push({ kind: 'message', channel: 'b', payload: `{"f":"F${i}"}` });
    }
    const query = logicalAppendQuery([{ xid: 7, endLsn: 1n, commitTime: 0, changes }], tables, threshold)!;
    const channels = query.values[2] as string[];
    const chunks = (query.values[3] as string).slice(1, -1).split(',').map(Number);
    const bodies = (query.values[4] as string).split('\u001e').slice(1);
    assert.equal(query.count, 204);
    assert.equal(bodies.length, 204);
    assert.equal(query.name, 'pgrt_logical_append', 'every payload built in Node: the prepared statement');
    assert.ok(query.notifications < 100, `${query.notifications} notifications`);
    let seen = 0;
    for (let chunk = 1; chunk <= channels.length; chunk++) {
      const members = bodies.filter((_, i) => chunks[i] === chunk);
      assert.ok(members.length > 0);
      assert.ok(chunks.indexOf(chunk) === seen, 'consecutive payloads');
      seen += members.length;
      if (members.length > 1) {
        const worst = `[${members.map((body) => `{"p":${'9'.repeat(19)},${body}`).join(',')}]`;
        assert.ok(
          Buffer.byteLength(worst) <= threshold,
          `notification ${chunk}: ${Buffer.byteLength(worst)} bytes`,
        );
      }
    }
    assert.deepEqual(
      channels.filter((channel) => channel === 'b').length,
      4,
      'the messages of channel b never share a notification of channel a',
    );
  });
});

describe('logical capture mode', function () {
  this.timeout(60_000);
  let server: PrivatePostgres;
  let db: PgDatabase;
  const buses: PgNotificationBus[] = [];
  const pumps: OutboxPump[] = [];
  const raws: pg.Client[] = [];

  before(async () => {
    server = await PrivatePostgres.create('logical');
    db = new PgDatabase(server.url, { poolSize: 6 });
    await ensureSchema(db);
  });
  after(async () => {
    await Promise.all(raws.map((c) => c.end().catch(() => {})));
    await Promise.all(pumps.map((p) => p.close()));
    await Promise.all(buses.map((b) => b.close()));
    await db?.close();
    await server?.destroy();
  });

  async function listen(
    channel: string,
    outbox: boolean,
    options: PgNotificationBusOptions = {},
  ): Promise<BusEvent[]> {
    const events: BusEvent[] = [];
    const bus = new PgNotificationBus(db, { channel, outbox, ...options });
    bus.subscribe((event) => events.push(event));
    await bus.start();
    buses.push(bus);
    return events;
  }

  /** A plain LISTEN connection recording the raw payloads of `channel`. */
  async function rawListen(channel: string): Promise<string[]> {
    const heard: string[] = [];
    const client = await db.connectDedicated();
    client.on('notification', (message) => heard.push(message.payload ?? ''));
    await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    raws.push(client);
    return heard;
  }

  function pump(options: OutboxPumpOptions = {}): OutboxPump {
    const p = new OutboxPump(db, {
      capture: logicalCapture,
      electionIntervalMs: 100,
      idlePollMs: 10,
      ...options,
    });
    pumps.push(p);
    p.start();
    return p;
  }

  const COLUMNS = `id int8 PRIMARY KEY, i int, n numeric, f float8, b bool, s text, j jsonb, js json, d date,
    ts timestamptz, tsn timestamp, u uuid, by bytea, ai int[], at text[], iv interval, big text, cur text`;

  it('delivers the same events as the notify triggers, for every column kind and operation', async () => {
    await db.query(`CREATE TABLE same_t (${COLUMNS})`);
    await db.query(`CREATE TABLE same_l (${COLUMNS})`);
    await installCapture(db, await introspectTable(db, 'same_t'), { channel: 'same_t', mode: 'notify' });
    await installCapture(db, await introspectTable(db, 'same_l'), { channel: 'same_l', mode: 'logical' });
    await ensureLogicalSlot(db);
    const viaTriggers = await listen('same_t', false);
    const viaLogical = await listen('same_l', true);
    pump();
    const script = (t: string) => [
      `INSERT INTO ${t} VALUES (1, 42, 12345678901234567890.123, 1.5e300, true, 'it''s "q" \\ é', '{"a":[1,2.50,{"b":null}]}',
        '{"x" : 1}', '2024-02-29', '2024-01-02 03:04:05.678+05', '2024-01-02 03:04:05', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        '\\x00ff', '{1,NULL,3}', '{"a b",c}', '1 day 02:03:04', NULL)`,
      `INSERT INTO ${t} (id, n, s) VALUES (2, 'NaN', NULL), (3, -0.5, '')`,
      `UPDATE ${t} SET i = i + 1, s = 'updated' WHERE id = 1`,
      `UPDATE ${t} SET id = 10 WHERE id = 2`,
      `UPDATE ${t} SET big = repeat(md5(random()::text), 4000) WHERE id = 3`,
      `UPDATE ${t} SET i = 7 WHERE id = 3`,
      `DELETE FROM ${t} WHERE id = 1`,
      `TRUNCATE ${t}`,
    ];
    const viaLogicalScript = script('same_l');
    for (const [i, statement] of script('same_t').entries()) {
      await db.query(statement);
      await db.query(viaLogicalScript[i]!);
    }
    await until(
      () => viaLogical.length >= viaTriggers.length && viaTriggers.length >= 10,
      'both event lists',
    );
    const normal = (events: BusEvent[]) =>
      events.map((event) => {
        if (event.kind === 'change') {
          const row = event.row ? { ...event.row } : undefined;
          // The TOASTed value is random per table: compare its length.
          if (row && typeof row.big === 'string') row.big = row.big.length;
          return { kind: event.kind, op: event.op, key: event.key, row };
        }
        return { kind: event.kind };
      });
    assert.deepEqual(normal(viaLogical), normal(viaTriggers));
    const updated = viaLogical.find((e) => e.kind === 'change' && e.key === '3' && e.row?.i === 7);
    assert.equal(
      updated?.kind === 'change' && typeof updated.row?.big,
      'string',
      'unchanged TOAST value filled in',
    );
  });

  it("builds the payloads of common column types in Node, byte for byte the triggers'", async () => {
    const columns = `id int8 PRIMARY KEY, i int, sm smallint, n numeric, f float8, f4 real, b bool, s text,
      v varchar(10), c char(3), u uuid, j jsonb, d date, ts timestamp, tz timestamptz, "Ωx" text`;
    await db.query(`CREATE TABLE fast_t (${columns})`);
    await db.query(`CREATE TABLE fast_l (${columns})`);
    await installCapture(db, await introspectTable(db, 'fast_t'), { channel: 'fast_t', mode: 'notify' });
    await installCapture(db, await introspectTable(db, 'fast_l'), { channel: 'fast_l', mode: 'logical' });
    await ensureLogicalSlot(db);
    const viaTriggers = await rawListen('fast_t');
    const viaLogical = await rawListen('fast_l');
    pump();
    const script = (t: string) => [
      `INSERT INTO ${t} VALUES (1, -7, 3, 12345678901234567890.120, 1.5e-7, 1e15, true, E'a"\\\\\\n\\u0001é', 'vv',
        'c', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b":[1,2.50],"a":null}', '0044-03-15 BC',
        '2024-01-02 03:04:05.5', '2024-01-02 03:04:05+05:30', 'ω')`,
      `INSERT INTO ${t} (id, f, n) VALUES (2, 'NaN', 'Infinity'), (3, '-0', '-0.00')`,
      `UPDATE ${t} SET s = 'changed', tz = 'infinity' WHERE id = 1`,
      `UPDATE ${t} SET id = 4 WHERE id = 2`,
      `DELETE FROM ${t} WHERE id = 3`,
    ];
    const logicalScript = script('fast_l');
    for (const [i, statement] of script('fast_t').entries()) {
      await db.query(statement);
      await db.query(logicalScript[i]!);
    }
    // Per change: the key and the row as written (the rest differs by design: table, positions, x, n).
    const split = (texts: string[]) =>
      texts.flatMap((text) => (text.startsWith('[') ? elements(text) : [text])).map(keyAndRow);
    await until(() => split(viaLogical).length >= 7 && split(viaTriggers).length >= 7, 'seven changes each');
    assert.deepEqual(split(viaLogical), split(viaTriggers));
    assert.match(
      split(viaLogical)[0]!,
      /"tz": "2024-01-0[12]T\d\d:\d\d:05[+-]\d\d:\d\d"/,
      'timestamptz as to_jsonb',
    );
  });

  it('keeps commit order across tables built in Node and in SQL, in notifications within the threshold', async () => {
    await db.query('CREATE TABLE mixed_fast (id int8 PRIMARY KEY, v text)');
    await db.query('CREATE TABLE mixed_sql (id int8 PRIMARY KEY, j json, a int[])');
    for (const table of ['mixed_fast', 'mixed_sql']) {
      await installCapture(db, await introspectTable(db, table), { channel: 'mixed', mode: 'logical' });
    }
    await ensureLogicalSlot(db);
    const heard = await rawListen('mixed');
    const events = await listen('mixed', true);
    await Promise.all(pumps.splice(0).map((p) => p.close()));
    pump({ spillThresholdBytes: 1000 });
    const expected: string[] = [];
    await db.transaction(async (tx) => {
      for (let i = 1; i <= 120; i++) {
        await tx.query('INSERT INTO mixed_fast VALUES ($1, $2)', [i, `row ${i}`]);
        expected.push(`public.mixed_fast:${i}`);
        if (i % 40 === 0) {
          await tx.query(`INSERT INTO mixed_sql VALUES ($1, '{"x" : 1}', '{1,2}')`, [i]);
          expected.push(`public.mixed_sql:${i}`);
        }
      }
      // Too big to share a notification, or to be notified at all: read from its outbox row.
      await tx.query('INSERT INTO mixed_fast VALUES (1000, $1)', ['x'.repeat(3000)]);
      expected.push('public.mixed_fast:1000');
      await tx.query("SELECT pgrt.fence_logical('mixed', 'F')");
    });
    await until(() => events.some((e) => e.kind === 'fence'), 'the fence');
    assert.deepEqual(
      events.map((e) =>
        e.kind === 'change' ? `${e.table}:${String(e.key)}` : e.kind === 'fence' ? 'fence' : e.kind,
      ),
      [...expected, 'fence'],
    );
    const big = events.find((e) => e.kind === 'change' && e.key === '1000');
    assert.equal(big?.kind === 'change' && big.row?.v, 'x'.repeat(3000));
    assert.ok(heard.length < 40, `${heard.length} notifications for 125 payloads`);
    assert.ok(
      heard.every((text) => Buffer.byteLength(text) <= 1000),
      'each within the threshold',
    );
    assert.ok(heard.includes(`{"p":${JSON.stringify(positions(heard).at(-2))}}`), 'the big row by position');
    const all = positions(heard);
    assert.equal(all.length, 125);
    assert.ok(
      all.every((p, i) => i === 0 || p > all[i - 1]!),
      'positions increase',
    );
  });

  it('replays a LISTEN gap from outbox rows holding several changes, a few rows per query', async () => {
    await db.query('CREATE TABLE gap (id int8 PRIMARY KEY, v int)');
    await installCapture(db, await introspectTable(db, 'gap'), { channel: 'gap', mode: 'logical' });
    await ensureLogicalSlot(db);
    // A small byte budget: the replay takes several queries of a row or two each.
    const bus = new PgNotificationBus(db, {
      channel: 'gap',
      outbox: true,
      backoff: { initialMs: 300, maxMs: 300 },
      replayChunkBytes: 4000,
    });
    const events: BusEvent[] = [];
    bus.subscribe((event) => events.push(event));
    await bus.start();
    buses.push(bus);
    await Promise.all(pumps.splice(0).map((p) => p.close()));
    pump();
    await db.query('INSERT INTO gap SELECT g, g FROM generate_series(1, 50) g');
    await until(() => events.length === 50, 'the first 50');
    const killer = await db.connectDedicated();
    try {
      await killer.query('SELECT pg_terminate_backend($1)', [bus.listenerPid]);
    } finally {
      await killer.end();
    }
    // Written while the bus is away (it reconnects after 150-300 ms): several rows, each of many changes.
    for (let i = 0; i < 4; i++) {
      await db.query('INSERT INTO gap SELECT g, g FROM generate_series($1::int8, $2::int8) g', [
        51 + i * 50,
        100 + i * 50,
      ]);
    }
    await until(() => events.length >= 250, 'all 250');
    await db.query('INSERT INTO gap VALUES (251, 251)');
    await until(() => events.length >= 251, 'one more after the gap');
    assert.equal(bus.replays, 1);
    assert.ok(!events.some((e) => e.kind === 'resync'), 'no resync');
    assert.deepEqual(
      events.map((e) => (e.kind === 'change' ? Number(e.key) : -1)),
      Array.from({ length: 251 }, (_, i) => i + 1),
    );
    const rows = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM pgrt.outbox WHERE channel = 'gap' AND payload LIKE '[%'",
    );
    assert.ok(Number(rows.rows[0]?.n) >= 4, 'rows of several changes');
  });

  it('fences follow their transaction; a transaction that wrote nothing gets no fence', async () => {
    await db.query('CREATE TABLE fenced (id int8 PRIMARY KEY, v int)');
    await installCapture(db, await introspectTable(db, 'fenced'), { channel: 'fenced', mode: 'logical' });
    const events = await listen('fenced', true);
    pump();
    const client = await db.connectDedicated();
    try {
      await client.query('BEGIN');
      const none = await client.query("SELECT pgrt.fence_logical('fenced', 'F0') AS f");
      assert.equal(none.rows[0].f, false);
      await client.query('INSERT INTO fenced VALUES (1, 1), (2, 2)');
      const wrote = await client.query("SELECT pgrt.fence_logical('fenced', 'F1') AS f");
      assert.equal(wrote.rows[0].f, true);
      await client.query('COMMIT');
      await client.query('SELECT pgrt.logical_emit(\'fenced\', \'{"f":"F2"}\')');
    } finally {
      await client.end();
    }
    await until(() => events.length >= 4, 'changes and fences');
    assert.deepEqual(
      events.map((e) =>
        e.kind === 'fence' ? `f:${e.id}` : e.kind === 'change' ? `${e.op}:${e.key}` : e.kind,
      ),
      ['insert:1', 'insert:2', 'f:F1', 'f:F2'],
    );
  });

  it('a pump that stops and one that takes over lose and repeat nothing', async () => {
    await db.query('CREATE TABLE handover (id int8 PRIMARY KEY, v int)');
    await installCapture(db, await introspectTable(db, 'handover'), { channel: 'handover', mode: 'logical' });
    const events = await listen('handover', true);
    await Promise.all(pumps.splice(0).map((p) => p.close())); // the earlier tests' pump holds the lock
    await ensureLogicalSlot(db); // as the core does before anything is read
    const first = pump();
    let written = 0;
    const writing = (async () => {
      for (let i = 1; i <= 300; i++) {
        await db.query('INSERT INTO handover VALUES ($1, $2)', [i, i]);
        written = i;
      }
    })();
    await until(() => written >= 100 && first.sent > 0, 'first pump sending');
    await first.close();
    const second = pump();
    await writing;
    await until(() => events.length >= 300, 'every insert', 15_000);
    // No repeats still in flight: one more insert, committed last, arrives after anything of the first 300.
    await db.query('INSERT INTO handover VALUES (301, 301)');
    await until(() => events.some((e) => e.kind === 'change' && Number(e.key) === 301), 'the last insert');
    const keys = events.map((e) => (e.kind === 'change' ? Number(e.key) : -1));
    assert.deepEqual(
      keys,
      Array.from({ length: 301 }, (_, i) => i + 1),
      'each insert once, in commit order',
    );
    assert.ok(second.leading && second.sent > 0, 'the second pump took over');
  });

  it('retention deletes what the logical pump appended after it took over', async () => {
    await db.query('CREATE TABLE kept (id int8 PRIMARY KEY)');
    await installCapture(db, await introspectTable(db, 'kept'), { channel: 'kept', mode: 'logical' });
    const events = await listen('kept', true);
    await Promise.all(pumps.splice(0).map((p) => p.close())); // the earlier tests' pump holds the lock
    await ensureLogicalSlot(db);
    const p = pump({ retentionMs: 0, gcIntervalMs: 0 });
    await until(() => p.leading, 'the pump to lead');
    for (let i = 1; i <= 20; i++) await db.query('INSERT INTO kept VALUES ($1)', [i]);
    await until(() => events.length >= 20, 'every insert');
    const appended = await db.query<{ id: string }>(
      "SELECT max(id) AS id FROM pgrt.outbox WHERE channel = 'kept'",
    );
    const last = Number(appended.rows[0]?.id);
    // Retention followed the position the source moved (it used to stay at the takeover position in this mode).
    await until(async () => {
      const state = await db.query<{ deleted: string }>(
        'SELECT deleted_through AS deleted FROM pgrt.outbox_state',
      );
      return Number(state.rows[0]?.deleted) >= last;
    }, 'retention past the appended rows');
  });

  it('a lost slot is recreated and listeners resync', async () => {
    await db.query('CREATE TABLE slotloss (id int8 PRIMARY KEY)');
    await installCapture(db, await introspectTable(db, 'slotloss'), { channel: 'slotloss', mode: 'logical' });
    const events = await listen('slotloss', true);
    await Promise.all(pumps.splice(0).map((p) => p.close()));
    const slot = await logicalSlotName(db);
    // The closed pump's walsender lets go of the slot shortly after; only an inactive slot can be dropped.
    await until(async () => {
      const active = await db.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return active.rows[0]?.active === false;
    }, 'the slot to be released');
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]);
    pump();
    await until(() => events.some((e) => e.kind === 'resync'), 'resync');
    await db.query('INSERT INTO slotloss VALUES (1)');
    await until(() => events.some((e) => e.kind === 'change'), 'a change after the new slot');
  });

  it('an invalidated slot (max_slot_wal_keep_size) is replaced and listeners resync', async () => {
    await db.query('CREATE TABLE walloss (id int8 PRIMARY KEY, v text)');
    await installCapture(db, await introspectTable(db, 'walloss'), { channel: 'walloss', mode: 'logical' });
    const events = await listen('walloss', true);
    await Promise.all(pumps.splice(0).map((p) => p.close()));
    await db.query("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await db.query('SELECT pg_reload_conf()');
    try {
      // No pump runs: WAL written past the limit, then a checkpoint invalidates the slot.
      for (let i = 0; i < 6; i++) {
        await db.query(
          "INSERT INTO walloss SELECT g + $1, repeat('x', 1000) FROM generate_series(1, 2000) g",
          [i * 10_000],
        );
        await db.query('SELECT pg_switch_wal()');
      }
      await db.query('CHECKPOINT');
      const slot = await logicalSlotName(db);
      const status = await db.query<{ s: string }>(
        'SELECT wal_status AS s FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      assert.equal(status.rows[0]?.s, 'lost', 'the slot was invalidated');
    } finally {
      await db.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
      await db.query('SELECT pg_reload_conf()');
    }
    pump();
    await until(() => events.some((e) => e.kind === 'resync'), 'resync');
    await db.query("INSERT INTO walloss VALUES (-1, 'after')");
    await until(
      () => events.some((e) => e.kind === 'change' && e.key === '-1'),
      'a change through the replaced slot',
    );
  });
});
