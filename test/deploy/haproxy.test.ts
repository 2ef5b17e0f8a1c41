/**
 * pgrt behind a real HAProxy running the shipped examples/deploy/haproxy.cfg, three pgrt processes
 * (test/fixtures/deploy-cluster.ts): SockJS xhr-polling sessions stay on the process that holds them (the stick
 * table keyed on the session id in the path), and a SIGTERM'd process leaves in the right order — `/readyz` 503,
 * HAProxy marks it DOWN, only then are its clients closed (1001) — so no new connection through the balancer
 * fails at any moment while other processes are ready.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  assertMovedAndConverged,
  assertUntroubled,
  drainWhileProbing,
  pollingClientsUnderWrites,
} from '../fixtures/balancer-checks.js';
import { type DeployClient, openDeployClient } from '../fixtures/deploy-clients.js';
import { DeployCluster } from '../fixtures/deploy-cluster.js';
import { testDatabaseUrl } from '../support/database.js';

/** Longer than HAProxy's check interval × fall (2 s) with room for a loaded 2-core machine. */
const DRAIN_DELAY_MS = 4500;

describe('behind HAProxy (examples/deploy/haproxy.cfg)', function () {
  this.timeout(90_000);
  let cluster: DeployCluster | undefined;
  let db: pg.Client | undefined;
  const clients: DeployClient[] = [];

  before(async () => {
    cluster = await DeployCluster.start({ databaseUrl: testDatabaseUrl(), drainDelayMs: DRAIN_DELAY_MS });
    db = new pg.Client(testDatabaseUrl());
    await db.connect();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
    await db?.end();
  });

  it('keeps each SockJS xhr-polling session on one process (stick table on the session id)', async () => {
    const polling = await pollingClientsUnderWrites(db!, cluster!.proxy, 6, `sticky-${process.pid}`);
    clients.push(...polling);
    const table = await cluster!.proxy.stickTable();
    assert.ok(table.size >= polling.length, `one stick entry per session: ${JSON.stringify([...table])}`);
    const servers = new Set(table.values());
    assert.ok(servers.size >= 2, `sessions balanced over several processes: ${JSON.stringify([...table])}`);
    assertUntroubled(polling);
    await Promise.all(polling.map((c) => c.close()));
  });

  it('on SIGTERM: /readyz 503, HAProxy marks it DOWN, then its clients close; no new connection fails', async () => {
    const proxy = cluster!.proxy;
    const connected = await Promise.all(
      Array.from({ length: 6 }, () => openDeployClient('ddp', proxy.url())),
    );
    clients.push(...connected);
    // Drain the process that holds the most of these clients (leastconn spreads them).
    const stats = await proxy.servers();
    const busiest = stats.reduce((a, b) => (b.current > a.current ? b : a));
    const draining = cluster!.members.find((m) => m.name === busiest.name)!;
    const { events, failures, probes } = await drainWhileProbing({
      balancer: proxy,
      member: draining,
      clients: connected,
      balancerEvent: async () => {
        const status = (await proxy.servers()).find((s) => s.name === draining.name)?.status ?? '?';
        return status.startsWith('DOWN') ? 'haproxy DOWN' : undefined;
      },
    });
    assert.deepEqual(failures, [], `new connections through HAProxy during the drain (${probes} probes)`);
    assert.deepEqual(
      events,
      ['readyz 503', 'haproxy DOWN', 'clients closed', 'exited'],
      'the process leaves rotation before it closes its clients',
    );
    await assertMovedAndConverged(db!, connected, `drained-${process.pid}`);
  });
});
