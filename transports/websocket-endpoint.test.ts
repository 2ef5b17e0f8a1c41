/**
 * The raw WebSocket endpoint. Write path: messages sent while corked leave as frames of our own making, in one
 * socket write; a `ws` client must read them exactly as if `ws` had framed each one. Read path: the socket reports
 * to its connection without listeners (owned-websocket.ts): messages, the close, and errors must still arrive.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { Connection, ConnectionListener } from '../core/connection.js';
import { HttpHost } from './http-host.js';
import { WebSocketEndpoint } from './websocket-endpoint.js';

/** Serves one endpoint whose connections are handed to `onConnection`. */
async function serve(
  onConnection: (connection: Connection) => void,
): Promise<{ url: string; server: Server }> {
  const endpoint = new WebSocketEndpoint({ handleConnection: onConnection }, { matches: () => true });
  const server = createServer();
  server.on('upgrade', (request, socket, head) => endpoint.handleUpgrade(request, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** Connects and collects `count` messages as [text or bytes, binary?]. */
function receive(url: string, count: number): Promise<Array<[string, boolean]>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const got: Array<[string, boolean]> = [];
    ws.on('error', reject);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      got.push([isBinary ? data.toString('hex') : data.toString('utf8'), isBinary]);
      if (got.length === count) {
        ws.close();
        resolve(got);
      }
    });
  });
}

describe('WebSocketEndpoint: corked sends', () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  it('frames every length class, text and binary, in order with uncorked sends around them', async () => {
    // 7-bit, 16-bit and 64-bit payload lengths at their edges, multi-byte UTF-8, and binary.
    const texts = [
      '',
      'a'.repeat(125),
      'é'.repeat(63),
      'b'.repeat(126),
      'c'.repeat(65_535),
      'd'.repeat(65_536),
    ];
    const binary = new Uint8Array([0, 1, 2, 255]);
    const served = await serve((connection) => {
      connection.send('first');
      connection.cork?.();
      for (const text of texts) connection.send(text);
      connection.send(binary);
      connection.cork?.(); // nested: only the outermost uncork writes
      connection.send('nested');
      connection.uncork?.();
      connection.send('still held');
      connection.uncork?.();
      connection.send('last');
    });
    server = served.server;
    const got = await receive(served.url, texts.length + 5);
    assert.deepEqual(got, [
      ['first', false],
      ...texts.map((text): [string, boolean] => [text, false]),
      ['000102ff', true],
      ['nested', false],
      ['still held', false],
      ['last', false],
    ]);
  });

  it('frames a lone message per window once for many connections, and never confuses two', async () => {
    // Windows of one message each, as when a change reaches subscribers one event-loop turn at a time.
    const texts = ['same length A', 'same length A', 'same length B', 'é', 'same length A'];
    const served = await serve((connection) => {
      for (const text of texts) {
        connection.cork?.();
        connection.send(text);
        connection.uncork?.();
      }
    });
    server = served.server;
    const received = await Promise.all([1, 2, 3].map(() => receive(served.url, texts.length)));
    for (const got of received)
      assert.deepEqual(
        got,
        texts.map((text): [string, boolean] => [text, false]),
      );
  });

  it('frames a window of several messages once for many connections, and never confuses two', async () => {
    // Windows of several messages, as when a transaction's changes reach every subscriber in one turn: equal
    // windows (shared frames), then ones that differ in one message, in length, or by a binary message.
    const a = 'message A';
    const b = 'message B';
    const windows: Array<Array<string | Uint8Array>> = [
      [a, b],
      [a, b],
      [a, 'message C'],
      [a, b, a],
      [a, new Uint8Array([1, 2])],
      [a, new Uint8Array([3, 4])],
      [a, b],
    ];
    const expected = windows
      .flat()
      .map((m): [string, boolean] =>
        typeof m === 'string' ? [m, false] : [Buffer.from(m).toString('hex'), true],
      );
    const served = await serve((connection) => {
      for (const messages of windows) {
        connection.cork?.();
        for (const message of messages) connection.send(message);
        connection.uncork?.();
      }
    });
    server = served.server;
    const received = await Promise.all([1, 2, 3].map(() => receive(served.url, expected.length)));
    for (const got of received) assert.deepEqual(got, expected);
  });

  it('writes what it held before a close, and the close after it', async () => {
    const served = await serve((connection) => {
      connection.cork?.();
      connection.send('before close');
      connection.close(4000, 'done');
      connection.send('after close');
      connection.uncork?.();
    });
    server = served.server;
    const ws = new WebSocket(served.url, { perMessageDeflate: false });
    const messages: string[] = [];
    ws.on('message', (data: Buffer) => messages.push(data.toString('utf8')));
    const code = await new Promise<number>((resolve) =>
      ws.on('close', (closeCode: number) => resolve(closeCode)),
    );
    assert.deepEqual(messages, ['before close']);
    assert.equal(code, 4000);
  });

  it("answers a client's pings with pongs carrying their payloads, also while messages are held", async () => {
    let held: Connection | undefined;
    const served = await serve((connection) => {
      held = connection;
      connection.send('open');
    });
    server = served.server;
    const ws = new WebSocket(served.url, { perMessageDeflate: false });
    const pongs: string[] = [];
    ws.on('pong', (data: Buffer) => pongs.push(data.toString('utf8')));
    const messages: string[] = [];
    await new Promise<void>((resolve) =>
      ws.on('message', (data: Buffer) => {
        messages.push(data.toString('utf8'));
        resolve();
      }),
    );
    ws.ping('one');
    await new Promise<void>((resolve) => ws.once('pong', () => resolve()));
    held?.cork?.();
    held?.send('held');
    ws.ping('x'.repeat(125));
    await new Promise<void>((resolve) => ws.once('pong', () => resolve()));
    held?.uncork?.();
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    assert.deepEqual(pongs, ['one', 'x'.repeat(125)]);
    ws.close();
  });
});

/** A listener that records what its connection reports. */
class Recorder implements ConnectionListener {
  readonly messages: Array<string | Uint8Array> = [];
  readonly closes: Array<[number, string]> = [];
  #waiters: Array<() => void> = [];

  receive(data: string | Uint8Array): void {
    this.messages.push(data);
    this.#wake();
  }

  connectionClosed(code: number, reason: string): void {
    this.closes.push([code, reason]);
    this.#wake();
  }

  /** Resolves once `done()` holds (checked after every report). */
  async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A WebSocket endpoint on an {@link HttpHost}, whose connections report to `recorder`. */
async function host(recorder: Recorder): Promise<{ readonly host: HttpHost; readonly port: number }> {
  const httpHost = new HttpHost();
  httpHost.addEndpoint(
    new WebSocketEndpoint(
      { handleConnection: (connection) => connection.attach(recorder) },
      { matches: (path) => path === '/websocket' },
    ),
  );
  return { host: httpHost, port: await httpHost.listen(0, '127.0.0.1') };
}

/** Opens a WebSocket by hand (a raw TCP socket), resolving once the server's 101 has arrived. */
async function rawUpgrade(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.write(
    'GET /websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await new Promise<void>((resolve, reject) => {
    let head = '';
    socket.on('error', reject);
    socket.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (head.startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(`no upgrade: ${head}`));
    });
  });
  return socket;
}

describe('WebSocketEndpoint: what the socket reports', () => {
  let running: HttpHost | undefined;

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('hands text and binary messages to the listener in order, then the close code and reason once', async () => {
    const recorder = new Recorder();
    const served = await host(recorder);
    running = served.host;
    const ws = new WebSocket(`ws://127.0.0.1:${served.port}/websocket`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    ws.send('first');
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send('é'.repeat(100));
    await recorder.until(() => recorder.messages.length === 3);
    ws.close(4001, 'bye');
    await recorder.until(() => recorder.closes.length > 0);
    assert.deepEqual(recorder.messages, ['first', Buffer.from([1, 2, 3]), 'é'.repeat(100)]);
    assert.deepEqual(recorder.closes, [[4001, 'bye']]);
  });

  it('terminates a socket whose client breaks the protocol, and reports its close', async () => {
    const recorder = new Recorder();
    const served = await host(recorder);
    running = served.host;
    const socket = await rawUpgrade(served.port);
    // An unmasked client frame: ws's receiver fails it (RFC 6455 §5.1), the socket emits 'error'.
    socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    await recorder.until(() => recorder.closes.length > 0);
    assert.deepEqual(recorder.messages, []);
    assert.equal(recorder.closes.length, 1);
    socket.destroy();
  });

  it('survives a client that resets its connection after the upgrade (the socket error is handled)', async () => {
    const recorder = new Recorder();
    const served = await host(recorder);
    running = served.host;
    const socket = await rawUpgrade(served.port);
    // A masked text frame "hi" first, so the server has read from the socket, then a TCP reset.
    socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    await recorder.until(() => recorder.messages.length === 1);
    socket.resetAndDestroy();
    await recorder.until(() => recorder.closes.length > 0);
    assert.deepEqual(recorder.messages, ['hi']);
    assert.equal(recorder.closes.length, 1);
  });
});
