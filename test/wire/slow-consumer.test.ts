/**
 * The slow-consumer cap (`limits.maxBufferedBytes`, transports/connection-guard.ts) against one turn's burst:
 * with write coalescing a subscription's initial documents are all written at the end of one event-loop turn,
 * so a client that reads fine briefly has far more than the cap queued. It must get them all, over every
 * transport: DDP on raw WebSocket and on SockJS, WAMP on WebSocket and on RawSocket. A client that stops reading
 * while data keeps coming is still terminated (SockJS here; raw DDP and WAMP in security.test.ts, RawSocket in
 * wamp-rawsocket.test.ts), and a burst past BURST_CEILING times the cap is refused at once even to a reader.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { subscribe } from '../../adapters/wamp/client.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { BURST_CEILING } from '../../transports/connection-guard.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { StalledWebSocket } from '../fixtures/stalled-websocket.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const MAX_BUFFERED_BYTES = 256 * 1024;
/** The burst: 24 documents of 32 KiB, 768 KiB in one turn, three times the cap (under BURST_CEILING's 4). */
const BURST_DOCS = 24;
const BURST_DOC_BYTES = 32 * 1024;
/** Past the ceiling: 40 documents of 32 KiB, 1.25 MiB in one turn, five times the cap. */
const HUGE_DOCS = 40;

function burstApp(): App {
  return new App()
    .method('echo', (_ctx, value: unknown) => value)
    .publish('burst', (ctx) => {
      for (let i = 0; i < BURST_DOCS; i++)
        ctx.added('burst', `d${i}`, { i, blob: `${i}`.padEnd(BURST_DOC_BYTES, '.') });
      ctx.ready();
    })
    .publish('huge', (ctx) => {
      for (let i = 0; i < HUGE_DOCS; i++)
        ctx.added('huge', `h${i}`, { i, blob: `${i}`.padEnd(BURST_DOC_BYTES, '.') });
      ctx.ready();
    })
    .publish('flood', (ctx) => {
      ctx.ready();
      let n = 0;
      const timer = setInterval(() => ctx.added('flood', `f${++n}`, { blob: 'x'.repeat(16 * 1024) }), 2);
      ctx.onStop(() => clearInterval(timer));
    });
}

/** DDP over SockJS's websocket transport, on a plain `ws` socket: `o`, `a[…]` frames, JSON-array sends. */
class SockJsDdp {
  readonly messages: Record<string, unknown>[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    ws.on('message', (data: WebSocket.RawData) => {
      const text = String(data);
      if (!text.startsWith('a')) return;
      for (const message of JSON.parse(text.slice(1)) as string[])
        this.messages.push(JSON.parse(message) as Record<string, unknown>);
    });
  }

  static async open(port: number): Promise<SockJsDdp> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/sockjs/000/${randomUUID().slice(0, 8)}/websocket`);
    const client = new SockJsDdp(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    client.send({ msg: 'connect', version: '1', support: ['1'] });
    await waitUntil(() => client.messages.some((m) => m.msg === 'connected'), {
      what: () => '`connected` over SockJS',
    });
    return client;
  }

  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify([JSON.stringify(message)]));
  }
}

describe('slow-consumer cap: a burst over the cap reaches a client that reads', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let rawSocketUrl = '';
  const open: Array<{ close(): unknown }> = [];

  before(async () => {
    server = await createServer({
      app: burstApp(),
      protocols: [ddp(), wamp({ rawSocket: { port: 0, host: '127.0.0.1' } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      // Connections are counted per address only when a limit is set; the stalled case watches that count.
      limits: { maxBufferedBytes: MAX_BUFFERED_BYTES, maxConnectionsPerAddress: 1000 },
    });
    const listener = server.listeners.find((l) => l.transport === 'rawsocket');
    rawSocketUrl = `rs://127.0.0.1:${listener?.port}`;
  });

  after(async () => {
    for (const client of open) await client.close();
    await server?.close();
  });

  it('DDP over raw WebSocket', async () => {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    open.push(client);
    client.send({ msg: 'sub', id: 'b', name: 'burst', params: [] });
    await client.waitFor((m) => m.msg === 'ready');
    assert.equal(client.messages.filter((m) => m.msg === 'added').length, BURST_DOCS);
    assert.deepEqual((await client.call('echo', 'alive')).result, 'alive');
  });

  it('DDP over SockJS', async () => {
    const client = await SockJsDdp.open(server.port);
    open.push({ close: () => client.ws.terminate() });
    client.send({ msg: 'sub', id: 'b', name: 'burst', params: [] });
    await waitUntil(() => client.messages.some((m) => m.msg === 'ready'), {
      what: () => `ready over SockJS (${client.messages.length} messages)`,
    });
    assert.equal(client.messages.filter((m) => m.msg === 'added').length, BURST_DOCS);
    assert.equal(client.ws.readyState, WebSocket.OPEN);
  });

  for (const transport of ['WebSocket', 'RawSocket'] as const) {
    it(`WAMP over ${transport}`, async () => {
      const url = transport === 'WebSocket' ? `ws://127.0.0.1:${server.port}/ws` : rawSocketUrl;
      const handle: AutobahnHandle = await openAutobahn(url);
      open.push(handle);
      const subscription = await subscribe(handle.session, 'burst');
      await subscription.ready;
      assert.equal(subscription.collection('burst').size, BURST_DOCS);
      assert.equal(await handle.session.call('echo', ['alive']), 'alive');
    });
  }

  it(`terminates at once a reading client sent a burst past ${BURST_CEILING} times the cap`, async () => {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    open.push(client);
    client.send({ msg: 'sub', id: 'h', name: 'huge', params: [] });
    const { code } = await client.closed;
    assert.equal(code, 1006, 'terminated: no close handshake');
    assert.ok(
      !client.messages.some((m) => m.msg === 'ready'),
      'the burst past the ceiling was not delivered',
    );
  });

  it('still terminates a SockJS client that stops reading while data keeps coming', async () => {
    // The earlier cases' clients closed first, so the address's count is this client's alone (a client of theirs
    // reconnecting at the wrong moment would otherwise hide the termination).
    for (const client of open.splice(0)) await client.close();
    await waitUntil(() => server.host.guard.connectionsFrom('127.0.0.1') === 0, {
      what: () => `the earlier clients closed (${server.host.guard.connectionsFrom('127.0.0.1')} left)`,
    });
    const stalled = await StalledWebSocket.open(
      `ws://127.0.0.1:${server.port}/sockjs/000/${randomUUID().slice(0, 8)}/websocket`,
    );
    open.push({ close: () => stalled.destroy() });
    stalled.send(JSON.stringify([JSON.stringify({ msg: 'connect', version: '1', support: ['1'] })]));
    // The SockJS `o` frame comes before the session's connection is admitted (and counted): wait for the count,
    // not for bytes, or the termination below may be looked for before the connection exists.
    await waitUntil(() => server.host.guard.connectionsFrom('127.0.0.1') === 1, {
      what: () => 'the stalled SockJS connection admitted',
    });
    stalled.stopReading();
    stalled.send(JSON.stringify([JSON.stringify({ msg: 'sub', id: 'f', name: 'flood', params: [] })]));
    await waitUntil(() => server.host.guard.connectionsFrom('127.0.0.1') === 0, {
      timeoutMs: 15_000,
      what: () => 'the stalled SockJS connection to be terminated',
    });
    stalled.drain();
    await stalled.closed;
  });
});
