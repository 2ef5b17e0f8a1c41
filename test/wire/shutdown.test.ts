/**
 * Graceful shutdown (server.close()): `/readyz` answers 503 at once, new upgrades are refused, DDP clients are
 * closed with 1001 (going away) so they reconnect elsewhere, and close() returns within `shutdownTimeoutMs`
 * even when a client never completes the close handshake.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp } from '../../index.js';
import { ddpUrl } from '../fixtures/presentations-servers.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../support/database.js';

describe('graceful shutdown', function () {
  this.timeout(20_000);

  it('flips readiness, refuses upgrades, closes DDP clients with 1001 and returns within the bound', async () => {
    const server = await createServer({
      app: presentationsApp(),
      protocols: [ddp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migratePresentations,
      shutdownTimeoutMs: 1500,
    });
    const url = ddpUrl(server.port);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const client = await RawDdpClient.connect(url);
    await client.subscribe('presentations');
    // A client that stops reading: it never answers the close frame, so the drain waits for the bound.
    const stuck = await RawDdpClient.connect(url);
    const stuckWs = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((resolve) => stuckWs.once('open', resolve));
    (stuckWs as unknown as { _socket: Socket })._socket.pause();

    const closing = server.close();
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    const refused = await new Promise<number>((resolve) => {
      const late = new WebSocket(url);
      late.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      late.once('error', () => resolve(-1));
    });
    assert.equal(refused, 503);
    const closed = await client.closed;
    assert.equal(closed.code, 1001);
    assert.equal((await stuck.closed).code, 1001);
    // Resolves although `stuckWs` never answers: the drain is bounded by shutdownTimeoutMs.
    await closing;
    stuckWs.terminate();
  });
});
