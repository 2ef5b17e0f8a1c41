/**
 * DDP heartbeats on the shared timer wheel, over real sockets: an idle client that answers pings stays
 * connected; a silent one (it never reads, so never answers) is pinged and then closed.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { PgrtServer } from '../../server.js';
import { ddpUrl, startPresentations } from '../../test/fixtures/presentations-servers.js';
import { RawDdpClient } from '../../test/fixtures/raw-ddp-client.js';
import { sleep, waitUntil } from '../../test/fixtures/wait.js';

describe('DDP heartbeats on the timer wheel', function () {
  this.timeout(20_000);
  let server: PgrtServer | undefined;

  before(async () => {
    server = await startPresentations({ heartbeatInterval: 60, heartbeatTimeout: 60 });
  });
  after(async () => {
    await server?.close();
  });

  it('pings an idle client and keeps it while it answers', async () => {
    const client = await RawDdpClient.connect(ddpUrl(server!.port));
    await waitUntil(() => client.messages.filter((m) => m.msg === 'ping').length >= 3, {
      what: () => `3 pings, saw ${client.messages.map((m) => m.msg).join(',')}`,
    });
    assert.ok(client.open);
    await client.close();
  });

  it('closes a client that does not answer a ping within the timeout', async () => {
    const ws = new WebSocket(ddpUrl(server!.port), { perMessageDeflate: false });
    const received: string[] = [];
    ws.on('message', (data) => received.push(String(data)));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const code = await Promise.race([closed, sleep(5000).then(() => -1)]);
    assert.notEqual(code, -1, 'the silent client was not closed');
    assert.ok(
      received.some((text) => JSON.parse(text).msg === 'ping'),
      'no ping before the close',
    );
  });
});
