/**
 * Outbound coalescing of a Supabase socket (`coalesceMs`, as DDP's and WAMP's): the frames of one event-loop turn
 * are written inside one cork window, released once when the turn ends; without a coalescer each frame is written
 * alone. Driven through SupabaseSocket with a recording connection (no sockets): what the transport does with a
 * window is transports/websocket-endpoint.test.ts's subject.
 */
import assert from 'node:assert/strict';
import { nextTurn, RecordingConnection } from '../../core/fixtures/recording-connection.js';
import { silentLogger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import { WriteCoalescer } from '../../transports/write-coalescer.js';
import type { ChannelServices } from './channel.js';
import { SupabaseSocket } from './supabase-socket.js';

const core = { openSession: () => ({ close: () => {} }) } as unknown as RealtimeCore;
const services = {} as ChannelServices;

function open(coalescer: WriteCoalescer | undefined): RecordingConnection {
  const connection = new RecordingConnection('', (frame) => frame[1]);
  const info = { id: 'c1', protocol: 'supabase', clientAddress: '127.0.0.1', httpHeaders: {} };
  new SupabaseSocket(
    core,
    connection,
    info,
    services,
    { maxChannels: 10, apikey: undefined, vsn: '2.0.0', coalescer },
    silentLogger,
  );
  return connection;
}

function heartbeat(connection: RecordingConnection, ref: string): void {
  connection.receive([null, ref, 'phoenix', 'heartbeat', {}]);
}

describe('supabase: outbound coalescing', () => {
  it("writes a turn's frames in one cork window; a frame after it opens a new one", async () => {
    const connection = open(new WriteCoalescer(0));
    for (const ref of ['1', '2', '3']) heartbeat(connection, ref);
    assert.deepEqual(connection.log, ['cork', 'send 1', 'send 2', 'send 3']);
    await nextTurn();
    heartbeat(connection, '4');
    await nextTurn();
    assert.deepEqual(connection.log, [
      'cork',
      'send 1',
      'send 2',
      'send 3',
      'uncork',
      'cork',
      'send 4',
      'uncork',
    ]);
  });

  it('the window still ends after the socket closed', async () => {
    const connection = open(new WriteCoalescer(0));
    heartbeat(connection, '1');
    connection.listener?.connectionClosed(1000, '');
    heartbeat(connection, '2');
    await nextTurn();
    assert.deepEqual(connection.log, ['cork', 'send 1', 'uncork']);
  });

  it('without a coalescer every frame is written alone', async () => {
    const connection = open(undefined);
    for (const ref of ['1', '2']) heartbeat(connection, ref);
    await nextTurn();
    assert.deepEqual(connection.log, ['send 1', 'send 2']);
  });
});
