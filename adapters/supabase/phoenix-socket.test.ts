/**
 * The Phoenix socket as Supabase Realtime serves it, frame by frame (raw WebSocket, both serializers): heartbeats,
 * joins and their replies with join_ref echoed, leaves and phx_close, duplicate joins, unmatched topics, bad joins
 * and bad frames — after each of which the connection still works.
 */
import assert from 'node:assert/strict';
import { createServer, type PgrtServer } from '../../index.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { app, migrate } from './fixtures/app.js';
import { RawPhoenix } from './fixtures/clients.js';
import { supabase } from './index.js';
import { encodeUserBroadcast } from './serializer.js';

describe('supabase: the Phoenix socket, raw frames', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let url: string;
  let socket: RawPhoenix;

  before(async () => {
    server = await createServer({
      app,
      migrate,
      protocols: [supabase({ access: { tables: { sb_notes: true } }, maxChannels: 3 })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    url = `ws://127.0.0.1:${server.port}/realtime/v1/websocket?apikey=anon&vsn=2.0.0`;
  });

  beforeEach(async () => {
    socket = await RawPhoenix.open(url);
  });

  afterEach(async () => {
    await socket?.close();
  });

  after(async () => {
    await server?.close();
  });

  /** Sends a heartbeat and waits for its reply: the connection is alive and in order. */
  async function alive(ref = 'hb'): Promise<void> {
    const from = socket.frames.length;
    socket.send([null, ref, 'phoenix', 'heartbeat', {}]);
    const reply = await socket.waitFor((f) => f[1] === ref, from);
    assert.deepEqual(reply, [null, ref, 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
  }

  it('answers heartbeats on topic phoenix (2.0.0 arrays)', async () => {
    await alive('1');
  });

  it('reads the serializer off the first frame when the URL names none', async () => {
    await socket.close();
    socket = await RawPhoenix.open(url.replace('&vsn=2.0.0', ''));
    socket.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '5' });
    assert.deepEqual(await socket.waitFor((f) => f.ref === '5'), {
      topic: 'phoenix',
      event: 'phx_reply',
      payload: { status: 'ok', response: {} },
      ref: '5',
    });
  });

  it('speaks 1.0.0 (JSON objects) when the URL asks for it', async () => {
    await socket.close();
    socket = await RawPhoenix.open(url.replace('vsn=2.0.0', 'vsn=1.0.0'));
    socket.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '7' });
    const reply = await socket.waitFor((f) => f.ref === '7');
    assert.deepEqual(reply, {
      topic: 'phoenix',
      event: 'phx_reply',
      payload: { status: 'ok', response: {} },
      ref: '7',
    });
    socket.send({
      topic: 'realtime:room',
      event: 'phx_join',
      payload: { config: {} },
      ref: '8',
      join_ref: '8',
    });
    const joined = await socket.waitFor((f) => f.ref === '8');
    assert.deepEqual(joined.payload, { status: 'ok', response: { postgres_changes: [] } });
    assert.equal(joined.join_ref, undefined, '1.0.0 replies carry no join_ref');
  });

  it('joins with join_ref echoed, leaves with an ok reply and phx_close', async () => {
    socket.send(['1', '1', 'realtime:room1', 'phx_join', { config: { broadcast: { self: false } } }]);
    const reply = await socket.waitFor((f) => f[1] === '1');
    assert.deepEqual(reply, [
      '1',
      '1',
      'realtime:room1',
      'phx_reply',
      { status: 'ok', response: { postgres_changes: [] } },
    ]);
    socket.send(['1', '2', 'realtime:room1', 'phx_leave', {}]);
    const left = await socket.waitFor((f) => f[1] === '2');
    assert.deepEqual(left, ['1', '2', 'realtime:room1', 'phx_reply', { status: 'ok', response: {} }]);
    const close = await socket.waitFor((f) => f[3] === 'phx_close');
    assert.deepEqual(close, ['1', '1', 'realtime:room1', 'phx_close', {}]);
    await alive();
  });

  it('closes the earlier join of a topic joined again', async () => {
    socket.send(['1', '1', 'realtime:dup', 'phx_join', {}]);
    await socket.waitFor((f) => f[1] === '1');
    socket.send(['3', '3', 'realtime:dup', 'phx_join', {}]);
    const close = await socket.waitFor((f) => f[3] === 'phx_close');
    assert.deepEqual(close, ['1', '1', 'realtime:dup', 'phx_close', {}]);
    const reply = await socket.waitFor((f) => f[1] === '3');
    assert.equal(reply[4].status, 'ok');
    assert.equal(reply[0], '3');
  });

  it('refuses a topic outside realtime:* and an empty channel name, and keeps the connection', async () => {
    socket.send(['1', '1', 'rooms:x', 'phx_join', {}]);
    assert.deepEqual(await socket.waitFor((f) => f[1] === '1'), [
      null,
      '1',
      'rooms:x',
      'phx_reply',
      { status: 'error', response: { reason: 'unmatched topic' } },
    ]);
    socket.send(['2', '2', 'realtime:', 'phx_join', {}]);
    assert.deepEqual((await socket.waitFor((f) => f[1] === '2'))[4], {
      status: 'error',
      response: { reason: 'TopicNameRequired: You must provide a topic name' },
    });
    await alive();
  });

  it('answers events on topics not joined as Phoenix does', async () => {
    socket.send([null, '1', 'realtime:nowhere', 'broadcast', { type: 'broadcast', event: 'x', payload: {} }]);
    assert.deepEqual((await socket.waitFor((f) => f[1] === '1'))[4], {
      status: 'error',
      response: { reason: 'unmatched topic' },
    });
    socket.send(['9', '2', 'realtime:nowhere', 'phx_leave', {}]);
    assert.deepEqual((await socket.waitFor((f) => f[1] === '2'))[4], { status: 'ok', response: {} });
    await alive();
  });

  it('drops undecodable frames (text and binary) and keeps the connection', async () => {
    socket.send('not json');
    socket.send('[1,2,3]');
    socket.send('"a string"');
    socket.send(Buffer.from([9, 1, 2]));
    socket.send(Buffer.from([3, 200, 0, 0, 0, 0, 1]));
    await alive();
  });

  it('decodes a binary user broadcast push on a joined channel (and ignores it without a broadcast feature)', async () => {
    socket.send(['1', '1', 'realtime:bin', 'phx_join', {}]);
    await socket.waitFor((f) => f[1] === '1');
    const push = Buffer.concat([
      Buffer.from([3, 1, 1, 12, 1, 0, 1]),
      Buffer.from('12realtime:bine'),
      Buffer.from(JSON.stringify({ a: 1 })),
    ]);
    socket.send(push);
    await alive();
    assert.equal(socket.binary.length, 0);
  });

  it('refuses joins past maxChannels with ChannelRateLimitReached', async () => {
    for (const n of [1, 2, 3]) socket.send([String(n), String(n), `realtime:c${n}`, 'phx_join', {}]);
    await socket.waitFor((f) => f[1] === '3');
    socket.send(['4', '4', 'realtime:c4', 'phx_join', {}]);
    assert.deepEqual((await socket.waitFor((f) => f[1] === '4'))[4], {
      status: 'error',
      response: { reason: 'ChannelRateLimitReached: Too many channels' },
    });
    await alive();
  });

  it('refuses a JWT it cannot verify, and a private channel without a channel rule', async () => {
    socket.send([
      '1',
      '1',
      'realtime:p',
      'phx_join',
      { config: {}, access_token: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln' },
    ]);
    assert.deepEqual((await socket.waitFor((f) => f[1] === '1'))[4], {
      status: 'error',
      response: { reason: 'JwtSignatureError: Failed to validate JWT signature' },
    });
    socket.send(['2', '2', 'realtime:p', 'phx_join', { config: { private: true } }]);
    assert.deepEqual((await socket.waitFor((f) => f[1] === '2'))[4], {
      status: 'error',
      response: { reason: 'Unauthorized: You do not have permissions to read from this Channel topic: p' },
    });
    await alive();
  });

  it('encodes a server user broadcast as the kind-4 frame realtime-js decodes', () => {
    const frame = Buffer.from(
      encodeUserBroadcast('realtime:r', { event: 'e', payload: { x: 1 }, binary: false, meta: undefined }),
    );
    assert.equal(frame[0], 4);
    assert.deepEqual([...frame.subarray(1, 5)], [10, 1, 0, 1]);
    assert.equal(frame.subarray(5).toString(), 'realtime:re{"x":1}');
  });
});

describe('supabase: idle sockets', function () {
  this.timeout(30_000);
  let server: PgrtServer;

  before(async () => {
    server = await createServer({
      app,
      migrate,
      protocols: [supabase({ idleTimeoutMs: 300, features: [] })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
  });

  after(async () => {
    await server?.close();
  });

  it('closes a socket that sends nothing for idleTimeoutMs, and keeps one that sends heartbeats', async () => {
    const url = `ws://127.0.0.1:${server.port}/realtime/v1/websocket?apikey=anon&vsn=2.0.0`;
    const idle = await RawPhoenix.open(url);
    const beating = await RawPhoenix.open(url);
    let n = 0;
    const beat = setInterval(() => beating.send([null, String(++n), 'phoenix', 'heartbeat', {}]), 50);
    try {
      await waitUntil(() => idle.closed !== undefined, { what: () => 'the idle socket to be closed' });
      assert.equal(idle.closed?.code, 1000);
      assert.equal(beating.closed, undefined, 'the socket sending heartbeats is open');
      await beating.waitFor((f) => f[1] === String(n));
    } finally {
      clearInterval(beat);
      await beating.close();
    }
  });
});
