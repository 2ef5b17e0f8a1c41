/**
 * Outbox and logical modes: the process holding the pump is SIGKILLed under load (no graceful close, its connections
 * die with it; in logical mode that includes its replication stream, with transactions decoded and not yet appended
 * or appended and not yet acknowledged to the slot). Server A runs in a child process and wins the pump election
 * (its pump's `application_name` identifies the lock holder in pg_locks); server B runs in this process. While an
 * external writer writes and a client on B calls methods, A is killed: B's pump must take over within seconds and
 * the client on B must end with exactly the table (0 lost, 0 extra, 0 stale, 0 duplicated), with no resync (the
 * outbox is the log) and no crash in B, and the outbox must hold every change once (a logical pump that appended a
 * transaction twice would show there, even where the merge box hides it from clients). The client on A sees its
 * socket close. Against a PRIVATE embedded PostgreSQL with `wal_level=logical`. (test/wire/outbox-failover.test.ts
 * covers the in-process variants: the pump's connection terminated, the pump's core closed.) Notify mode has no
 * pump: killing a process there only drops its own clients, which rolling-restart tests cover. On the NATS bus
 * (capture outbox) the killed process also held the relay: this process's relay continues after the stream's last
 * message, and its consumers must see every change once, without resync.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { NatsChangeBus } from '../../core/bus/nats/nats-change-bus.js';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import { PUMP_LOCK_KEY } from '../../core/capture/outbox-pump.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import {
  awaitConvergence,
  CrashWatch,
  ExternalWriter,
  type FaultChild,
  spawnFaultServer,
} from '../fixtures/fault-harness.js';
import { deleteStream, testNatsUrl, testStreamName } from '../fixtures/nats.js';
import { ddpUrl } from '../fixtures/presentations-servers.js';
import { PrivatePostgres } from '../fixtures/private-postgres.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { sleep, waitUntil } from '../fixtures/wait.js';

/** `application_name` of the session holding the pump's advisory lock, if any. */
const PUMP_HOLDER_SQL = `
  SELECT a.application_name AS name
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
   WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND ((l.classid::int8 << 32) | l.objid::int8) = $1::int8`;

const VARIANTS = [
  { capture: 'outbox', bus: 'postgres' },
  { capture: 'logical', bus: 'postgres' },
  { capture: 'outbox', bus: 'nats' },
  { capture: 'logical', bus: 'nats' },
] as const;

for (const { capture, bus: busName } of VARIANTS) {
  describe(`faults: the ${capture} pump process is SIGKILLed under load (${busName} bus)`, function () {
    this.timeout(60_000);
    let db: PrivatePostgres;
    let admin: pg.Client;
    let child: FaultChild | undefined;
    let server: PgrtServer | undefined;
    const clients: RawDdpClient[] = [];
    const watch = new CrashWatch();
    const nats = busName === 'nats' ? { url: testNatsUrl(), stream: testStreamName() } : undefined;

    before(async () => {
      watch.install();
      db = await PrivatePostgres.create();
      admin = new pg.Client(db.url);
      await admin.connect();
    });

    after(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await child?.kill();
      await server?.close().catch(() => {});
      await admin?.end().catch(() => {});
      await db?.destroy();
      if (nats) await deleteStream(nats.url, nats.stream);
      watch.uninstall();
    });

    async function pumpHolder(): Promise<string | undefined> {
      const result = await admin.query<{ name: string }>(PUMP_HOLDER_SQL, [PUMP_LOCK_KEY]);
      return result.rows[0]?.name;
    }

    /** Logical mode: the backend streaming the capture slot (the leader's walsender), if any. */
    async function streamingPid(): Promise<number | undefined> {
      const result = await admin.query<{ pid: number }>(
        `SELECT active_pid AS pid FROM pg_replication_slots
          WHERE slot_name = (SELECT 'pgrt_' || oid FROM pg_database WHERE datname = current_database()) AND active`,
      );
      return result.rows[0]?.pid;
    }

    it('another process takes over within seconds; nothing lost or duplicated, no resync, no crash', async () => {
      child = await spawnFaultServer(db.url, capture, undefined, nats);
      const pumpName = child.pumpName;
      await waitUntil(async () => (await pumpHolder()) === pumpName, { what: () => 'the child to pump' });
      server = await createServer({
        app: presentationsApp(),
        protocols: [ddp()],
        port: 0,
        host: '127.0.0.1',
        databaseUrl: db.url,
        migrate: migratePresentations,
        capture,
        outboxPump: { electionIntervalMs: 300 },
        ...(nats ? { bus: 'nats' as const, natsUrl: nats.url, natsStream: nats.stream } : {}),
      });
      const b = server;
      assert.equal(b.core.outboxPump?.leading, false, 'the child leads, not this process');
      const bus = b.core.bus;
      assert.ok(nats ? bus instanceof NatsChangeBus : bus instanceof PgNotificationBus);
      let resyncs = 0;
      bus.subscribe((event) => {
        if (event.kind === 'resync') resyncs++;
      });
      const onA = await RawDdpClient.connect(ddpUrl(child.port));
      const onB = await RawDdpClient.connect(ddpUrl(b.port));
      clients.push(onA, onB);
      await Promise.all([onA.subscribe('presentations'), onB.subscribe('presentations')]);

      const writer = new ExternalWriter(db.url, 'pk').start();
      let stop = false;
      let calls = 0;
      const calling = (async () => {
        while (!stop) {
          // call() waits for result AND updated: a fence stranded with the dead pump would fail here.
          const outcome = await onB.call('presentations.add', { title: `pk method ${++calls}` });
          assert.equal(outcome.error, undefined, `method failed: ${JSON.stringify(outcome.error)}`);
          await sleep(10);
        }
      })();
      calling.catch(() => {}); // awaited below
      let takeoverMs = 0;
      let childStream: number | undefined;
      try {
        await waitUntil(() => writer.stats.ok > 30 && calls > 5, {
          timeoutMs: 20_000,
          what: () => `writes ${writer.stats.ok}, calls ${calls} before the kill`,
        });
        if (capture === 'logical') {
          childStream = await streamingPid();
          assert.ok(childStream !== undefined, "the child's pump streams the slot when it is killed");
        }
        await child.kill('SIGKILL');
        const killed = Date.now();
        await waitUntil(() => b.core.outboxPump?.leading === true, {
          timeoutMs: 10_000,
          what: () => "this process's pump to take over",
        });
        takeoverMs = Date.now() - killed;
        if (capture === 'logical') {
          // The slot is released when the child's walsender exits; this process's pump then streams it.
          await waitUntil(async () => ((await streamingPid()) ?? childStream) !== childStream, {
            what: () => "this process's pump to stream the slot",
          });
        }
        // Load on the new pump too (a loaded machine runs fewer calls in a fixed time: wait on counts instead).
        const [writesAtTakeover, callsAtTakeover] = [writer.stats.ok, calls];
        await waitUntil(() => writer.stats.ok > writesAtTakeover + 30 && calls > callsAtTakeover + 5, {
          timeoutMs: 20_000,
          what: () => `writes ${writer.stats.ok}, calls ${calls} after the takeover`,
        });
      } finally {
        stop = true;
        await calling;
        await writer.stop();
      }
      assert.ok(takeoverMs < 5000, `taken over within seconds (${takeoverMs} ms)`);
      assert.ok(writer.stats.ok > 50 && calls > 10, `writes ${writer.stats.ok}, calls ${calls}`);
      await onA.closed; // A's clients lose their socket (they would reconnect to B)
      const { audits } = await awaitConvergence(db.url, [onB]);
      const audit = audits[0]!;
      assert.deepEqual(
        { lost: audit.lost, extra: audit.extra, stale: audit.stale, duplicated: audit.duplicated },
        { lost: 0, extra: 0, stale: 0, duplicated: 0 },
        audit.examples.join('; '),
      );
      assert.equal(resyncs, 0, 'no resync: the outbox carried every change across the takeover');
      // Every statement of the writer and every method is its own transaction: a payload (which names its
      // transaction) found twice was appended twice.
      const repeated = await admin.query<{ payload: string; n: number }>(
        'SELECT payload, count(*)::int AS n FROM pgrt.outbox GROUP BY payload HAVING count(*) > 1 LIMIT 3',
      );
      assert.deepEqual(repeated.rows, [], 'every change appended to the outbox once');
      assert.equal(await pumpHolder(), 'pgrt-pump', "this process's pump holds the lock");
      assert.deepEqual(watch.crashes, []);
    });
  });
}
