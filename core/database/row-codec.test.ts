/**
 * Row JSON and its decoding: every column kind round-trips from a real table through the snapshot SQL and through
 * the capture trigger's notification, identically.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { PgDatabase } from './database.js';
import { introspectTable } from './introspect.js';
import { decodeKey, decodeRow, parseBytea, parseTimestamp, quoteTable, rowJsonSql } from './row-codec.js';
import { ensureSchema, installCapture } from './schema.js';
import type { TableInfo } from './table-info.js';

describe('row codec', () => {
  describe('parsers', () => {
    it('parses to_jsonb timestamps with microseconds, offsets, BC and infinity', () => {
      assert.equal(
        parseTimestamp('2024-01-02T03:04:05.123456+00:00')?.toISOString(),
        '2024-01-02T03:04:05.123Z',
      );
      assert.equal(parseTimestamp('2024-01-02T03:04:05.9+05:30')?.toISOString(), '2024-01-01T21:34:05.900Z');
      assert.equal(parseTimestamp('2024-01-02T03:04:05-03:30')?.toISOString(), '2024-01-02T06:34:05.000Z');
      assert.equal(parseTimestamp('1800-01-01T00:00:00+05:53:28')?.toISOString(), '1799-12-31T18:06:32.000Z');
      assert.equal(parseTimestamp('2024-01-02T03:04:05.5')?.toISOString(), '2024-01-02T03:04:05.500Z');
      assert.equal(
        parseTimestamp('0044-03-15T12:00:00+00:00 BC')?.toISOString(),
        '-000043-03-15T12:00:00.000Z',
      );
      assert.equal(parseTimestamp('0099-12-31T00:00:00')?.getUTCFullYear(), 99);
      assert.equal(parseTimestamp('infinity')?.getTime(), 8.64e15);
      assert.equal(parseTimestamp('-infinity')?.getTime(), -8.64e15);
      assert.equal(parseTimestamp('yesterday'), undefined);
    });

    it('parses bytea in hex and escape formats', () => {
      assert.deepEqual(parseBytea('\\x0a0bff'), new Uint8Array([10, 11, 255]));
      assert.deepEqual(parseBytea('a\\\\b\\012\\377'), new Uint8Array([97, 92, 98, 10, 255]));
      assert.deepEqual(parseBytea('\\x'), new Uint8Array([]));
    });
  });

  describe('with PostgreSQL', () => {
    let db: PgDatabase;
    let listener: pg.Client;
    let table: TableInfo;
    const channel = `codec_${process.pid}`;
    const notified: Record<string, unknown>[] = [];

    before(async () => {
      db = new PgDatabase(testDatabaseUrl(), { poolSize: 2 });
      await ensureSchema(db);
      await db.query('CREATE EXTENSION IF NOT EXISTS citext');
      const name = `codec_${process.pid}`;
      await db.query(`CREATE DOMAIN ${name}_big AS int8`);
      await db.query(`CREATE DOMAIN ${name}_big2 AS ${name}_big CHECK (VALUE > 0)`);
      await db.query(`CREATE TABLE "${name}" (
        id int8 PRIMARY KEY, t text, vc varchar(10), ch char(3), nm name, ci citext,
        i2 int2, i4 int4, i8 int8, num numeric, mon money, f4 float4, f8 float8, b bool,
        tz timestamptz, ts timestamp, d date, j json, jb jsonb, by bytea, u uuid,
        arr int[], iv interval, dom ${name}_big2, "we""ird" text
      )`);
      table = await introspectTable(db, name);
      await installCapture(db, table, { channel });
      listener = new pg.Client(testDatabaseUrl());
      await listener.connect();
      listener.on('notification', (m) =>
        notified.push(JSON.parse(m.payload ?? '') as Record<string, unknown>),
      );
      await listener.query(`LISTEN ${channel}`);
    });
    after(async () => {
      await listener.end();
      await db.close();
    });

    async function insertRows(session: (c: { query(text: string): Promise<unknown> }) => Promise<void>) {
      await db.transaction(async (c) => {
        await session(c);
        const target = quoteTable(table);
        await c.query(`INSERT INTO ${target} VALUES (
          9007199254740993, 'text ✓', 'vc', 'ab', 'nm', 'CiText',
          -32768, 2147483647, -9223372036854775808, 12345678901234567890.123456789, '92233720368547758.07',
          3.4028235e38, 0.1, true,
          '2024-02-29 23:59:59.999999+00', '2024-02-29 12:34:56.789', '2024-02-29',
          '{"b": 1, "a": [true, null, "x"]}', '{"big": 12345678901234567890}', '\\x00ff0a',
          'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,3}', '1 day 2 hours', 42, 'q'
        ), (
          2, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', '-0.01', 'NaN', '-Infinity', false,
          'infinity', '1999-12-31 23:59:59', '0001-01-01 BC', 'null', '[]', '', NULL, '{}', NULL, NULL, NULL
        ), (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity', NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
      });
    }

    async function snapshot(): Promise<Record<string, unknown>[]> {
      const result = await db.query<{ r: Record<string, unknown> }>(
        `SELECT ${rowJsonSql(table, 't')} AS r FROM ${quoteTable(table)} t ORDER BY array_position('{9007199254740993,2,3}'::int8[], t.id)`,
      );
      return result.rows.map((row) => row.r);
    }

    async function notifiedRows(count: number): Promise<Record<string, unknown>[]> {
      await waitUntil(() => notified.length >= count, {
        timeoutMs: 2000,
        what: () => `${count} notifications (got ${notified.length})`,
      });
      return notified.splice(0, count).map((p) => p.r as Record<string, unknown>);
    }

    it('introspects every kind, resolving domains', () => {
      const kinds = Object.fromEntries([...table.columns.values()].map((c) => [c.name, c.kind]));
      assert.deepEqual(kinds, {
        id: 'bigint',
        t: 'text',
        vc: 'text',
        ch: 'text',
        nm: 'text',
        ci: 'text',
        i2: 'int',
        i4: 'int',
        i8: 'bigint',
        num: 'numeric',
        mon: 'numeric',
        f4: 'float',
        f8: 'float',
        b: 'bool',
        tz: 'timestamptz',
        ts: 'timestamp',
        d: 'date',
        j: 'json',
        jb: 'json',
        by: 'bytea',
        u: 'uuid',
        arr: 'other',
        iv: 'other',
        dom: 'bigint',
        'we"ird': 'text',
      });
      assert.equal(table.key.name, 'id');
      assert.equal(table.columns.get('vc')?.pgType, 'character varying(10)');
    });

    afterEach(async () => {
      const deleted = await db.query(`DELETE FROM ${quoteTable(table)}`);
      await notifiedRows(deleted.rowCount ?? 0);
    });

    it('decodes every kind identically from the snapshot SQL and from the trigger', async () => {
      await insertRows(async () => {});
      const fromTrigger = await notifiedRows(3);
      const fromSnapshot = await snapshot();
      assert.deepEqual(fromTrigger, fromSnapshot);

      const [full, edge, empty] = fromSnapshot.map((r) => decodeRow(table, r));
      assert.deepEqual(full, {
        id: '9007199254740993',
        t: 'text ✓',
        vc: 'vc',
        ch: 'ab ',
        nm: 'nm',
        ci: 'CiText',
        i2: -32768,
        i4: 2147483647,
        i8: '-9223372036854775808',
        num: '12345678901234567890.123456789',
        mon: '92233720368547758.07',
        f4: 3.4028235e38,
        f8: 0.1,
        b: true,
        tz: new Date('2024-02-29T23:59:59.999Z'),
        ts: new Date('2024-02-29T12:34:56.789Z'),
        d: '2024-02-29',
        j: { a: [true, null, 'x'], b: 1 },
        jb: { big: 12345678901234567000 },
        by: new Uint8Array([0, 255, 10]),
        u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        arr: [1, 2, 3],
        iv: '1 day 02:00:00',
        dom: '42',
        'we"ird': 'q',
      });
      assert.deepEqual(edge, {
        id: '2',
        t: '',
        num: 'NaN',
        mon: '-0.01',
        f4: Number.NaN,
        f8: Number.NEGATIVE_INFINITY,
        b: false,
        tz: new Date(8.64e15),
        ts: new Date('1999-12-31T23:59:59Z'),
        d: '0001-01-01 BC',
        // j holds JSON null: indistinguishable from SQL NULL in row JSON, so absent too.
        jb: [],
        by: new Uint8Array([]),
        arr: [],
      });
      assert.deepEqual(empty, { id: '3', f8: Number.POSITIVE_INFINITY });
      assert.equal(decodeKey(table, '9007199254740993'), '9007199254740993');
    });

    it('decodes to the same instants whatever the writer session time zone', async () => {
      await insertRows(async (c) => {
        await c.query("SET LOCAL TimeZone = 'Asia/Kolkata'");
      });
      const fromTrigger = await notifiedRows(3);
      const fromSnapshot = await snapshot();
      assert.match(String(fromTrigger[0]?.tz), /\+05:30$/);
      assert.deepEqual(
        fromTrigger.map((r) => decodeRow(table, r)),
        fromSnapshot.map((r) => decodeRow(table, r)),
      );
    });
  });
});
