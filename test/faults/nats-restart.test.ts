/**
 * The NATS bus across a NATS server restart under writes: a PRIVATE nats-server (test/fixtures/nats.ts) is stopped
 * while an external writer keeps inserting, updating and deleting, and started again on the same port and store.
 * The relay keeps the outbox rows until it can publish them; each process's consumers resume after the last message
 * they delivered (no resync: the stream kept everything). The session must end with exactly the table once a method's
 * write fence passed, the bus must be ready again, and the stream must hold each change once.
 */
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { App } from '../../core/app.js';
import type { BusEvent } from '../../core/bus/change-bus.js';
import { PrivateNats, testStreamName } from '../fixtures/nats.js';
import { sleep, waitUntil } from '../fixtures/wait.js';
import { startTestCore, type TestCore } from '../support/core.js';
import { testDatabaseUrl } from '../support/database.js';

describe('faults: the NATS server restarts under writes (bus nats, capture outbox)', function () {
  this.timeout(60_000);
  const table = `nats_restart_${process.pid}`;
  const stream = testStreamName();
  let nats: PrivateNats;
  let t: TestCore;
  let writer: pg.Client;
  const events: BusEvent[] = [];

  before(async () => {
    nats = await PrivateNats.create();
    const app = new App()
      .collection('rows', { table })
      .publish('rows', (ctx) => ctx.find('rows'))
      .method('touch', async (ctx) => ctx.update('rows', 'r1', { v: -1 }));
    t = await startTestCore(
      app,
      async (db) => {
        await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, v int NOT NULL)`);
        await db.query(`INSERT INTO ${table} VALUES ('r1', 0)`);
      },
      undefined,
      {
        capture: 'outbox',
        nats: { url: nats.url, stream },
        outboxPump: { electionIntervalMs: 200 },
      },
    );
    t.core.bus.subscribe((event) => events.push(event));
    writer = new pg.Client(testDatabaseUrl());
    await writer.connect();
  });

  after(async () => {
    await writer?.end().catch(() => {});
    await t?.close();
    await nats?.destroy();
  });

  it('loses and duplicates nothing, needs no resync, and is ready again', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'rows', []);
    await out.waitFor((m) => m.msg === 'ready');
    let stop = false;
    let writes = 0;
    let changed = 0;
    const writing = (async () => {
      for (let n = 1; !stop; n++) {
        const id = `r${1 + (n % 40)}`;
        const result =
          n % 7 === 0
            ? await writer.query(`DELETE FROM ${table} WHERE id = $1`, [id])
            : await writer.query(
                `INSERT INTO ${table} VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v`,
                [id, n],
              );
        writes++;
        changed += result.rowCount ?? 0;
        await sleep(2);
      }
    })();
    writing.catch(() => {}); // awaited below
    try {
      await waitUntil(() => events.length > 20, { what: () => 'changes before the restart' });
      await nats.stop();
      await waitUntil(() => !t.core.bus.connected, { what: () => 'the bus to see NATS down' });
      const during = writes;
      await waitUntil(() => writes > during + 50, { what: () => 'writes while NATS is down' });
      await nats.start();
      await waitUntil(() => t.core.bus.connected, { timeoutMs: 15_000, what: () => 'the bus to reconnect' });
      const after = writes;
      await waitUntil(() => writes > after + 50, { what: () => 'writes after the restart' });
    } finally {
      stop = true;
      await writing;
    }
    await t.call(session, out, 'touch');
    const rows = await t.db.query<{ id: string; v: number }>(`SELECT id, v FROM ${table}`);
    assert.deepEqual(out.collection('rows'), Object.fromEntries(rows.rows.map((r) => [r.id, { v: r.v }])));
    assert.deepEqual(out.violations, []);
    assert.equal(
      events.filter((e) => e.kind === 'resync').length,
      0,
      'no resync: the stream kept everything',
    );
    const changes = events.filter((e) => e.kind === 'change').length;
    assert.equal(changes, changed + 1, 'every change and the method reached the bus exactly once');
    // The stream holds each change of this channel once (the relay's retries were deduplicated or never doubled).
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(stream, { subjects_filter: '>' });
      const ours = Object.entries(info.state.subjects ?? {})
        .filter(([subject]) => subject.startsWith(`${stream}.${t.core.channel}.`))
        .reduce((sum, [, count]) => sum + count, 0);
      assert.equal(ours, changed + 1 + 1, 'the changes, the method’s change and its fence');
    } finally {
      await nc.close();
    }
    session.close();
  });
});
