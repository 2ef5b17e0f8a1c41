/**
 * pgrt behind a real HAProxy running the shipped examples/deploy/haproxy.cfg, three pgrt processes
 * (test/fixtures/deploy-cluster.ts): SockJS xhr-polling sessions stay on the process that holds them (the stick
 * table keyed on the session id in the path), and a SIGTERM'd process leaves in the right order — `/readyz` 503,
 * HAProxy marks it DOWN, only then are its clients closed (1001) — so no new connection through the balancer
 * fails at any moment while other processes are ready.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import WebSocket from 'ws';
import { auditClient, type DeployClient, openDeployClient } from '../fixtures/deploy-clients.js';
import { DeployCluster } from '../fixtures/deploy-cluster.js';
import { selectPresentations } from '../fixtures/presentations-table.js';
import { sleep, waitUntil } from '../fixtures/wait.js';
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

  async function converged(of: readonly DeployClient[]): Promise<void> {
    let problems: string[] = [];
    await waitUntil(
      async () => {
        const table = await selectPresentations(db!);
        problems = of.flatMap((c, i) => {
          const audit = auditClient(c.view(), table);
          return audit.lost + audit.extra + audit.stale > 0
            ? [`${c.kind}#${i}: ${audit.examples.join('; ')}`]
            : [];
        });
        return problems.length === 0;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 100,
        what: () => `clients to hold the table: ${problems.join(' | ')}`,
      },
    );
  }

  it('keeps each SockJS xhr-polling session on one process (stick table on the session id)', async () => {
    const polling = await Promise.all(
      Array.from({ length: 6 }, () => openDeployClient('sockjs-xhr', cluster!.proxy.url())),
    );
    clients.push(...polling);
    for (let n = 0; n < 10; n++)
      await db!.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [
        `sticky-${process.pid}-${n}`,
        `poll ${n}`,
      ]);
    await db!.query("UPDATE presentations SET title = title || ' (edited)' WHERE id LIKE $1", [
      `sticky-${process.pid}-%`,
    ]);
    await converged(polling);
    const table = await cluster!.proxy.stickTable();
    assert.ok(table.size >= polling.length, `one stick entry per session: ${JSON.stringify([...table])}`);
    const servers = new Set(table.values());
    assert.ok(servers.size >= 2, `sessions balanced over several processes: ${JSON.stringify([...table])}`);
    for (const client of polling) {
      assert.deepEqual(client.closeCodes, [], 'no session was lost to a request on the wrong process');
      assert.deepEqual(client.failedAttempts, [], 'no session failed to open');
      assert.deepEqual(client.violations, []);
    }
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
    const events: string[] = [];
    const note = (event: string) => {
      if (!events.includes(event)) events.push(event);
    };
    const failures: string[] = [];
    let probes = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const status = (await proxy.servers()).find((s) => s.name === draining.name)?.status ?? '?';
        if (status.startsWith('DOWN')) note('haproxy DOWN');
        const readyz = await fetch(`http://127.0.0.1:${draining.port}/readyz`).then(
          (r) => r.status,
          () => 'refused',
        );
        if (readyz === 503) note('readyz 503');
        if (connected.some((c) => c.closeCodes.length > 0)) note('clients closed');
        await sleep(20);
      }
    })();
    const prober = async () => {
      while (watching) {
        probes++;
        const outcome = await ddpConnect(proxy.wsUrl('/websocket'));
        if (outcome !== 'connected') failures.push(`${events.join(' > ') || 'start'}: ${outcome}`);
        const info = await fetch(proxy.url('/sockjs/info')).then(
          (r) => `${r.status}`,
          (e: unknown) => String(e),
        );
        if (info !== '200') failures.push(`${events.join(' > ') || 'start'}: /sockjs/info ${info}`);
      }
    };
    const probing = Promise.all([prober(), prober()]);

    await draining.child.signal('SIGTERM');
    // The closes and the exit may fall within one turn of the watcher.
    if (connected.some((c) => c.closeCodes.length > 0)) note('clients closed');
    note('exited');
    watching = false;
    await Promise.all([watcher, probing]);

    assert.deepEqual(failures, [], `new connections through HAProxy during the drain (${probes} probes)`);
    assert.deepEqual(
      events,
      ['readyz 503', 'haproxy DOWN', 'clients closed', 'exited'],
      'the process leaves rotation before it closes its clients',
    );
    const moved = connected.filter((c) => c.closeCodes.length > 0);
    assert.ok(moved.length > 0, 'the stopped process had clients');
    for (const client of moved) assert.deepEqual(client.closeCodes, ['1001']);
    await waitUntil(() => connected.every((c) => c.ready), { what: () => 'every client reconnected' });
    await db!.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [
      `drained-${process.pid}`,
      'after',
    ]);
    await converged(connected);
    for (const client of connected) assert.deepEqual(client.violations, []);
  });
});

/** Opens a raw DDP socket and does `connect`: 'connected', or what went wrong (HTTP status, refusal, close). */
async function ddpConnect(url: string): Promise<string> {
  return await new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const done = (outcome: string) => {
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      resolve(outcome);
    };
    ws.once('open', () => ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] })));
    ws.on('message', (data: WebSocket.RawData) => {
      if (String(data).includes('"connected"')) done('connected');
    });
    ws.once('unexpected-response', (_request, response) => done(`HTTP ${response.statusCode}`));
    ws.once('error', (error) => done(`error ${error.message}`));
    ws.once('close', (code) => done(`closed ${code}`));
  });
}
