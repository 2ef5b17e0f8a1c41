/**
 * The drain delay (`drainDelayMs`, Kubernetes' preStop pattern): once `close()` starts, `/readyz` answers 503
 * "draining" while the process keeps serving — its clients still get changes, a new connection is accepted and
 * works — so a load balancer takes it out of rotation before anything is refused; only after the delay are the
 * clients told to go away (1001) and new upgrades refused (503).
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import WebSocket from 'ws';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { ddpUrl } from '../fixtures/presentations-servers.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

/** Long enough for the steps below on a loaded 2-core machine; the test never waits it out idly. */
const DRAIN_DELAY_MS = 3000;

describe('drain delay before connections close', function () {
  this.timeout(30_000);
  let server: PgrtServer | undefined;
  let pool: pg.Pool | undefined;

  after(async () => {
    await server?.close();
    await pool?.end();
  });

  it('keeps serving with /readyz 503 for drainDelayMs, then closes clients and refuses upgrades', async () => {
    server = await createServer({
      app: presentationsApp(),
      protocols: [ddp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migratePresentations,
      drainDelayMs: DRAIN_DELAY_MS,
    });
    pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 1 });
    const readyz = async (): Promise<string> => {
      const response = await fetch(`${server!.url}/readyz`);
      return `${response.status} ${(await response.text()).trim()}`;
    };
    assert.equal(await readyz(), '200 ready');
    const before = await RawDdpClient.connect(ddpUrl(server.port));
    await before.subscribe('presentations');
    let closedAt: 'during' | 'after' | undefined;
    let phase: 'during' | 'after' = 'during';
    const closing = before.closed.then((info) => {
      closedAt = phase;
      return info;
    });

    const stopped = server.close();
    assert.equal(await readyz(), '503 draining');
    // Still serving: a new client connects and subscribes, and both clients see a committed change.
    const during = await RawDdpClient.connect(ddpUrl(server.port));
    await during.subscribe('presentations');
    const id = `drain-${process.pid}`;
    await pool.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [id, 'during the drain']);
    for (const client of [before, during])
      await waitUntil(() => client.view('presentations').has(id), { what: () => `${id} at a client` });
    assert.equal(await readyz(), '503 draining');
    assert.equal(before.open, true, 'no client closed during the delay');
    phase = 'after';

    const [first, second] = await Promise.all([closing, during.closed]);
    assert.equal(closedAt, 'after', 'clients are closed only after the delay');
    assert.equal(first.code, 1001);
    assert.equal(second.code, 1001);
    const refused = await upgradeStatus(ddpUrl(server.port));
    assert.ok(refused === 503 || refused === 'refused', `upgrade after the delay: ${refused}`);
    await stopped;
    assert.deepEqual([...before.violations, ...during.violations], []);
  });
});

/** The HTTP status an upgrade to `url` gets (101 when accepted), or 'refused' when the port is closed. */
async function upgradeStatus(url: string): Promise<number | 'refused'> {
  return await new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', () => resolve('refused'));
  });
}
