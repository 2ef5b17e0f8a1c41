/**
 * The pgrt schema and capture triggers against a real PostgreSQL: the exact NOTIFY payloads, spilling, fences,
 * and idempotent, concurrent installation.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { PgDatabase } from './database.js';
import { introspectTable } from './introspect.js';
import { ensureSchema, installCapture, removeCapture, SCHEMA_VERSION } from './schema.js';
import type { TableInfo } from './table-info.js';

let counter = 0;
function unique(prefix: string): string {
  return `${prefix}_${process.pid}_${++counter}`;
}

/** A raw LISTEN client collecting payloads of one channel. */
async function listen(channel: string) {
  const client = new pg.Client(testDatabaseUrl());
  await client.connect();
  const payloads: string[] = [];
  /** Payload of the marker {@link quiet} notifies itself, never collected. */
  const marker = `quiet-${channel}`;
  let markers = 0;
  client.on('notification', (m) => {
    if (m.payload === marker) markers++;
    else payloads.push(m.payload ?? '');
  });
  await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  return {
    payloads,
    /** Resolves with all payloads once at least `n` arrived. */
    async take(n: number, timeoutMs = 2000): Promise<unknown[]> {
      await waitUntil(() => payloads.length >= n, {
        timeoutMs,
        what: () => `${n} notifications (got ${payloads.length})`,
      });
      return payloads.map((p) => JSON.parse(p) as unknown);
    },
    /**
     * Asserts nothing (more) arrived from what committed so far: PostgreSQL delivers a listener's notifications in
     * commit order, so once a marker this client notifies now is back, any earlier notification would be too.
     */
    async quiet(expected: number): Promise<void> {
      const before = markers;
      await client.query('SELECT pg_notify($1, $2)', [channel, marker]);
      await waitUntil(() => markers > before, { what: () => 'the quiet marker' });
      assert.equal(
        payloads.length,
        expected,
        `unexpected notifications: ${payloads.slice(expected).join('\n')}`,
      );
    },
    async close(): Promise<void> {
      await client.end();
    },
  };
}

describe('pgrt schema and capture triggers', () => {
  let db: PgDatabase;

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 4 });
    await ensureSchema(db);
  });
  after(async () => {
    await db.close();
  });

  async function captured(
    columns: string,
    channel: string,
    spillThresholdBytes?: number,
  ): Promise<TableInfo> {
    const name = unique('cap');
    await db.query(`CREATE TABLE ${name} (${columns})`);
    const table = await introspectTable(db, name);
    await installCapture(db, table, {
      channel,
      ...(spillThresholdBytes === undefined ? {} : { spillThresholdBytes }),
    });
    return table;
  }

  it('notifies insert, update, delete, key change and truncate with exact payloads; no-op updates are silent', async () => {
    const channel = unique('ch');
    const table = await captured('id int PRIMARY KEY, title text, doc json', channel);
    const l = await listen(channel);
    try {
      await db.query(`INSERT INTO ${table.name} VALUES (1, 'a', '{"x": [1]}')`);
      await db.query(`UPDATE ${table.name} SET title = 'b' WHERE id = 1`);
      await db.query(`UPDATE ${table.name} SET title = 'b' WHERE id = 1`); // no-op (json column has no = operator)
      await db.query(`UPDATE ${table.name} SET id = 2 WHERE id = 1`);
      await db.query(`DELETE FROM ${table.name} WHERE id = 2`);
      await db.query(`INSERT INTO ${table.name} VALUES (3, NULL, NULL)`);
      await db.query(`TRUNCATE ${table.name}`);
      const got = (await l.take(7)) as Record<string, unknown>[];
      await l.quiet(7);
      const t = `public.${table.name}`;
      const x = got.map((p) => p.x);
      for (const txid of x) assert.match(String(txid), /^\d+$/);
      for (const p of got.slice(0, 6)) assert.equal(typeof p.c, 'number', 'the transaction time, in ms');
      assert.deepEqual(
        got.map(({ x: _x, c: _c, ...rest }) => rest),
        [
          { t, o: 'i', k: 1, n: 1, r: { id: 1, title: 'a', doc: { x: [1] } } },
          { t, o: 'u', k: 1, n: 1, r: { id: 1, title: 'b', doc: { x: [1] } } },
          { t, o: 'd', k: 1, n: 1 },
          { t, o: 'i', k: 2, n: 2, r: { id: 2, title: 'b', doc: { x: [1] } } },
          { t, o: 'd', k: 2, n: 1 },
          { t, o: 'i', k: 3, n: 1, r: { id: 3, title: null, doc: null } },
          { t, o: 't', n: 1 },
        ],
      );
      assert.equal(x[2], x[3], 'key change: one transaction');
      // Compact envelope, the row last.
      assert.match(
        l.payloads[0]!,
        /^\{"t":"public\.cap_\d+_\d+","o":"i","k":1,"x":"\d+","c":\d+,"n":1,"r":\{/,
      );
    } finally {
      await l.close();
    }
  });

  it('carries bigint and numeric as exact text, in the key too', async () => {
    const channel = unique('ch');
    const table = await captured(
      'id int8 PRIMARY KEY, n numeric, m money, f float8, s numeric(6,2)',
      channel,
    );
    const l = await listen(channel);
    try {
      await db.query(
        `INSERT INTO ${table.name} VALUES (9007199254740993, 12345678901234567890.123456789, '-1234.5', 0.1, 1.5)`,
      );
      await db.query(`INSERT INTO ${table.name} VALUES (1, 'NaN', NULL, 'Infinity', NULL)`);
      await db.query(`DELETE FROM ${table.name} WHERE id = 9007199254740993`);
      const [a, b, d] = (await l.take(3)) as Record<string, unknown>[];
      assert.equal(a!.k, '9007199254740993');
      assert.deepEqual(a!.r, {
        id: '9007199254740993',
        n: '12345678901234567890.123456789',
        m: '-1234.50',
        f: 0.1,
        s: '1.50',
      });
      assert.deepEqual(b!.r, { id: '1', n: 'NaN', m: null, f: 'Infinity', s: null });
      assert.deepEqual(d, { ...d, o: 'd', k: '9007199254740993' });
      assert.equal(l.payloads[0]!.includes('"9007199254740993"'), true);
    } finally {
      await l.close();
    }
  });

  it('keeps identical changes within one transaction apart (no NOTIFY folding)', async () => {
    const channel = unique('ch');
    const table = await captured('id text PRIMARY KEY, v int', channel);
    const l = await listen(channel);
    try {
      await db.transaction(async (c) => {
        await c.query(`INSERT INTO ${table.name} VALUES ('a', 1)`);
        await c.query(`DELETE FROM ${table.name}`);
        await c.query(`INSERT INTO ${table.name} VALUES ('a', 1)`);
        await c.query(`TRUNCATE ${table.name}`);
        await c.query(`INSERT INTO ${table.name} VALUES ('a', 1)`);
        await c.query(`TRUNCATE ${table.name}`);
      });
      const got = (await l.take(6)) as Record<string, unknown>[];
      assert.deepEqual(
        got.map((p) => `${p.o}${p.n}`),
        ['i1', 'd2', 'i3', 't4', 'i5', 't6'],
      );
    } finally {
      await l.close();
    }
  });

  it('delivers nothing for rolled-back transactions', async () => {
    const channel = unique('ch');
    const table = await captured('id int PRIMARY KEY', channel);
    const l = await listen(channel);
    try {
      await assert.rejects(
        db.transaction(async (c) => {
          await c.query(`INSERT INTO ${table.name} VALUES (1)`);
          throw new Error('nope');
        }),
        /nope/,
      );
      await db.query(`INSERT INTO ${table.name} VALUES (2)`);
      const got = (await l.take(1)) as Record<string, unknown>[];
      await l.quiet(1);
      assert.equal(got[0]!.k, 2);
    } finally {
      await l.close();
    }
  });

  it('spills payloads over the threshold in bytes, not characters', async () => {
    const channel = unique('ch');
    const table = await captured('id int PRIMARY KEY, body text', channel);
    const l = await listen(channel);
    try {
      const multibyte = 'é'.repeat(4000); // 4000 characters, 8000 bytes
      await db.query(`INSERT INTO ${table.name} VALUES (1, $1)`, [multibyte]);
      await db.query(`INSERT INTO ${table.name} VALUES (2, 'small')`);
      const [spilled, small] = (await l.take(2)) as Record<string, unknown>[];
      assert.equal(spilled!.r, undefined);
      assert.equal(spilled!.k, 1);
      assert.equal(typeof spilled!.s, 'number');
      assert.deepEqual((small as { r: unknown }).r, { id: 2, body: 'small' });
      const row = await db.query<{ payload: string }>('SELECT payload FROM pgrt.spill WHERE id = $1', [
        spilled!.s,
      ]);
      const full = JSON.parse(row.rows[0]!.payload) as Record<string, unknown>;
      assert.deepEqual(full.r, { id: 1, body: multibyte });
      assert.equal(full.x, spilled!.x);
    } finally {
      await l.close();
    }
  });

  it('pgrt.fence notifies only when the transaction wrote', async () => {
    const channel = unique('ch');
    const table = await captured('id int PRIMARY KEY', channel);
    const l = await listen(channel);
    try {
      const readOnly = await db.transaction(async (c) => {
        await c.query(`SELECT * FROM ${table.name}`);
        return (await c.query<{ f: boolean }>('SELECT pgrt.fence($1, $2) AS f', [channel, 'r1'])).rows[0]!.f;
      });
      assert.equal(readOnly, false);
      const wrote = await db.transaction(async (c) => {
        await c.query(`INSERT INTO ${table.name} VALUES (1)`);
        return (await c.query<{ f: boolean }>('SELECT pgrt.fence($1, $2) AS f', [channel, 'w"1'])).rows[0]!.f;
      });
      assert.equal(wrote, true);
      const got = (await l.take(2)) as Record<string, unknown>[];
      await l.quiet(2);
      assert.equal(got[0]!.o, 'i');
      assert.deepEqual(got[1], { f: 'w"1' });
    } finally {
      await l.close();
    }
  });

  it('installs idempotently and concurrently from several processes; removeCapture stops capture', async () => {
    const channel = unique('ch');
    const name = unique('conc');
    await db.query(`CREATE TABLE ${name} (id int PRIMARY KEY, big int8)`);
    const dbs = [0, 1, 2].map(() => new PgDatabase(testDatabaseUrl(), { poolSize: 1 }));
    try {
      await Promise.all(dbs.map((d) => ensureSchema(d)));
      await Promise.all(dbs.map((d) => ensureSchema(d)));
      const table = await introspectTable(db, name);
      await Promise.all(dbs.map((d) => installCapture(d, table, { channel })));
      await Promise.all(dbs.map((d) => installCapture(d, table, { channel })));
      const triggers = await db.query<{ tgname: string }>(
        'SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass ORDER BY tgname',
        [name],
      );
      assert.deepEqual(
        triggers.rows.map((r) => r.tgname),
        ['pgrt_capture', 'pgrt_capture_truncate'],
      );
      const versions = await db.query<{ version: number }>(
        "SELECT version FROM pgrt.migrations WHERE set_name = 'pgrt' ORDER BY version",
      );
      assert.deepEqual(
        versions.rows.map((r) => r.version),
        Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
        'each of pgrt migrations applied once',
      );

      const l = await listen(channel);
      try {
        await db.query(`INSERT INTO ${name} VALUES (1, 1)`);
        await l.take(1);
        // Re-installing with other options replaces the triggers.
        await installCapture(db, table, { channel: `${channel}_2` });
        await db.query(`INSERT INTO ${name} VALUES (2, 2)`);
        await installCapture(db, table, { channel });
        await db.query(`INSERT INTO ${name} VALUES (3, 3)`);
        await removeCapture(db, table);
        await removeCapture(db, table);
        await db.query(`INSERT INTO ${name} VALUES (4, 4)`);
        const got = (await l.take(2)) as Record<string, unknown>[];
        await l.quiet(2);
        assert.deepEqual(
          got.map((p) => p.k),
          [1, 3],
        );
      } finally {
        await l.close();
      }
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });

  it('rejects a spill threshold NOTIFY cannot carry', async () => {
    const table = await captured('id int PRIMARY KEY', unique('ch'));
    await assert.rejects(installCapture(db, table, { spillThresholdBytes: 8000 }), RangeError);
  });
});
