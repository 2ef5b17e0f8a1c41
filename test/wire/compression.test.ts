/**
 * permessage-deflate (`createServer({ compression })`): off by default; when on, negotiated on the raw
 * `/websocket` endpoint (ws, with its size threshold) and on SockJS's websocket transport (faye's deflate).
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { testDatabaseUrl } from '../support/database.js';

/** The extensions the server accepted for a client offering permessage-deflate. */
function negotiated(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: true });
    ws.once('open', () => {
      resolve(ws.extensions);
      ws.close();
    });
    ws.once('error', reject);
  });
}

/** Sends a large echo over raw DDP and returns the result (proves compressed frames decode). */
function bigEcho(url: string, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: true });
    ws.once('open', () => {
      ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
      ws.send(JSON.stringify({ msg: 'method', id: 'e', method: 'echo', params: [text] }));
    });
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      if (message.msg === 'result') {
        resolve(message.result);
        ws.close();
      }
    });
    ws.once('error', reject);
  });
}

async function start(compression?: { threshold: number }): Promise<PgrtServer> {
  return createServer({
    app: new App().method('echo', (_ctx, text) => text),
    protocols: [ddp({ heartbeatInterval: 0 })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl: testDatabaseUrl(),
    ...(compression ? { compression } : {}),
  });
}

describe('compression (permessage-deflate)', () => {
  it('is off by default on both WebSocket endpoints', async () => {
    const server = await start();
    try {
      assert.equal(await negotiated(`ws://127.0.0.1:${server.port}/websocket`), '');
      assert.equal(await negotiated(`ws://127.0.0.1:${server.port}/sockjs/1/offbydef/websocket`), '');
    } finally {
      await server.close();
    }
  });

  it('is negotiated on both endpoints when configured, and large messages round-trip', async () => {
    const server = await start({ threshold: 256 });
    try {
      assert.match(await negotiated(`ws://127.0.0.1:${server.port}/websocket`), /permessage-deflate/);
      assert.match(
        await negotiated(`ws://127.0.0.1:${server.port}/sockjs/1/deflated/websocket`),
        /permessage-deflate/,
      );
      const text = 'pgrt '.repeat(10_000);
      assert.equal(await bigEcho(`ws://127.0.0.1:${server.port}/websocket`, text), text);
    } finally {
      await server.close();
    }
  });
});
