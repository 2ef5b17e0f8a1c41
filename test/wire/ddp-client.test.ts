/**
 * npm `ddp` (oortcloud/node-ddp-client) over raw WebSocket (`useSockJs: false`, `/websocket`): the shared client
 * scenario, plus what this library does its own way (EJSON via ddp-ejson, a `collections` store keyed by `_id`).
 */
import assert from 'node:assert/strict';
import DDPClient from 'ddp';
import { describeClientScenario } from '../fixtures/client-scenario.js';
import { waitUntil } from '../fixtures/wait.js';

describeClientScenario('ddp', (context) => {
  it('keeps documents in `collections` with `_id` and EJSON-decoded dates', async () => {
    const { url, db } = context();
    const client = new DDPClient({ url, useSockJs: false, autoReconnect: false });
    const closed = new Promise<void>((resolve) => client.once('socket-close', () => resolve()));
    let id: unknown;
    try {
      await new Promise<void>((resolve, reject) =>
        client.connect((error) => (error ? reject(new Error(String(error))) : resolve())),
      );
      await new Promise<void>((resolve, reject) =>
        client.subscribe('presentations', [], (error) =>
          error ? reject(new Error(JSON.stringify(error))) : resolve(),
        ),
      );
      // The callback runs on `result`; the data may follow (it precedes only `updated`).
      id = await new Promise<unknown>((resolve, reject) =>
        client.call('presentations.add', [{ title: 'ddp collections store' }], (error, result) =>
          error ? reject(new Error(JSON.stringify(error))) : resolve(result),
        ),
      );
      assert.equal(typeof id, 'string');
      const key = String(id);
      await waitUntil(() => client.collections.presentations?.[key] !== undefined, {
        what: () => `${key} in client.collections`,
      });
      const doc = client.collections.presentations?.[key];
      assert.equal(doc?._id, id);
      assert.equal(doc?.title, 'ddp collections store');
      assert.ok(doc?.created_at instanceof Date, `created_at: ${JSON.stringify(doc?.created_at)}`);
    } finally {
      if (typeof id === 'string') await db.query('DELETE FROM presentations WHERE id = $1', [id]);
      client.close();
      await closed;
    }
  });
});
