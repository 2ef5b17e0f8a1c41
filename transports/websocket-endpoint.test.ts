/**
 * The raw WebSocket endpoint's write path: messages sent while corked leave as frames of our own making, in
 * one socket write; a `ws` client must read them exactly as if `ws` had framed each one.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import type { Connection } from '../core/connection.js';
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
