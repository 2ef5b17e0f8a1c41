/**
 * Rolling restart of one of two processes loses no change: servers A and B on one database, clients on both,
 * writes continuing throughout. A closes (graceful shutdown); each of its clients sees the 1001 close, connects
 * to B and resubscribes, as a Meteor client behind a load balancer would. Once writes stop, every client —
 * those that stayed on B and those that moved — holds exactly the committed table, with no protocol violation.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PgrtServer } from '../../server.js';
import { ddpUrl, startPresentations } from '../fixtures/presentations-servers.js';
import { diffStates, selectPresentations } from '../fixtures/presentations-table.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { sleep, waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const PER_SERVER = 4;

describe('rolling restart of one of two servers', function () {
  this.timeout(60_000);
  let a: PgrtServer | undefined;
  let b: PgrtServer | undefined;
  let pool: pg.Pool | undefined;
  const clients: RawDdpClient[] = [];

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await a?.close();
    await b?.close();
    await pool?.end();
  });

  it('loses no change for any client', async () => {
    a = await startPresentations();
    b = await startPresentations();
    pool = new pg.Pool({ connectionString: testDatabaseUrl(), max: 2 });
    const onA: RawDdpClient[] = [];
    for (let i = 0; i < PER_SERVER; i++) onA.push(await RawDdpClient.connect(ddpUrl(a.port)));
    for (let i = 0; i < PER_SERVER; i++) clients.push(await RawDdpClient.connect(ddpUrl(b.port)));
    await Promise.all([...onA, ...clients].map((c) => c.subscribe('presentations')));

    const tag = randomUUID().slice(0, 8);
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        n++;
        await pool!.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [
          `rr-${tag}-${n}`,
          `t${n}`,
        ]);
        if (n % 3 === 0)
          await pool!.query('UPDATE presentations SET subtitle = $1 WHERE id = $2', [
            `s${n}`,
            `rr-${tag}-${n - 1}`,
          ]);
        await sleep(5);
      }
    })();

    await waitUntil(() => n >= 10, { timeoutMs: 15_000, what: () => `writes before the restart (${n})` });
    // Each client of A reconnects to B as soon as A tells it to go away.
    const moved = onA.map(async (client) => {
      const { code } = await client.closed;
      const next = await RawDdpClient.connect(ddpUrl(b!.port));
      await next.subscribe('presentations');
      return { code, next };
    });
    await a.close();
    const results = await Promise.all(moved);
    for (const { code, next } of results) {
      assert.equal(code, 1001);
      clients.push(next);
    }
    // Writes go on after the restart, and the writer has not died with A.
    const afterMove = n;
    await waitUntil(() => n >= afterMove + 10, {
      timeoutMs: 15_000,
      what: () => `writes after the restart (${n - afterMove})`,
    });
    writing = false;
    await writer;

    const table = await selectPresentations(pool);
    for (const [i, client] of clients.entries()) {
      await waitUntil(() => diffStates(client.view('presentations'), table).length === 0, {
        timeoutMs: 15_000,
        what: () => `client ${i} to converge: ${diffStates(client.view('presentations'), table).join('; ')}`,
      });
      assert.deepEqual(client.violations, []);
    }
  });
});
