/**
 * Losing the LISTEN connection: while writers keep writing, the server's LISTEN backend is terminated
 * (`pg_terminate_backend`). Changes committed in the gap are never notified; the server must reconnect, resync,
 * and bring every client to exactly the table's rows (nothing lost, nothing duplicated), and methods called across
 * the gap must still get their `result` and `updated` (no stalled write fence).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import type { PgrtServer } from '../../server.js';
import { ddpUrl, startPresentations } from '../fixtures/presentations-servers.js';
import { connectTestDatabase, diffStates, selectPresentations } from '../fixtures/presentations-table.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { CLIENT_NAMES, openClient, type ThirdPartyClient } from '../fixtures/third-party-clients.js';
import { sleep, waitUntil } from '../fixtures/wait.js';

/** The server's LISTEN backends on this database (the bus names its connection `pgrt-listen`). */
const LISTENERS_SQL = `
  SELECT pid FROM pg_stat_activity
   WHERE datname = current_database() AND pid <> pg_backend_pid()
     AND (application_name = 'pgrt-listen' OR query ILIKE 'LISTEN%')`;

describe('listener failure: the LISTEN connection is terminated mid-stream', function () {
  this.timeout(60_000);
  let server: PgrtServer | undefined;
  let db: pg.Client | undefined;
  let writerDb: pg.Client | undefined;
  const raws: RawDdpClient[] = [];
  const libraries: ThirdPartyClient[] = [];
  const tag = randomUUID().slice(0, 8);

  before(async () => {
    server = await startPresentations();
    db = await connectTestDatabase();
    writerDb = await connectTestDatabase();
    const url = ddpUrl(server.port);
    for (let i = 0; i < 3; i++) raws.push(await RawDdpClient.connect(url));
    for (const name of CLIENT_NAMES) libraries.push(await openClient(name, url));
    await Promise.all([...raws, ...libraries].map((c) => c.subscribe('presentations')));
  });

  after(async () => {
    await Promise.all(libraries.map((c) => c.close().catch(() => {})));
    await Promise.all(raws.map((c) => c.close()));
    await db?.query('DELETE FROM presentations WHERE title LIKE $1', [`lf ${tag}%`]).catch(() => {});
    await db?.end();
    await writerDb?.end();
    await server?.close();
  });

  async function listenerPids(): Promise<number[]> {
    assert.ok(db);
    const result = await db.query<{ pid: number }>(LISTENERS_SQL);
    return result.rows.map((r) => r.pid);
  }

  /**
   * The backend pid of this server's LISTEN connection, once pg_stat_activity shows it: from the bus when it is the
   * pg bus (other suites' servers may listen on the same database), else the only LISTEN backend of the database.
   */
  async function serverListenerPid(): Promise<number | undefined> {
    const pids = await listenerPids();
    const bus = server?.core.bus;
    if (bus instanceof PgNotificationBus) {
      const pid = bus.listenerPid;
      return pid !== undefined && pids.includes(pid) ? pid : undefined;
    }
    assert.ok(pids.length <= 1, `expected one LISTEN connection, found ${pids.length}`);
    return pids[0];
  }

  /** Terminates the server's LISTEN backend and waits until it listens again on a new one. */
  async function killListener(): Promise<void> {
    assert.ok(db);
    let before: number | undefined;
    await waitUntil(
      async () => {
        before = await serverListenerPid();
        return before !== undefined;
      },
      { what: () => 'the server to have a LISTEN connection' },
    );
    const killed = await db.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [before]);
    assert.equal(killed.rows[0]?.ok, true, 'pg_terminate_backend failed');
    let now: number | undefined;
    await waitUntil(
      async () => {
        now = await serverListenerPid();
        return now !== undefined && now !== before;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 25,
        what: () => `a new LISTEN connection (old ${before}, now ${now})`,
      },
    );
  }

  async function assertConverged(): Promise<void> {
    assert.ok(db);
    const table = await selectPresentations(db);
    const views = [
      ...raws.map((c, i) => ({
        name: `raw #${i + 1}`,
        docs: () => c.view('presentations'),
        violations: c.violations,
      })),
      ...libraries.map((c) => ({ name: c.name, docs: () => c.documents(), violations: c.violations })),
    ];
    for (const view of views) {
      let diffs: string[] = [];
      await waitUntil(
        () => {
          diffs = diffStates(view.docs(), table);
          return diffs.length === 0;
        },
        {
          timeoutMs: 20_000,
          intervalMs: 50,
          what: () => `${view.name} to match the table: ${diffs.join('; ')}`,
        },
      );
      assert.deepEqual(view.violations, [], `${view.name} saw an invalid sequence`);
    }
  }

  /**
   * Resolves once `count()` has grown by `more`: the writes or calls that commit around a kill (some in the gap, some
   * after the new LISTEN connection), however loaded the machine is.
   */
  async function progressed(count: () => number, more: number, what: string): Promise<void> {
    const from = count();
    await waitUntil(() => count() >= from + more, {
      timeoutMs: 20_000,
      what: () => `${more} more ${what} (${count() - from} so far)`,
    });
  }

  it('converges to exactly the table after two listener kills during steady SQL writes', async () => {
    assert.ok(writerDb);
    const writer = writerDb;
    const ids: string[] = [];
    let stop = false;
    let writes = 0;
    const writing = (async () => {
      for (let n = 1; !stop; n++) {
        const id = `lf-${tag}-${n}`;
        await writer.query(
          'INSERT INTO presentations (id, title, subtitle, created_at) VALUES ($1, $2, $3, now())',
          [id, `lf ${tag} ${n}`, n % 2 ? null : 'even'],
        );
        ids.push(id);
        // Updates and deletes of earlier rows too, so a missed change is not only a missing row.
        if (n % 3 === 0)
          await writer.query("UPDATE presentations SET title = title || ' (edited)' WHERE id = $1", [
            ids[n - 2],
          ]);
        if (n % 5 === 0) await writer.query('DELETE FROM presentations WHERE id = $1', [ids[n - 4]]);
        writes++;
        await sleep(10);
      }
    })();
    writing.catch(() => {}); // awaited below; this only keeps an early failure from being reported as unhandled
    try {
      await progressed(() => writes, 10, 'writes');
      await killListener();
      await progressed(() => writes, 10, 'writes');
      await killListener();
      await progressed(() => writes, 10, 'writes');
    } finally {
      stop = true;
      await writing;
    }
    assert.ok(writes > 20, `only ${writes} writes happened`);
    await assertConverged();
  });

  it('methods called across a listener kill still get result and updated, and their rows arrive', async () => {
    const caller = raws[0]!;
    let stop = false;
    let calls = 0;
    const calling = (async () => {
      while (!stop) {
        // RawDdpClient.call waits for both `result` and `updated` (10 s deadline): a stalled fence fails here.
        const outcome = await caller.call('presentations.add', { title: `lf ${tag} method ${++calls}` });
        assert.equal(outcome.error, undefined, `method failed: ${JSON.stringify(outcome.error)}`);
        assert.equal(typeof outcome.result, 'string');
        await sleep(10);
      }
    })();
    calling.catch(() => {}); // awaited below; this only keeps an early failure from being reported as unhandled
    try {
      await progressed(() => calls, 5, 'method calls');
      await killListener();
      await progressed(() => calls, 5, 'method calls');
    } finally {
      stop = true;
      await calling;
    }
    assert.ok(calls > 5, `only ${calls} method calls completed`);
    await assertConverged();
  });
});
