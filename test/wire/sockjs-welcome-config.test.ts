/**
 * The SockJS welcome frame from configuration: `ddp.sockjsWelcomeFrame` (env `PGRT_DDP_SOCKJS_WELCOME_FRAME`)
 * reaches the DDP adapter through the same path as `pgrt serve` (loadConfig → serverOptionsOf → createServer), so
 * a SockJS session opens with `o` then `a["{\"server_id\":\"0\"}"]`; without it the first data frame is the
 * answer to `connect`. The raw `/websocket` endpoint never sends the frame.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { serverOptionsOf } from '../../cli/server-options.js';
import { loadConfig } from '../../config/load-config.js';
import { App } from '../../core/app.js';
import { silentLogger } from '../../core/logger.js';
import { createServer, type PgrtServer } from '../../server.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

/** A server configured from `env` only (port 0, loopback, the test database). */
async function serverFromEnv(env: Record<string, string>): Promise<PgrtServer> {
  const { config } = loadConfig({
    file: false,
    env: { PGRT_PORT: '0', PGRT_HOST: '127.0.0.1', PGRT_DATABASE_URL: testDatabaseUrl(), ...env },
  });
  return createServer(
    serverOptionsOf(config, { app: new App(), migrate: undefined, path: 'app.js' }, silentLogger),
  );
}

/** Frames of one socket, as text, in arrival order. */
async function openSocket(url: string): Promise<{ ws: WebSocket; frames: string[] }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const frames: string[] = [];
  ws.on('message', (data) => frames.push(String(data)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, frames };
}

const CONNECT = JSON.stringify({ msg: 'connect', version: '1', support: ['1'] });

/** The DDP messages of a SockJS `a[…]` frame. */
function messagesOf(frame: string): Record<string, unknown>[] {
  assert.ok(frame.startsWith('a'), `a data frame, got ${frame}`);
  return (JSON.parse(frame.slice(1)) as string[]).map((m) => JSON.parse(m) as Record<string, unknown>);
}

describe('SockJS welcome frame from configuration', function () {
  this.timeout(20_000);
  let server: PgrtServer | undefined;
  const sockets: WebSocket[] = [];

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await server?.close();
    server = undefined;
  });

  const sockjsUrl = (port: number) =>
    `ws://127.0.0.1:${port}/sockjs/000/${randomUUID().slice(0, 8)}/websocket`;

  it('PGRT_DDP_SOCKJS_WELCOME_FRAME=true: {"server_id":"0"} right after "o", before any client message', async () => {
    server = await serverFromEnv({ PGRT_DDP_SOCKJS_WELCOME_FRAME: 'true' });
    const { ws, frames } = await openSocket(sockjsUrl(server.port));
    sockets.push(ws);
    await waitUntil(() => frames.length >= 2, { what: () => `two frames, got ${JSON.stringify(frames)}` });
    assert.equal(frames[0], 'o');
    assert.deepEqual(messagesOf(frames[1]!), [{ server_id: '0' }]);
    ws.send(JSON.stringify([CONNECT]));
    await waitUntil(() => frames.length >= 3, { what: () => `connected, got ${JSON.stringify(frames)}` });
    assert.equal(messagesOf(frames[2]!)[0]?.msg, 'connected');

    const raw = await openSocket(`ws://127.0.0.1:${server.port}/websocket`);
    sockets.push(raw.ws);
    raw.ws.send(CONNECT);
    await waitUntil(() => raw.frames.length >= 1, { what: () => 'connected on /websocket' });
    assert.equal(
      (JSON.parse(raw.frames[0]!) as { msg?: string }).msg,
      'connected',
      'no welcome on /websocket',
    );
  });

  it('by default: no welcome frame, the first data frame answers connect', async () => {
    server = await serverFromEnv({});
    const { ws, frames } = await openSocket(sockjsUrl(server.port));
    sockets.push(ws);
    await waitUntil(() => frames.length >= 1, { what: () => '"o"' });
    assert.equal(frames[0], 'o');
    ws.send(JSON.stringify([CONNECT]));
    await waitUntil(() => frames.length >= 2, { what: () => `connected, got ${JSON.stringify(frames)}` });
    assert.deepEqual(
      frames
        .slice(1)
        .flatMap(messagesOf)
        .map((m) => m.msg),
      ['connected'],
    );
  });
});
