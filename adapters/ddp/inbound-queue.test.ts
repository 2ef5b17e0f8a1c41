import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';

/**
 * Messages a client sends while one of its methods runs wait in the session's in-order queue. Past a few
 * full-size messages' worth (4 × maxMessageBytes) the server stops reading the socket — TCP holds the rest —
 * and reads again once the queue has drained: memory per connection stays bounded and nothing is lost
 * (issue 12 item 2).
 */
describe('DDP inbound queue behind a slow method', function () {
  this.timeout(60_000);
  const MAX_MESSAGE_BYTES = 10_000;
  const FLOOD = 2000;
  let server: PgrtServer;
  let openGate: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });

  before(async () => {
    const app = new App()
      .method('gate', { transaction: false }, async () => {
        await gate;
        return 'opened';
      })
      .method('echo', { transaction: false }, (_ctx, n: unknown) => n);
    server = await createServer({
      app,
      protocols: [ddp({ maxMessageBytes: MAX_MESSAGE_BYTES })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      metrics: true,
      rateLimits: false, // the flood is more calls than the per-connection budget
    });
  });

  after(async () => {
    openGate();
    await server?.close();
  });

  /** Method messages the server has read off its sockets so far (its own Prometheus counter). */
  async function methodsRead(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('pgrt_messages_received_total{protocol="ddp",type="method"}'));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  it('stops reading past the bound while a method runs, then serves every queued call', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/websocket`);
    const results = new Map<string, unknown>();
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { msg: string; id?: string; result?: unknown };
      if (message.msg === 'result' && message.id !== undefined) results.set(message.id, message.result);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
    ws.send(JSON.stringify({ msg: 'method', id: 'gate', method: 'gate', params: [] }));
    const filler = 'x'.repeat(MAX_MESSAGE_BYTES - 200);
    for (let i = 0; i < FLOOD; i++) {
      ws.send(JSON.stringify({ msg: 'method', id: `e${i}`, method: 'echo', params: [i, filler] }));
    }

    // The server reads until its queue is full, then no further while the gate holds: its count settles.
    let last = -1;
    let settledSince = Date.now();
    await waitUntil(
      async () => {
        const read = await methodsRead();
        if (read !== last) {
          last = read;
          settledSince = Date.now();
        }
        return read > 1 && Date.now() - settledSince >= 500;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: () => `the read count to settle (${last})` },
    );
    // 4 × 10 kB queued, plus what ws had already parsed from the socket chunk it was reading (≤ 64 kB).
    assert.ok(last < 20, `${last} of ${FLOOD + 1} method messages read while the method ran`);
    assert.ok(ws.bufferedAmount > 0, 'the rest waits on the client side');

    openGate();
    await waitUntil(() => results.size === FLOOD + 1, {
      timeoutMs: 30_000,
      what: () => `${FLOOD + 1} results (${results.size})`,
    });
    assert.equal(results.get('gate'), 'opened');
    for (let i = 0; i < FLOOD; i++) assert.equal(results.get(`e${i}`), i);
    ws.close();
  });
});
