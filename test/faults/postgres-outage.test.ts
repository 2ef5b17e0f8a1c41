/**
 * PostgreSQL restarted under load, and PostgreSQL unreachable for a few seconds, in the `notify` and `outbox` capture
 * modes, and the restart in `logical` mode too (whose pump also loses its replication stream and must resume it from
 * the slot), against a PRIVATE embedded PostgreSQL with `wal_level=logical` (stopping it disturbs no other suite). While an external writer keeps inserting,
 * updating and deleting through its own reconnecting pool, the server's database is stopped (fast shutdown: every
 * session terminated), left down, and started again on the same port and data folder. Asserted:
 * - the server never crashes (no unhandled rejection or uncaught exception in this process, which hosts it);
 * - `/readyz` answers 503 while the database is down (the LISTEN connection, or the NATS bus's database probe) and
 *   200 once it is back;
 * - a method called during the outage gets an error `result` and its `updated` (no hang), and one called after
 *   recovery succeeds;
 * - raw DDP clients, which record every message, end with exactly the table: 0 lost, 0 extra, 0 stale, 0 duplicated.
 * The long version with repeated faults is `bench/faults.ts`. The NATS bus (outbox capture, restart only) holds the
 * same: its bus stays up, and its database probe turns `/readyz` to 503 (the pump's relay waits for the database;
 * the consumers resume nothing, they never stopped).
 */
import assert from 'node:assert/strict';
import { NatsChangeBus } from '../../core/bus/nats/nats-change-bus.js';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { awaitConvergence, CrashWatch, ExternalWriter, readyz } from '../fixtures/fault-harness.js';
import { deleteStream, testNatsUrl, testStreamName } from '../fixtures/nats.js';
import { ddpUrl } from '../fixtures/presentations-servers.js';
import { PrivatePostgres } from '../fixtures/private-postgres.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { sleep, waitUntil } from '../fixtures/wait.js';

/** How long the "unreachable" case keeps the database down (the bench runs 10 s). */
const OUTAGE_MS = 3000;

const VARIANTS = [
  { capture: 'notify', bus: 'postgres' },
  { capture: 'outbox', bus: 'postgres' },
  { capture: 'logical', bus: 'postgres' },
  { capture: 'outbox', bus: 'nats' },
] as const;

for (const { capture, bus: busName } of VARIANTS) {
  describe(`faults: PostgreSQL restarted / unreachable under load (${capture} mode, ${busName} bus)`, function () {
    this.timeout(60_000);
    let pg: PrivatePostgres;
    let server: PgrtServer;
    const clients: RawDdpClient[] = [];
    const watch = new CrashWatch();
    const nats = busName === 'nats' ? { url: testNatsUrl(), stream: testStreamName() } : undefined;

    before(async () => {
      watch.install();
      pg = await PrivatePostgres.create();
      server = await createServer({
        app: presentationsApp(),
        protocols: [ddp()],
        port: 0,
        host: '127.0.0.1',
        databaseUrl: pg.url,
        migrate: migratePresentations,
        capture,
        outboxPump: { electionIntervalMs: 300 },
        databaseProbeIntervalMs: 200,
        ...(nats ? { bus: 'nats' as const, natsUrl: nats.url, natsStream: nats.stream } : {}),
      });
      for (let i = 0; i < 2; i++) {
        const client = await RawDdpClient.connect(ddpUrl(server.port));
        await client.subscribe('presentations');
        clients.push(client);
      }
    });

    after(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await server?.close().catch(() => {});
      await pg?.destroy();
      if (nats) await deleteStream(nats.url, nats.stream);
      watch.uninstall();
    });

    /** Stops the database for `downMs` under load and checks everything the header lists. */
    async function outage(tag: string, downMs: number): Promise<void> {
      const bus = server.core.bus;
      assert.ok(nats ? bus instanceof NatsChangeBus : bus instanceof PgNotificationBus);
      let resyncs = 0;
      const unsubscribe = bus.subscribe((event) => {
        if (event.kind === 'resync') resyncs++;
      });
      const replaysBefore = bus instanceof PgNotificationBus ? bus.replays : 0;
      const writer = new ExternalWriter(pg.url, `${capture}-${tag}`).start();
      const caller = clients[0]!;
      try {
        await sleep(300);
        assert.equal(await readyz(server.port), 200, 'ready before the fault');
        await pg.stop();
        await waitUntil(async () => (await readyz(server.port)) === 503, { what: () => '/readyz 503' });
        // A method during the outage: an error result and its updated, promptly.
        const started = Date.now();
        const during = await caller.call('presentations.add', { title: `${tag} during outage` });
        assert.ok(during.error, `expected an error during the outage, got ${JSON.stringify(during)}`);
        assert.ok(Date.now() - started < 5000, 'the failing method answered within 5 s');
        await sleep(Math.max(0, downMs - (Date.now() - started)));
        await pg.start();
        await waitUntil(async () => (await readyz(server.port)) === 200, {
          timeoutMs: 15_000,
          what: () => '/readyz 200 after the restart',
        });
        const after = await caller.call('presentations.add', { title: `${tag} after recovery` });
        assert.equal(after.error, undefined, `method after recovery failed: ${JSON.stringify(after.error)}`);
        // The external writer's inserts succeed again too (a condition, not a count reached in a fixed time: on a
        // loaded machine 30 writes took longer than the test's own steps).
        const okAtRecovery = writer.stats.ok;
        await waitUntil(() => writer.stats.ok >= okAtRecovery + 10, {
          timeoutMs: 20_000,
          what: () => `10 writes after the recovery (${writer.stats.ok - okAtRecovery})`,
        });
      } finally {
        await writer.stop();
        unsubscribe();
      }
      const { audits } = await awaitConvergence(pg.url, clients);
      for (const [i, audit] of audits.entries()) {
        assert.deepEqual(
          { lost: audit.lost, extra: audit.extra, stale: audit.stale, duplicated: audit.duplicated },
          { lost: 0, extra: 0, stale: 0, duplicated: 0 },
          `client ${i + 1}: ${audit.examples.join('; ')} ${clients[i]!.violations.slice(0, 3).join('; ')}`,
        );
      }
      assert.deepEqual(watch.crashes, [], 'no unhandled rejection or uncaught exception');
      if (bus instanceof NatsChangeBus) {
        // The consumers never lost NATS; the relay continued from the stream once the database was back.
        assert.equal(resyncs, 0, 'no resync on the NATS bus');
      } else if (capture !== 'notify') {
        // The outbox survives the restart (and the slot, in logical mode): the gap is replayed, never re-queried.
        assert.equal(resyncs, 0, `no resync in ${capture} mode`);
        assert.equal(
          bus instanceof PgNotificationBus ? bus.replays : -1,
          replaysBefore + 1,
          'the gap was replayed once',
        );
      } else {
        assert.equal(resyncs, 1, 'one resync (notify mode cannot replay)');
      }
    }

    it(`restart under load: 503 during, 200 after, methods error then work, clients converge`, async () => {
      await outage('restart', 0);
    });

    // Logical mode and the NATS bus run the restart only: down for longer takes the same recovery path, and the
    // suite stays short.
    if (capture !== 'logical' && !nats) {
      it(`database unreachable for ${OUTAGE_MS / 1000} s under load: same`, async () => {
        await outage('down', OUTAGE_MS);
      });
    }
  });
}
