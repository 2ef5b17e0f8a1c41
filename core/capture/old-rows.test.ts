/**
 * What a change event tells besides the new row, in every capture mode: the old row of updates and deletes for
 * tables whose REPLICA IDENTITY is FULL (and nothing more for the others), also when it is too big to notify; an
 * update's unchanged TOASTed value; the replica identity changed after install; and the transaction's time
 * (`committedAt`), which lies between a clock read before the writing transaction and one after it.
 */
import assert from 'node:assert/strict';
import { PrivatePostgres } from '../../test/fixtures/private-postgres.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import type { BusEvent } from '../bus/change-bus.js';
import { PgNotificationBus } from '../bus/pg-notification-bus.js';
import { PgDatabase } from '../database/database.js';
import { introspectTable } from '../database/introspect.js';
import { ensureSchema, installCapture } from '../database/schema.js';
import type { CaptureModeName } from './capture-mode.js';
import { captureMode } from './capture-modes.js';
import { ensureLogicalSlot } from './logical/slot.js';
import { OutboxPump } from './outbox-pump.js';

type Change = Extract<BusEvent, { kind: 'change' }>;

for (const mode of ['notify', 'outbox', 'logical'] as const satisfies readonly CaptureModeName[]) {
  describe(`old rows and commit times on the bus, capture mode ${mode}`, function () {
    this.timeout(60_000);
    let server: PrivatePostgres | undefined;
    let db: PgDatabase;
    let bus: PgNotificationBus;
    let pump: OutboxPump | undefined;
    const events: Change[] = [];
    const prefix = `old_${mode}_${process.pid}`;
    const channel = `${prefix}_ch`;

    async function capture(table: string): Promise<void> {
      await installCapture(db, await introspectTable(db, table), { channel, mode });
    }

    before(async () => {
      // The logical mode needs wal_level=logical (a private server); outbox and notify use the shared test database.
      if (mode === 'logical') server = await PrivatePostgres.create('old_rows');
      db = new PgDatabase(server?.url ?? testDatabaseUrl(), { poolSize: 4 });
      await ensureSchema(db);
      for (const kind of ['full', 'key', 'later']) {
        await db.query(
          `CREATE TABLE ${prefix}_${kind} (id int8 PRIMARY KEY, title text, n numeric, big text)`,
        );
        await db.query(`ALTER TABLE ${prefix}_${kind} ALTER COLUMN big SET STORAGE EXTERNAL`);
      }
      // A column type the logical pump converts in SQL rather than in Node.
      await db.query(`CREATE TABLE ${prefix}_slow (id int8 PRIMARY KEY, title text, span interval)`);
      await db.query(`ALTER TABLE ${prefix}_full REPLICA IDENTITY FULL`);
      await db.query(`ALTER TABLE ${prefix}_slow REPLICA IDENTITY FULL`);
      for (const kind of ['full', 'key', 'later', 'slow']) await capture(`${prefix}_${kind}`);
      if (mode === 'logical') await ensureLogicalSlot(db);
      bus = new PgNotificationBus(db, { channel, outbox: mode !== 'notify' });
      bus.subscribe((event) => {
        if (event.kind === 'change') events.push(event);
      });
      await bus.start();
      if (mode !== 'notify') {
        pump = new OutboxPump(db, { capture: captureMode(mode), electionIntervalMs: 100, idlePollMs: 10 });
        pump.start();
      }
    });

    after(async () => {
      await pump?.close();
      await bus?.close();
      await db?.close();
      await server?.destroy();
    });

    /** The events of `table` once `count` of them arrived. */
    async function changesOf(table: string, count: number): Promise<Change[]> {
      const of = () => events.filter((event) => event.table === `public.${prefix}_${table}`);
      await waitUntil(() => of().length >= count, {
        what: () => `${count} changes of ${table}, got ${JSON.stringify(of().map((e) => e.op))}`,
      });
      return of();
    }

    it('carries the old row of updates and deletes for REPLICA IDENTITY FULL only, and the commit time', async () => {
      const before = Date.now();
      for (const table of ['full', 'key']) {
        await db.transaction(async (client) => {
          await client.query(`INSERT INTO ${prefix}_${table} (id, title, n) VALUES (1, 'a', 1.50)`);
          await client.query(`UPDATE ${prefix}_${table} SET title = 'b' WHERE id = 1`);
        });
        await db.query(`DELETE FROM ${prefix}_${table} WHERE id = 1`);
      }
      await db.query(`INSERT INTO ${prefix}_slow VALUES (1, 'a', '1 day')`);
      await db.query(`UPDATE ${prefix}_slow SET id = 2, title = 'b'`);
      await db.query(`UPDATE ${prefix}_slow SET span = '2 days'`);
      await db.query(`DELETE FROM ${prefix}_slow`);
      const after = Date.now();
      const full = await changesOf('full', 3);
      assert.deepEqual(
        full.map((event) => [event.op, event.old]),
        [
          ['insert', undefined],
          ['update', { id: '1', title: 'a', n: '1.50', big: null }],
          ['delete', { id: '1', title: 'b', n: '1.50', big: null }],
        ],
      );
      const key = await changesOf('key', 3);
      assert.deepEqual(
        key.map((event) => [event.op, event.old]),
        [
          ['insert', undefined],
          ['update', undefined],
          ['delete', undefined],
        ],
      );
      const slow = await changesOf('slow', 5);
      assert.deepEqual(
        slow.map((event) => [event.op, event.key, event.old]),
        [
          ['insert', '1', undefined],
          // The key changed: a delete of the old key (with the old row), then an insert.
          ['delete', '1', { id: '1', title: 'a', span: '1 day' }],
          ['insert', '2', undefined],
          ['update', '2', { id: '2', title: 'b', span: '1 day' }],
          ['delete', '2', { id: '2', title: 'b', span: '2 days' }],
        ],
      );
      for (const event of [...full, ...key, ...slow]) {
        const at = event.committedAt;
        assert.ok(
          at !== undefined && at >= before && at <= after,
          `${event.op} committed at ${at}, between ${before} and ${after}`,
        );
      }
      assert.equal(full[0]?.committedAt, full[1]?.committedAt, 'one time per transaction');
    });

    it('carries an old row over 8000 bytes through the spill path, and an unchanged TOASTed value', async () => {
      const big = await db.query<{ v: string }>(
        `SELECT string_agg(md5(g::text), '') AS v FROM generate_series(1, 300) g`,
      );
      const value = big.rows[0]?.v ?? '';
      assert.ok(Buffer.byteLength(value) > 8000);
      await db.query(`INSERT INTO ${prefix}_full (id, title, big) VALUES (2, 'x', $1)`, [value]);
      await db.query(`UPDATE ${prefix}_full SET title = 'y' WHERE id = 2`);
      await db.query(`DELETE FROM ${prefix}_full WHERE id = 2`);
      const changes = (await changesOf('full', 6)).slice(3);
      assert.deepEqual(
        changes.map((event) => event.op),
        ['insert', 'update', 'delete'],
      );
      const [, update, remove] = changes as [Change, Change, Change];
      assert.equal(update.row?.big, value, 'the unchanged TOASTed value is in the new row');
      assert.equal(update.row?.title, 'y');
      assert.deepEqual(update.old, { id: '2', title: 'x', n: null, big: value });
      assert.deepEqual(remove.old, { id: '2', title: 'y', n: null, big: value });
    });

    it('follows a REPLICA IDENTITY changed after install once the capture is installed again', async () => {
      await db.query(`INSERT INTO ${prefix}_later (id, title) VALUES (1, 'a')`);
      await db.query(`ALTER TABLE ${prefix}_later REPLICA IDENTITY FULL`);
      await capture(`${prefix}_later`);
      await db.query(`UPDATE ${prefix}_later SET title = 'b' WHERE id = 1`);
      await db.query(`ALTER TABLE ${prefix}_later REPLICA IDENTITY DEFAULT`);
      await capture(`${prefix}_later`);
      await db.query(`UPDATE ${prefix}_later SET title = 'c' WHERE id = 1`);
      const changes = await changesOf('later', 3);
      assert.deepEqual(
        changes.map((event) => [event.op, event.old]),
        [
          ['insert', undefined],
          ['update', { id: '1', title: 'a', n: null, big: null }],
          ['update', undefined],
        ],
      );
    });
  });
}
