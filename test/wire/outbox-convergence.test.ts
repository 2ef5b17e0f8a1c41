/**
 * The outbox trap (DESIGN.md decision 4), end to end through a core in `capture: 'outbox'` mode: 8 writer
 * connections update, insert and delete overlapping rows in random order with random delays inside their
 * transactions for a few seconds (so transactions wait on each other's row locks, commit in an order unlike their
 * ids, deadlock and roll back). A session subscribed to the table must then hold exactly the committed table as
 * soon as a method's write fence passes (the fence is appended after every earlier commit, so nothing may still be
 * in flight), without any resync and without an invalid message sequence. Also on the NATS bus (outbox capture; the
 * pump relays the outbox to a JetStream stream): same test, same expectations.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { App } from '../../core/app.js';
import type { BusEvent } from '../../core/bus/change-bus.js';
import { deleteStream, testNatsUrl, testStreamName } from '../fixtures/nats.js';
import { PrivatePostgres } from '../fixtures/private-postgres.js';
import { startTestCore, type TestCore } from '../support/core.js';
import { testDatabaseUrl } from '../support/database.js';

const WRITERS = 8;
const SECONDS = 3;
/** The writers go on past SECONDS until this many transactions committed (a loaded machine commits fewer). */
const MIN_COMMITTED = 120;
const ROWS = 24;

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const VARIANTS = [
  { capture: 'outbox', bus: 'postgres' },
  { capture: 'logical', bus: 'postgres' },
  { capture: 'outbox', bus: 'nats' },
  { capture: 'logical', bus: 'nats' },
] as const;

for (const { capture, bus } of VARIANTS) {
  describe(`${capture} mode, ${bus} bus: concurrent writers converge to the committed table`, function () {
    this.timeout(60_000);
    const table = `outbox_conv_${bus}_${process.pid}`;
    let t: TestCore;
    let logical: PrivatePostgres | undefined;
    let url: string;
    const writers: pg.Client[] = [];
    const events: BusEvent[] = [];
    const nats = bus === 'nats' ? { url: testNatsUrl(), stream: testStreamName() } : undefined;

    before(async () => {
      if (capture === 'logical') logical = await PrivatePostgres.create('logical');
      url = logical?.url ?? testDatabaseUrl();
      const app = new App()
        .collection('items', { table })
        .publish('items', (ctx) => ctx.find('items'))
        .method('mark', async (ctx, id: unknown) => ctx.update('items', String(id), { w: -1 }));
      t = await startTestCore(
        app,
        async (db) => {
          await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, v int NOT NULL, w int)`);
          await db.query(`INSERT INTO ${table} SELECT 'r' || g, 0, NULL FROM generate_series(1, ${ROWS}) g`);
        },
        undefined,
        { capture, url, ...(nats ? { nats } : {}) },
      );
      t.core.bus.subscribe((event) => events.push(event));
      for (let i = 0; i < WRITERS; i++) {
        const client = new pg.Client({
          connectionString: url,
          application_name: 'outbox-writer',
        });
        await client.connect();
        writers.push(client);
      }
    });

    after(async () => {
      await Promise.all(writers.map((c) => c.end().catch(() => {})));
      await t?.close();
      await logical?.destroy();
      if (nats) await deleteStream(nats.url, nats.stream);
    });

    it('a live query equals the table once a write fence passes', async () => {
      const { session, out } = t.session();
      await session.subscribe('s', 'items', []);
      await out.waitFor((m) => m.msg === 'ready');
      assert.equal(Object.keys(out.collection('items')).length, ROWS);

      const seed = Date.now() % 1_000_000;
      const deadline = Date.now() + SECONDS * 1000;
      let committed = 0;
      let aborted = 0;
      let extra = 0;
      const lane = async (client: pg.Client, lane: number): Promise<void> => {
        const rand = random(seed + lane);
        const row = () => `r${1 + Math.floor(rand() * ROWS)}`;
        while (Date.now() < deadline || committed < MIN_COMMITTED) {
          try {
            await client.query('BEGIN');
            const steps = 1 + Math.floor(rand() * 3);
            for (let s = 0; s < steps; s++) {
              const r = rand();
              if (r < 0.75) {
                await client.query(`UPDATE ${table} SET v = $2, w = $3 WHERE id = $1`, [
                  row(),
                  Math.floor(rand() * 1e6),
                  lane,
                ]);
              } else if (r < 0.88) {
                await client.query(
                  `INSERT INTO ${table} (id, v, w) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET v = excluded.v, w = excluded.w`,
                  [rand() < 0.5 ? row() : `x${lane}-${++extra}`, Math.floor(rand() * 1e6), lane],
                );
              } else {
                await client.query(`DELETE FROM ${table} WHERE id = $1`, [row()]);
              }
              // Hold the row locks a little: later writers queue behind them, commit order ≠ id order.
              if (rand() < 0.5) await sleep(Math.floor(rand() * 4));
            }
            if (rand() < 0.1) {
              await client.query('ROLLBACK');
              aborted++;
            } else {
              await client.query('COMMIT');
              committed++;
            }
          } catch {
            // Deadlocks between random-order updates: the transaction is aborted.
            await client.query('ROLLBACK').catch(() => {});
            aborted++;
          }
          if (rand() < 0.3) await sleep(Math.floor(rand() * 3));
        }
      };
      await Promise.all(writers.map((client, i) => lane(client, i)));

      // The method's fence is appended after every transaction above committed: once `updated` arrives, every one
      // of their changes has been processed into the session.
      const any = (await t.db.query<{ id: string }>(`SELECT id FROM ${table} LIMIT 1`)).rows[0]?.id;
      await t.call(session, out, 'mark', any);
      const rows = await t.db.query<{ id: string; v: number; w: number | null }>(
        `SELECT id, v, w FROM ${table}`,
      );
      const expected = Object.fromEntries(
        rows.rows.map((r) => [r.id, r.w === null ? { v: r.v } : { v: r.v, w: r.w }]),
      );
      assert.deepEqual(out.collection('items'), expected, `view ≠ table (seed ${seed})`);
      assert.deepEqual(out.violations, [], `invalid sequence (seed ${seed})`);
      assert.equal(events.filter((e) => e.kind === 'resync').length, 0, 'no resync');
      const changes = events.filter((e) => e.kind === 'change').length;
      assert.ok(changes >= committed / 2, `${changes} changes for ${committed} commits (${aborted} aborted)`);
      // The trap was really there: transactions drew outbox ids in an order unlike their xids (the triggers' outbox;
      // the logical pump appends in commit order itself).
      if (capture === 'logical') {
        session.close();
        return;
      }
      const inversions = await t.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM (SELECT xid < lag(xid) OVER (ORDER BY id) AS inverted FROM pgrt.outbox
        WHERE channel = $1) o WHERE inverted`,
        [t.core.channel],
      );
      assert.ok(Number(inversions.rows[0]?.n) > 0, 'no transaction drew its ids out of xid order');
      session.close();
    });
  });
}
