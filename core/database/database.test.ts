/**
 * PgDatabase against a real PostgreSQL: queries, transactions (commit, rollback, client release), dedicated
 * connections, and connections whose backend is terminated while no statement of theirs runs (a transaction held
 * between statements; a new connection whose ReadyForQuery and FATAL arrive in one read), which must never crash
 * the process.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';
import { HoldingProxy } from '../../test/fixtures/holding-proxy.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import type { Logger } from '../logger.js';
import { PgDatabase, type Transaction } from './database.js';

/** A logger that keeps every line's message and its error's message. */
function recordingLogger(lines: string[]): Logger {
  const record = (fields: object, message?: string): void => {
    const err = (fields as { err?: unknown }).err;
    lines.push(`${message ?? ''}${err instanceof Error ? `: ${err.message}` : ''}`);
  };
  const logger: Logger = { debug: record, info: record, warn: record, error: record, child: () => logger };
  return logger;
}

describe('PgDatabase', () => {
  let db: PgDatabase;
  const table = `dbtest_${process.pid}`;

  before(async () => {
    db = new PgDatabase(testDatabaseUrl(), { poolSize: 1 });
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, big int8, n numeric)`);
  });
  after(async () => {
    await db.close();
  });

  it('runs parameterised queries, keeping int8 and numeric as strings', async () => {
    await db.query(`INSERT INTO ${table} VALUES ($1, $2, $3)`, [1, '9007199254740993', '0.1']);
    const result = await db.query<{ id: number; big: string; n: string }>(
      `SELECT * FROM ${table} WHERE id = $1`,
      [1],
    );
    assert.deepEqual(result.rows, [{ id: 1, big: '9007199254740993', n: '0.1' }]);
    assert.equal(result.rowCount, 1);
  });

  it('commits a transaction and returns its value', async () => {
    const value = await db.transaction(async (client) => {
      await client.query(`INSERT INTO ${table} (id) VALUES (2)`);
      return 'done';
    });
    assert.equal(value, 'done');
    assert.equal((await db.query(`SELECT 1 FROM ${table} WHERE id = 2`)).rowCount, 1);
  });

  it('rolls back, rethrows the same error and releases the client (pool of one)', async () => {
    const boom = new Error('boom');
    await assert.rejects(
      db.transaction(async (client) => {
        await client.query(`INSERT INTO ${table} (id) VALUES (3)`);
        throw boom;
      }),
      (error) => error === boom,
    );
    // A failing statement aborts the transaction; the pg error is rethrown.
    await assert.rejects(
      db.transaction(async (client) => {
        await client.query(`INSERT INTO ${table} (id) VALUES (4)`);
        await client.query(`INSERT INTO ${table} (id) VALUES (4)`);
      }),
      /duplicate key/,
    );
    const left = await db.query(`SELECT id FROM ${table} WHERE id IN (3, 4)`);
    assert.equal(left.rowCount, 0);
    // The pool of one still serves: the client went back in a clean state.
    assert.equal(
      await db.transaction(async (client) => (await client.query('SELECT 1 AS one')).rows[0]?.one),
      1,
    );
  });

  it('a transaction whose backend is terminated between statements fails, without crashing the process', async () => {
    // pg-pool listens to a connection's errors only while it is idle: the held connection's FATAL was an unhandled
    // 'error' event (an uncaught exception: the whole server down) before PgDatabase gave each connection its own.
    const lines: string[] = [];
    const held = new PgDatabase(testDatabaseUrl(), { poolSize: 1, logger: recordingLogger(lines) });
    try {
      const tx = await held.begin();
      const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      assert.ok(pid);
      const terminated = await db.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
      assert.equal(terminated.rows[0]?.ok, true);
      // The FATAL reaches the connection while no statement of its holder is running.
      await waitUntil(() => lines.some((line) => line.includes('terminating connection')), {
        what: () => `the connection's error (logged: ${lines.join('; ')})`,
      });
      await assert.rejects(tx.query('SELECT 1'), /not queryable|terminat/);
      await tx.rollback();
      // The pool (of one) discarded the broken connection and serves on a new one.
      const after = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      assert.notEqual(after.rows[0]?.pid, pid);
    } finally {
      await held.close();
    }
  });

  // The moment of the uncaught "terminating connection due to administrator command" seen once in the NATS /readyz
  // test: the server's reply that completes a connection (or a statement) and the FATAL of its terminated backend
  // came in one read. pg hands the connection over a microtask later, after emitting the FATAL as 'error' on a
  // connection nobody listened to yet. The proxy holds the server's bytes to make that read happen every time.
  const opens: [string, string, (d: PgDatabase) => Promise<pg.Client | Transaction>][] = [
    ['a new dedicated connection, before its owner listens', 'dedicated', (d) => d.connectDedicated()],
    ['a new pooled connection handed to begin()', 'begin', (d) => d.begin()],
  ];
  for (const [what, tag, open] of opens) {
    it(`${what}: ReadyForQuery and a FATAL in one read fail it without crashing the process`, async () => {
      const target = new URL(testDatabaseUrl());
      const proxy = await HoldingProxy.start(target.hostname, Number(target.port || 5432));
      const viaProxy = new URL(target);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const name = `pgrt-fatal-${tag}-${process.pid}`;
      const lines: string[] = [];
      const proxied = new PgDatabase(viaProxy.toString(), {
        poolSize: 1,
        applicationName: name,
        logger: recordingLogger(lines),
      });
      try {
        proxy.hold();
        const opening = open(proxied).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        await waitUntil(() => proxy.serverMessages().includes('Z'), {
          what: () => `the held ReadyForQuery (held: ${proxy.serverMessages().join(' ')})`,
        });
        const ended = await db.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [name],
        );
        assert.equal(ended.rowCount, 1);
        await waitUntil(() => proxy.serverClosed && proxy.serverMessages().at(-1) === 'E', {
          what: () => `the held FATAL (held: ${proxy.serverMessages().join(' ')})`,
        });
        proxy.release();
        const outcome = await opening;
        await waitUntil(() => lines.some((line) => line.includes('terminating connection')), {
          what: () => `the connection's error (logged: ${lines.join('; ')})`,
        });
        if ('value' in outcome && 'end' in outcome.value) {
          // The owner learns it from its first statement.
          await assert.rejects(outcome.value.query('SELECT 1'), /not queryable|terminat/);
          await outcome.value.end().catch(() => {});
        } else {
          assert.ok('error' in outcome, 'begin() on a terminated connection fails');
          assert.match(String(outcome.error), /not queryable|terminat/);
        }
        // The pool (of one) serves again, through the proxy that no longer holds anything.
        const one = await proxied.query<{ one: number }>('SELECT 1 AS one');
        assert.equal(one.rows[0]?.one, 1);
      } finally {
        await proxied.close();
        await proxy.close();
      }
    });
  }

  it('closes idle pooled connections but keeps one open (a storm must not wait for a new connection)', async () => {
    const idleTimeoutMillis = 20;
    const pooled = new PgDatabase(testDatabaseUrl(), { poolSize: 3, idleTimeoutMillis });
    try {
      // Three at once: three connections.
      await Promise.all([1, 2, 3].map(() => pooled.query('SELECT pg_sleep(0.05)')));
      assert.equal(pooled.pooledConnections, 3);
      // A timer made after the three went idle fires after the pool's idle timers of them.
      await new Promise((resolve) => setTimeout(resolve, idleTimeoutMillis));
      assert.equal(pooled.pooledConnections, 1, 'all idle connections but one are closed');
      assert.equal((await pooled.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    } finally {
      await pooled.close();
    }
  });

  it('opens dedicated connections outside the pool, with an application_name', async () => {
    const client = await db.connectDedicated({ applicationName: 'pgrt-test-dedicated' });
    try {
      const result = await client.query<{ name: string }>(
        "SELECT current_setting('application_name') AS name",
      );
      assert.equal(result.rows[0]?.name, 'pgrt-test-dedicated');
      // The pool (size 1) is not taken by it.
      const pooled = await db.query<{ name: string }>("SELECT current_setting('application_name') AS name");
      assert.equal(pooled.rows[0]?.name, 'pgrt');
    } finally {
      await client.end();
    }
  });
});
