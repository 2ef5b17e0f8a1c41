/**
 * npm `ddp.js` (with `ws` as its SocketConstructor): the shared client scenario, plus its quirks a server must
 * tolerate: plain JSON (no EJSON decoding) and `params` omitted entirely when the caller passes none.
 */
import assert from 'node:assert/strict';
import type { DdpJsMessage } from 'ddp.js';
import WebSocket from 'ws';
import { describeClientScenario } from '../fixtures/client-scenario.js';
import { DdpJs } from '../fixtures/third-party-clients.js';
import { waitUntil } from '../fixtures/wait.js';

describeClientScenario('ddp.js', (context) => {
  it('accepts sub and method messages without `params` (ddp.js omits undefined params)', async () => {
    const ddp = new DdpJs({ endpoint: context().url, SocketConstructor: WebSocket, autoReconnect: false });
    const messages: DdpJsMessage[] = [];
    let connected = false;
    ddp.on('connected', () => {
      connected = true;
    });
    for (const type of ['ready', 'nosub', 'result', 'error'] as const) ddp.on(type, (m) => messages.push(m));
    try {
      await waitUntil(() => connected, { what: () => 'connected' });
      const subId = ddp.sub('presentations');
      await waitUntil(
        () => messages.some((m) => m.msg === 'ready' || m.msg === 'nosub' || m.msg === 'error'),
        {
          what: () => `ready of ${subId}`,
        },
      );
      assert.deepEqual(messages[0], { msg: 'ready', subs: [subId] });
      // A method whose schema needs a parameter: missing params reach validation, not a protocol error.
      const methodId = ddp.method('presentations.remove');
      await waitUntil(() => messages.some((m) => m.msg === 'result' && m.id === methodId), {
        what: () => 'result',
      });
      const result = messages.find((m) => m.msg === 'result' && m.id === methodId);
      assert.ok(result && typeof result.error === 'object' && result.error !== null);
      assert.equal((result.error as Record<string, unknown>).error, 'validation-error');
      assert.equal(messages.filter((m) => m.msg === 'error').length, 0);
    } finally {
      ddp.disconnect();
    }
  });
});
