/**
 * `old` and `commit_timestamp` of postgres_changes as the real supabase-js receives them, in every capture mode:
 * the whole old row for a table with REPLICA IDENTITY FULL (an old row over 8000 bytes included, and DELETE filters
 * tested against it, as Supabase's walrus does), the primary key otherwise; the commit timestamp between a clock read
 * before the writing transaction and one after it, and equal to what the database says: the transaction's start in
 * the trigger modes, its commit (`pg_xact_commit_timestamp`, track_commit_timestamp on) in the logical mode.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { App } from '../../core/app.js';
import type { Queryable } from '../../core/database/database.js';
import { createServer, type PgrtServer } from '../../index.js';
import { PrivatePostgres } from '../../test/fixtures/private-postgres.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import {
  type ChangePayload,
  type SupabaseClientLike,
  subscribe,
  supabaseClient,
} from './fixtures/clients.js';
import { supabase } from './index.js';

for (const capture of ['notify', 'outbox', 'logical'] as const) {
  describe(`supabase: old records and commit timestamps with supabase-js, capture ${capture}`, function () {
    this.timeout(60_000);
    const full = `sb_old_full_${capture}`;
    const key = `sb_old_key_${capture}`;
    let database: PrivatePostgres | undefined;
    let server: PgrtServer;
    let sb: SupabaseClientLike;

    async function migrate(db: Queryable): Promise<void> {
      for (const table of [full, key]) {
        await db.query(
          `CREATE TABLE IF NOT EXISTS ${table} (id int8 PRIMARY KEY, owner text NOT NULL, body text)`,
        );
      }
      await db.query(`ALTER TABLE ${full} REPLICA IDENTITY FULL`);
    }

    before(async () => {
      // The logical mode needs wal_level=logical: a private server.
      if (capture === 'logical') {
        database = await PrivatePostgres.create('sb_old');
        // For pg_xact_commit_timestamp(), the commit time the test compares with.
        const admin = new pg.Client(database.url);
        await admin.connect();
        await admin.query('ALTER SYSTEM SET track_commit_timestamp = on');
        await admin.end();
        await database.stop();
        await database.start();
      }
      server = await createServer({
        app: new App().collection(full).collection(key),
        migrate,
        capture,
        protocols: [supabase({ access: { tables: { [full]: true, [key]: true } } })],
        port: 0,
        host: '127.0.0.1',
        databaseUrl: database?.url ?? testDatabaseUrl(),
      });
      sb = supabaseClient(`http://127.0.0.1:${server.port}`, 'anon');
    });

    after(async () => {
      await sb?.removeAllChannels();
      sb?.realtime.disconnect();
      await server?.close();
      await database?.destroy();
    });

    async function listen(
      name: string,
      table: string,
      filter: Record<string, unknown> = {},
    ): Promise<ChangePayload[]> {
      const got: ChangePayload[] = [];
      const seen = await subscribe(
        sb
          .channel(name)
          .on('postgres_changes', { event: '*', schema: 'public', table, ...filter }, (p) => got.push(p)),
      );
      await waitUntil(() => seen.system.length > 0);
      assert.equal(seen.system[0]?.status, 'ok');
      return got;
    }

    it('sends the whole old row for REPLICA IDENTITY FULL (over 8000 bytes too), the key otherwise', async () => {
      const ofFull = await listen(`full-${capture}`, full);
      const ofKey = await listen(`key-${capture}`, key);
      const big = 'é'.repeat(5000); // 10,000 bytes: notified through the spill path or the outbox row
      for (const table of [full, key]) {
        await server.db.query(`INSERT INTO ${table} VALUES (1, 'ann', $1)`, [big]);
        await server.db.query(`UPDATE ${table} SET owner = 'bob' WHERE id = 1`);
        await server.db.query(`DELETE FROM ${table} WHERE id = 1`);
      }
      await waitUntil(() => ofFull.length === 3 && ofKey.length === 3, {
        what: () => `3 changes each, got ${ofFull.length} and ${ofKey.length}`,
      });
      const shape = (p: ChangePayload) => [p.eventType, p.old];
      assert.deepEqual(ofFull.map(shape), [
        ['INSERT', {}],
        ['UPDATE', { id: 1, owner: 'ann', body: big }],
        ['DELETE', { id: 1, owner: 'bob', body: big }],
      ]);
      assert.equal(ofFull[1]?.new.body, big, 'the unchanged value is in the new record');
      assert.deepEqual(ofKey.map(shape), [
        ['INSERT', {}],
        ['UPDATE', { id: 1 }],
        ['DELETE', { id: 1 }],
      ]);
    });

    it('tests a DELETE filter against the old row of a REPLICA IDENTITY FULL table, as Supabase does', async () => {
      const deletes = await listen(`filtered-${capture}`, full, { event: 'DELETE', filter: 'owner=eq.ann' });
      await server.db.query(`INSERT INTO ${full} (id, owner) VALUES (2, 'ann'), (3, 'bob')`);
      await server.db.query(`DELETE FROM ${full} WHERE id IN (2, 3)`);
      await server.db.query(`INSERT INTO ${full} (id, owner) VALUES (4, 'ann')`);
      await server.db.query(`DELETE FROM ${full} WHERE id = 4`);
      await waitUntil(() => deletes.length >= 2, { what: () => JSON.stringify(deletes) });
      assert.deepEqual(
        deletes.map((p) => [p.eventType, p.old.id]),
        [
          ['DELETE', 2],
          ['DELETE', 4],
        ],
      );
    });

    it("gives the transaction's time as commit_timestamp, in Supabase's format", async () => {
      const got = await listen(`time-${capture}`, key);
      const before = Date.now();
      const written = await server.db.transaction(async (client) => {
        await client.query(`INSERT INTO ${key} (id, owner) VALUES (10, 'ann')`);
        await client.query(`UPDATE ${key} SET owner = 'bob' WHERE id = 10`);
        // The commit comes 20 ms after the transaction's start, so that the two times (and the time of receipt) differ.
        await client.query('SELECT pg_sleep(0.02)');
        const result = await client.query<{ start: string; xid: string }>(
          `SELECT trunc(extract(epoch FROM transaction_timestamp()) * 1000)::int8::text AS start,
                  (txid_current() % 4294967296)::text AS xid`,
        );
        return result.rows[0]!;
      });
      const after = Date.now();
      await waitUntil(() => got.length === 2);
      let expected = Number(written.start);
      if (capture === 'logical') {
        const committed = await server.db.query<{ at: string }>(
          `SELECT trunc(extract(epoch FROM pg_xact_commit_timestamp($1::text::xid)) * 1000)::int8::text AS at`,
          [written.xid],
        );
        expected = Number(committed.rows[0]?.at);
      }
      for (const p of got) {
        assert.match(p.commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        const at = Date.parse(p.commit_timestamp);
        assert.ok(at >= before && at <= after, `${p.commit_timestamp} within ${before}..${after}`);
        assert.equal(p.commit_timestamp, new Date(expected).toISOString());
      }
    });
  });
}
