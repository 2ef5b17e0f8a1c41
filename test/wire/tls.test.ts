/**
 * TLS on one port: `createServer({ tls })` serves wss:// (raw DDP and SockJS's websocket transport) and https://
 * (SockJS info, xhr-polling) with a self-signed certificate made at test time by the openssl CLI.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { FRAME, frame, RawSocketPeer } from '../../conformance/wamp/rawsocket-client.js';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { testDatabaseUrl } from '../support/database.js';

/** A self-signed certificate for 127.0.0.1 and localhost. */
function selfSigned(dir: string): { cert: Buffer; key: Buffer } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** Opens `url` trusting `ca`, sends `send` on open, resolves with the frames until one matches `done`. */
function exchange(
  url: string,
  ca: Buffer | undefined,
  send: string[],
  done: (frame: string) => boolean,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ca ? { ca } : {});
    const frames: string[] = [];
    const timer = setTimeout(() => reject(new Error(`timeout; frames ${JSON.stringify(frames)}`)), 5000);
    ws.on('open', () => {
      for (const text of send) ws.send(text);
    });
    ws.on('message', (data: Buffer) => {
      const frame = data.toString('utf8');
      frames.push(frame);
      if (done(frame)) {
        clearTimeout(timer);
        ws.close();
        resolve(frames);
      }
    });
    ws.on('error', reject);
  });
}

describe('TLS: https and wss on the same port', () => {
  let dir: string;
  let ca: Buffer;
  let server: PgrtServer;

  before(async function () {
    this.timeout(30_000);
    dir = mkdtempSync(join(tmpdir(), 'pgrt-tls-'));
    const tls = selfSigned(dir);
    ca = tls.cert;
    server = await createServer({
      app: new App(),
      protocols: [ddp({ heartbeatInterval: 0 }), wamp({ rawSocket: { port: 0, host: '127.0.0.1' } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      tls,
    });
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves WAMP RawSocket over TLS too; a plain TCP client gets no handshake', async () => {
    const address = { host: '127.0.0.1', port: Number(server.listeners[0]?.port) };
    const peer = await RawSocketPeer.connect(address, { ca });
    try {
      assert.equal((await peer.handshake(1))[1]! & 0x0f, 1, 'handshake over TLS');
      peer.send(frame(FRAME.message, JSON.stringify([1, 'realm1', { roles: { caller: {} } }])));
      const welcome = JSON.parse((await peer.frame(5000)).payload.toString('utf8')) as unknown[];
      assert.equal(welcome[0], 2, 'WELCOME');
    } finally {
      peer.close();
    }
    const plain = await RawSocketPeer.connect(address);
    try {
      await assert.rejects(plain.handshake(1), 'no RawSocket reply without TLS');
    } finally {
      plain.close();
    }
  });

  it('reports an https url', () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves SockJS info over https', async () => {
    const { status, body } = await httpsGet(`${server.url}/sockjs/info`, ca);
    assert.equal(status, 200);
    assert.equal((JSON.parse(body) as { websocket: boolean }).websocket, true);
  });

  it('speaks raw DDP over wss:///websocket', async () => {
    const connect = JSON.stringify({ msg: 'connect', version: '1', support: ['1'] });
    const frames = await exchange(`wss://127.0.0.1:${server.port}/websocket`, ca, [connect], (f) =>
      f.includes('"connected"'),
    );
    assert.equal(JSON.parse(frames.at(-1) ?? '{}').msg, 'connected');
  });

  it('speaks DDP over SockJS on wss:///sockjs/…/websocket', async () => {
    const connect = JSON.stringify([JSON.stringify({ msg: 'connect', version: '1', support: ['1'] })]);
    const frames = await exchange(
      `wss://127.0.0.1:${server.port}/sockjs/042/tlstests/websocket`,
      ca,
      [connect],
      (f) => f.includes('connected'),
    );
    assert.equal(frames[0], 'o');
    assert.match(frames.at(-1) ?? '', /^a\["\{\\"msg\\":\\"connected\\"/);
  });

  it('refuses a client that does not trust the certificate', async () => {
    await assert.rejects(
      exchange(`wss://127.0.0.1:${server.port}/websocket`, undefined, [], () => true),
      /self[- ]signed|certificate/i,
    );
  });
});
