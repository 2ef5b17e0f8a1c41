/**
 * A rolling deploy behind HAProxy under steady writes (test/fixtures/rolling-deploy.ts): the three pgrt processes
 * restarted one at a time while DDP (raw WebSocket), DDP over SockJS and WAMP clients stay connected through the
 * balancer. Every client must end holding exactly the table (0 lost, extra, stale, duplicated), every client must
 * have been moved (closed with 1001 by a draining process) and be ready again, DDP clients by resuming their session
 * on another process (the drained process hands it off through the database). A few clients per kind keep
 * `npm test` within budget; bench/rolling-deploy.ts runs the 300 and prints the figures.
 */
import assert from 'node:assert/strict';
import { runRollingDeploy } from '../fixtures/rolling-deploy.js';
import { testDatabaseUrl } from '../support/database.js';

describe('rolling deploy behind HAProxy', function () {
  this.timeout(180_000);

  it('restarts three processes one at a time: every client reconnects and holds exactly the table', async () => {
    const report = await runRollingDeploy({
      databaseUrl: testDatabaseUrl(),
      clientsPerKind: 3,
      drainDelayMs: 3000,
      writeIntervalMs: 20,
    });
    const context = JSON.stringify(report, null, 1);
    if (process.env.PGRT_DEPLOY_REPORT) process.stderr.write(`${context}\n`);
    assert.ok(report.writes.ok > 100, `the writer kept writing: ${context}`);
    assert.equal(report.writes.failed, 0, context);
    for (const [kind, figures] of Object.entries(report.kinds)) {
      assert.equal(figures.clients, 3, kind);
      assert.deepEqual(
        { lost: figures.lost, extra: figures.extra, stale: figures.stale, duplicated: figures.duplicated },
        { lost: 0, extra: 0, stale: 0, duplicated: 0 },
        `${kind}: ${report.examples.join('; ')}`,
      );
      assert.equal(figures.disconnected, figures.clients, `${kind}: every client was moved: ${context}`);
      assert.equal(figures.reconnected, figures.clients, `${kind}: every client is back: ${context}`);
      // DDP clients resume their session on the process they come back to (adapters/ddp/handoff.ts).
      if (kind !== 'wamp') assert.ok(figures.resumed > 0, `${kind}: sessions resumed: ${context}`);
      // DDP sees the close code; Autobahn reports a dropped transport as 'lost' (it retries those).
      assert.deepEqual(
        Object.keys(figures.closeCodes),
        [kind === 'wamp' ? 'lost' : '1001'],
        `${kind}: closed by a draining process only`,
      );
    }
    assert.ok(report.latencyMs.count > 0, `changes reached clients during the deploy: ${context}`);
  });
});
