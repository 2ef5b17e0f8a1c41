/**
 * Broadcast and presence as raw Phoenix 2.0.0 frames: the exact replies to bad input (a presence event that is
 * neither track nor untrack, a track payload that is not a map, an acked broadcast without an event, one over
 * maxBroadcastBytes), each leaving the channel joined and working; an oversized track shuts the channel down as
 * Supabase does; presence_state and presence_diff shapes on the wire.
 */
import assert from 'node:assert/strict';
import { createServer, type PgrtServer } from '../../index.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { app, migrate } from './fixtures/app.js';
import { RawPhoenix } from './fixtures/clients.js';
import { supabase } from './index.js';

let counter = 0;

describe('supabase: broadcast and presence, raw frames', function () {
  this.timeout(20_000);
  let server: PgrtServer;
  let url: string;
  const sockets: RawPhoenix[] = [];

  before(async () => {
    server = await createServer({
      app,
      migrate,
      protocols: [supabase({ maxBroadcastBytes: 100 })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    url = `ws://127.0.0.1:${server.port}/realtime/v1/websocket?apikey=anon&vsn=2.0.0`;
  });

  afterEach(async () => {
    for (const socket of sockets.splice(0)) await socket.close();
  });

  after(async () => {
    await server?.close();
  });

  /** A socket joined to a fresh topic with `config`; resolves to it and the topic. */
  async function joined(config: Record<string, unknown>): Promise<{ socket: RawPhoenix; topic: string }> {
    const socket = await RawPhoenix.open(url);
    sockets.push(socket);
    const topic = `realtime:frames-${process.pid}-${++counter}`;
    socket.send(['1', '1', topic, 'phx_join', { config, access_token: 'anon' }]);
    await socket.waitFor((f) => f[3] === 'phx_reply' && f[1] === '1');
    return { socket, topic };
  }

  /**
   * Pushes `event` with `payload` on `topic` as ref `ref` (join ref 1); checks that the answer is that push's
   * `phx_reply` on that topic and resolves to the reply's payload (`{status, response}`).
   */
  async function push(
    socket: RawPhoenix,
    topic: string,
    ref: string,
    event: string,
    payload: Record<string, unknown>,
  ): Promise<unknown> {
    socket.send(['1', ref, topic, event, payload]);
    const reply = await socket.waitFor((f) => f[1] === ref);
    assert.deepEqual(reply.slice(0, 4), ['1', ref, topic, 'phx_reply']);
    return reply[4];
  }

  it('answers bad presence pushes with the error replies and keeps the channel', async () => {
    const { socket, topic } = await joined({ presence: { key: 'ann', enabled: true } });
    const state = await socket.waitFor((f) => f[3] === 'presence_state');
    assert.deepEqual(state, ['1', null, topic, 'presence_state', {}]);
    assert.deepEqual(
      await push(socket, topic, '2', 'presence', { type: 'presence', event: 'wave', payload: {} }),
      { status: 'error', response: {} },
    );
    assert.deepEqual(
      await push(socket, topic, '3', 'presence', { type: 'presence', event: 'track', payload: [1, 2] }),
      { status: 'error', response: { reason: 'Presence track payload must be a map' } },
    );
    assert.deepEqual(
      await push(socket, topic, '4', 'presence', {
        type: 'presence',
        event: 'track',
        payload: { user: 'ann' },
      }),
      { status: 'ok', response: {} },
    );
    const diff = await socket.waitFor((f) => f[3] === 'presence_diff');
    const ref = diff[4].joins.ann.metas[0].phx_ref;
    assert.equal(typeof ref, 'string');
    assert.deepEqual(diff, [
      '1',
      null,
      topic,
      'presence_diff',
      { joins: { ann: { metas: [{ user: 'ann', phx_ref: ref }] } }, leaves: {} },
    ]);
  });

  it('shuts the channel down on a track over maxBroadcastBytes, as Supabase does', async () => {
    const { socket, topic } = await joined({ presence: { key: 'big', enabled: false } });
    socket.send([
      '1',
      '2',
      topic,
      'presence',
      { type: 'presence', event: 'track', payload: { big: 'x'.repeat(200) } },
    ]);
    assert.deepEqual(await socket.waitFor((f) => f[3] === 'system'), [
      '1',
      null,
      topic,
      'system',
      {
        extension: 'system',
        status: 'error',
        message: 'Track message size exceeded',
        channel: topic.slice('realtime:'.length),
      },
    ]);
    await socket.waitFor((f) => f[3] === 'phx_close');
    // The socket survives: another channel joins.
    socket.send(['5', '5', `${topic}-again`, 'phx_join', { config: {}, access_token: 'anon' }]);
    const reply = await socket.waitFor((f) => f[1] === '5');
    assert.equal(reply[4].status, 'ok');
  });

  it('answers an acked broadcast without an event and one over maxBroadcastBytes with errors, then sends the next', async () => {
    const { socket, topic } = await joined({ broadcast: { ack: true, self: true } });
    assert.deepEqual(await push(socket, topic, '2', 'broadcast', { type: 'broadcast', payload: {} }), {
      status: 'error',
      response: 'invalid_payload',
    });
    assert.deepEqual(
      await push(socket, topic, '3', 'broadcast', {
        type: 'broadcast',
        event: 'e',
        payload: { big: 'x'.repeat(200) },
      }),
      { status: 'error', response: 'payload_size_exceeded' },
    );
    assert.deepEqual(
      await push(socket, topic, '4', 'broadcast', { type: 'broadcast', event: 'e', payload: { n: 1 } }),
      { status: 'ok', response: {} },
    );
    const own = await socket.waitFor((f) => f[3] === 'broadcast');
    assert.deepEqual(own[4], { type: 'broadcast', event: 'e', payload: { n: 1 } });
  });
});
