/**
 * Outbox mode under faults, through cores sharing one database and channel: the pump's connection is terminated
 * and then the pump's whole core is stopped while writes continue (another core's pump takes over, nothing is lost
 * or duplicated); and a core's LISTEN backend is terminated twice while writes and method calls continue (its bus
 * replays the gap from the outbox, never resyncs, and every view converges). The takeover also on the NATS bus,
 * whose relay moves with the pump (the new one continues after the stream's last message).
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { App } from '../../core/app.js';
import type { BusEvent } from '../../core/bus/change-bus.js';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import type { CoreOptions } from '../../core/realtime-core.js';
import { deleteStream, testNatsUrl, testStreamName } from '../fixtures/nats.js';
import { sleep, waitUntil } from '../fixtures/wait.js';
import { startTestCore, type TestCore } from '../support/core.js';
import { testDatabaseUrl } from '../support/database.js';

function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  return waitUntil(condition, { what: () => what });
}

const OPTIONS: Omit<CoreOptions, 'channel'> = {
  capture: 'outbox',
  outboxPump: { electionIntervalMs: 300 },
};

let counter = 0;

describe('outbox mode: pump failover and LISTEN replay', function () {
  this.timeout(30_000);
  let table: string;
  let channel: string;
  const cores: TestCore[] = [];
  let admin: pg.Client;
  let writer: pg.Client;

  const app = () =>
    new App()
      .collection('items', { table })
      .publish('items', (ctx) => ctx.find('items'))
      .method('add', async (ctx, n: unknown) => ctx.insert('items', { n: Number(n), by: 'method' }));

  /** `nats`: on the NATS bus (that server and stream) instead of LISTEN/NOTIFY. */
  async function start(nats?: { readonly url: string; readonly stream: string }): Promise<TestCore> {
    const core = await startTestCore(
      app(),
      async (db) => {
        await db.query(`CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, n int NOT NULL, by text)`);
      },
      channel,
      { ...OPTIONS, ...(nats ? { nats } : {}) },
    );
    cores.push(core);
    return core;
  }

  beforeEach(async () => {
    table = `outbox_fo_${process.pid}_${++counter}`;
    channel = `${table}_ch`;
    admin = new pg.Client(testDatabaseUrl());
    await admin.connect();
    writer = new pg.Client(testDatabaseUrl());
    await writer.connect();
  });

  afterEach(async () => {
    await Promise.all(cores.splice(0).map((c) => c.close().catch(() => {})));
    await writer.end().catch(() => {});
    await admin.end().catch(() => {});
  });

  /** Writes until `stopped()`; `progress.n` counts the writes so far. */
  function writeUntil(stopped: () => boolean, progress = { n: 0 }): Promise<number> {
    return (async () => {
      let n = 0;
      while (!stopped()) {
        n++;
        progress.n = n;
        await writer.query(`INSERT INTO ${table} (id, n, by) VALUES ($1, $2, 'sql')`, [`w${n}`, n]);
        if (n % 3 === 0) await writer.query(`UPDATE ${table} SET n = -n WHERE id = $1`, [`w${n - 1}`]);
        await sleep(3);
      }
      return n;
    })();
  }

  async function assertConverged(core: TestCore, out: ReturnType<TestCore['session']>['out']): Promise<void> {
    const rows = await core.db.query<{ id: string; n: number; by: string }>(`SELECT id, n, by FROM ${table}`);
    const expected = Object.fromEntries(rows.rows.map((r) => [r.id, { n: r.n, by: r.by }]));
    await until(
      () => JSON.stringify(sortKeys(out.collection('items'))) === JSON.stringify(sortKeys(expected)),
      'the view to equal the table',
    );
    assert.deepEqual(out.violations, []);
  }

  for (const busName of ['postgres', 'nats'] as const) {
    it(`another core takes the pump over (connection killed, then core stopped); nothing lost (${busName} bus)`, async () => {
      const nats = busName === 'nats' ? { url: testNatsUrl(), stream: testStreamName() } : undefined;
      try {
        await takeover(nats);
      } finally {
        if (nats) await deleteStream(nats.url, nats.stream);
      }
    });
  }

  async function takeover(
    nats: { readonly url: string; readonly stream: string } | undefined,
  ): Promise<void> {
    const a = await start(nats);
    const b = await start(nats);
    const pumps = () => [a.core.outboxPump, b.core.outboxPump];
    await until(() => pumps().some((p) => p?.leading), 'a pump to lead');
    const events: BusEvent[] = [];
    b.core.bus.subscribe((e) => events.push(e));
    const { session, out } = b.session();
    await session.subscribe('s', 'items', []);
    await out.waitFor((m) => m.msg === 'ready');

    let stop = false;
    const progress = { n: 0 };
    const writing = writeUntil(() => stop, progress);
    // Writes go on through each phase: wait for 20 more rather than a fixed time (the machine may be loaded).
    const moreWrites = async (): Promise<void> => {
      const from = progress.n;
      await until(() => progress.n >= from + 20, '20 more writes');
    };
    writing.catch(() => {}); // awaited below
    let written = 0;
    try {
      await moreWrites();
      // 1. Kill the leading pump's connection: its lock goes with it.
      const leader = pumps().find((p) => p?.leading);
      assert.ok(leader?.backendPid);
      await admin.query('SELECT pg_terminate_backend($1)', [leader.backendPid]);
      const killed = Date.now();
      await until(() => pumps().some((p) => p?.leading), 'a new pump');
      assert.ok(Date.now() - killed < 5000, 'taken over within seconds');
      await moreWrites();
      // 2. Stop the core whose pump leads now (if it is b, stop a's pump instead: b's session must survive).
      if (a.core.outboxPump?.leading) {
        await a.close();
        cores.splice(cores.indexOf(a), 1);
      } else {
        await admin.query('SELECT pg_terminate_backend($1)', [b.core.outboxPump?.backendPid]);
        await a.close();
        cores.splice(cores.indexOf(a), 1);
      }
      const stopped = Date.now();
      await until(() => b.core.outboxPump?.leading === true, "b's pump to lead");
      assert.ok(Date.now() - stopped < 5000, 'taken over within seconds');
      await moreWrites();
    } finally {
      stop = true;
      written = await writing;
    }
    assert.ok(written >= 60, `only ${written} writes`);
    await b.call(session, out, 'add', 0);
    await assertConverged(b, out);
    const sqlRows = Object.values(out.collection('items')).filter((d) => d.by === 'sql').length;
    assert.equal(sqlRows, written);
    assert.equal(events.filter((e) => e.kind === 'resync').length, 0, 'no resync');
    session.close();
  }

  it('a terminated LISTEN backend replays the gap from the outbox: no resync, methods fenced, converged', async () => {
    const c = await start();
    await until(() => c.core.outboxPump?.leading === true, 'the pump');
    const bus = c.core.bus;
    assert.ok(bus instanceof PgNotificationBus);
    const events: BusEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const { session, out } = c.session();
    await session.subscribe('s', 'items', []);
    await out.waitFor((m) => m.msg === 'ready');

    let stop = false;
    const progress = { n: 0 };
    const writing = writeUntil(() => stop, progress);
    writing.catch(() => {}); // awaited below
    let calls = 0;
    // Writes and calls go on around each kill: wait for some more of both rather than a fixed time.
    const more = async (): Promise<void> => {
      const [writes, called] = [progress.n, calls];
      await until(() => progress.n >= writes + 10 && calls >= called + 2, '10 more writes and 2 more calls');
    };
    const calling = (async () => {
      while (!stop) {
        // t.call waits for result AND updated (10 s): a fence lost in the gap fails here.
        await c.call(session, out, 'add', ++calls);
        await sleep(5);
      }
    })();
    calling.catch(() => {}); // awaited below
    try {
      for (let kill = 0; kill < 2; kill++) {
        await more();
        const pid = bus.listenerPid;
        assert.ok(pid);
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await until(
          () => bus.listenerPid !== undefined && bus.listenerPid !== pid,
          'a new LISTEN connection',
        );
      }
      await more();
    } finally {
      stop = true;
      await writing;
      await calling;
    }
    assert.ok(calls > 5, `only ${calls} calls`);
    await c.call(session, out, 'add', 0);
    await assertConverged(c, out);
    assert.equal(events.filter((e) => e.kind === 'resync').length, 0, 'no resync');
    assert.equal(bus.replays, 2, 'two gaps replayed');
    session.close();
  });
});

function sortKeys(docs: Record<string, Record<string, unknown>>): Array<[string, Record<string, unknown>]> {
  return Object.entries(docs).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}
