import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { testDatabaseUrl } from '../../test/support/database.js';

/** In-order processing per session, and `ctx.unblock()` letting the next message start (reference ddp.md §1.6). */
describe('DDP in-order processing and unblock()', function () {
  this.timeout(20_000);
  let server: PgrtServer;

  before(async () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const app = new App()
      .method('blocking', { transaction: false }, async () => {
        await sleep(300);
        return 'blocking';
      })
      .method('unblocking', { transaction: false }, async (ctx) => {
        ctx.unblock();
        await sleep(300);
        return 'unblocking';
      })
      .method('quick', { transaction: false }, () => 'quick');
    server = await createServer({
      app,
      protocols: [ddp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
  });

  after(async () => {
    await server?.close();
  });

  async function resultOrder(first: string): Promise<string[]> {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/websocket`);
    const results: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => {
        ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
        ws.send(JSON.stringify({ msg: 'method', id: '1', method: first, params: [] }));
        ws.send(JSON.stringify({ msg: 'method', id: '2', method: 'quick', params: [] }));
      });
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { msg: string; result?: string };
        if (message.msg === 'result') results.push(message.result ?? '');
        if (results.length === 2) resolve();
      });
    });
    ws.close();
    return results;
  }

  it('runs a session’s methods one at a time, in order', async () => {
    assert.deepEqual(await resultOrder('blocking'), ['blocking', 'quick']);
  });

  it('lets the next message start once a method calls unblock()', async () => {
    assert.deepEqual(await resultOrder('unblocking'), ['quick', 'unblocking']);
  });
});
