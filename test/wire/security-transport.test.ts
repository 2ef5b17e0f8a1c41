/**
 * Transport limits over the wire, for raw DDP, SockJS and WAMP on one server behind a (pretend) proxy
 * (`forwardedCount: 1`): too many connections from one client address (503 at the upgrade), a refused Origin
 * (403 on upgrades and on SockJS requests), and `X-Forwarded-For` reaching the rate limiter's `clientAddress`
 * through every endpoint.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const GOOD_ORIGIN = 'https://good.example';

/** Opens a WebSocket; resolves with it once open, or with the HTTP status that refused the upgrade. */
function openSocket(
  url: string,
  headers: Record<string, string>,
  protocols: string[] = [],
): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      ws.terminate();
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Sends one DDP method over a connected socket (raw or SockJS framing) and resolves with its `result`. */
async function ddpCall(ws: WebSocket, sockjs: boolean, method: string): Promise<Record<string, unknown>> {
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data: WebSocket.RawData) => {
    const text = String(data);
    if (!sockjs) messages.push(JSON.parse(text) as Record<string, unknown>);
    else if (text.startsWith('a'))
      for (const m of JSON.parse(text.slice(1)) as string[])
        messages.push(JSON.parse(m) as Record<string, unknown>);
  });
  const send = (m: object) => ws.send(sockjs ? JSON.stringify([JSON.stringify(m)]) : JSON.stringify(m));
  send({ msg: 'connect', version: '1', support: ['1'] });
  send({ msg: 'method', id: 'm', method, params: [] });
  let result: Record<string, unknown> | undefined;
  await waitUntil(
    () => {
      result = messages.find((m) => m.msg === 'result');
      return result !== undefined;
    },
    {
      what: () => `a result (got ${JSON.stringify(messages)})`,
    },
  );
  return result!;
}

/** HELLO then CALL over WAMP; resolves with the RESULT or ERROR. */
async function wampCall(ws: WebSocket, procedure: string): Promise<unknown[]> {
  const messages: unknown[][] = [];
  ws.on('message', (data: WebSocket.RawData) => messages.push(JSON.parse(String(data)) as unknown[]));
  ws.send(JSON.stringify([1, 'realm1', { roles: { caller: {} } }]));
  await waitUntil(() => messages.some((m) => m[0] === 2));
  ws.send(JSON.stringify([48, 1, {}, procedure, []]));
  let reply: unknown[] | undefined;
  await waitUntil(() => {
    reply = messages.find((m) => m[0] === 50 || m[0] === 8);
    return reply !== undefined;
  });
  return reply!;
}

describe('security: transport limits (connections per address, Origin, X-Forwarded-For)', function () {
  this.timeout(20_000);
  let server: PgrtServer;
  let base = '';
  const sockets: WebSocket[] = [];

  before(async () => {
    server = await createServer({
      app: new App().method('whoami', (ctx) => ctx.connection.clientAddress),
      protocols: [ddp({ forwardedCount: 1 }), wamp({ forwardedCount: 1 })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      limits: { maxConnectionsPerAddress: 2, allowedOrigins: [GOOD_ORIGIN] },
      // Everything from 9.9.9.9 is refused: proves the forwarded address reaches the rate limiter.
      rateLimits: { rules: [{ matcher: { clientAddress: '9.9.9.9' }, numRequests: 0, intervalMs: 10_000 }] },
    });
    base = `ws://127.0.0.1:${server.port}`;
  });

  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  after(async () => {
    await server?.close();
  });

  async function mustOpen(url: string, headers: Record<string, string>, protocols: string[] = []) {
    const ws = await openSocket(url, headers, protocols);
    assert.ok(ws instanceof WebSocket, `expected the upgrade to succeed, got HTTP ${String(ws)}`);
    sockets.push(ws);
    return ws;
  }

  it('refuses the 3rd concurrent connection from one address with 503, on every endpoint', async () => {
    const from = { 'x-forwarded-for': '1.1.1.1' };
    await mustOpen(`${base}/websocket`, from);
    await mustOpen(`${base}/ws`, from, ['wamp.2.json']);
    assert.equal(await openSocket(`${base}/websocket`, from), 503);
    assert.equal(await openSocket(`${base}/ws`, from, ['wamp.2.json']), 503);
    assert.equal(await openSocket(`${base}/sockjs/000/aaaaaaaa/websocket`, from), 503);
    // Another address is unaffected; a freed slot can be used again.
    await mustOpen(`${base}/websocket`, { 'x-forwarded-for': '2.2.2.2' });
    sockets.shift()?.close();
    await waitUntil(() => server.host.guard.connectionsFrom('1.1.1.1') === 1);
    await mustOpen(`${base}/sockjs/000/bbbbbbbb/websocket`, from);
  });

  it('refuses a disallowed Origin with 403 (upgrades and SockJS requests); allows the listed one and none', async () => {
    const evil = { origin: 'https://evil.example' };
    assert.equal(await openSocket(`${base}/websocket`, evil), 403);
    assert.equal(await openSocket(`${base}/ws`, evil, ['wamp.2.json']), 403);
    assert.equal(await openSocket(`${base}/sockjs/000/cccccccc/websocket`, evil), 403);
    const info = await fetch(`http://127.0.0.1:${server.port}/sockjs/info`, { headers: evil });
    assert.equal(info.status, 403);
    const good = await fetch(`http://127.0.0.1:${server.port}/sockjs/info`, {
      headers: { origin: GOOD_ORIGIN },
    });
    assert.equal(good.status, 200);
    await mustOpen(`${base}/websocket`, { origin: GOOD_ORIGIN });
    await mustOpen(`${base}/ws`, {}, ['wamp.2.json']);
  });

  it('honours X-Forwarded-For (forwardedCount 1) on raw DDP, SockJS and WAMP alike', async () => {
    const proxied = { 'x-forwarded-for': '9.9.9.9, 5.5.5.5' };
    const raw = await ddpCall(await mustOpen(`${base}/websocket`, proxied), false, 'whoami');
    assert.equal(raw.result, '5.5.5.5');
    const blocked = { 'x-forwarded-for': '9.9.9.9' };
    const sockjs = await ddpCall(
      await mustOpen(`${base}/sockjs/000/dddddddd/websocket`, blocked),
      true,
      'whoami',
    );
    assert.equal((sockjs.error as { error?: unknown }).error, 'too-many-requests');
    const viaWamp = await wampCall(await mustOpen(`${base}/ws`, blocked, ['wamp.2.json']), 'whoami');
    assert.equal(viaWamp[4], 'pgrt.error.too_many_requests');
  });
});
