/**
 * npm `simpleddp` (with `ws` as its SocketConstructor): the shared client scenario, plus its reactive store
 * (`collection().fetch()` / `onChange`) following a write made outside the server.
 */
import assert from 'node:assert/strict';
import simpleDDP from 'simpleddp';
import WebSocket from 'ws';
import { describeClientScenario } from '../fixtures/client-scenario.js';
import { waitUntil } from '../fixtures/wait.js';

describeClientScenario('simpleddp', (context) => {
  it('fetch() follows an external UPDATE, with the change reported by onChange', async () => {
    const { url, db } = context();
    const server = new simpleDDP({ endpoint: url, SocketConstructor: WebSocket, autoReconnect: false });
    const id = `simpleddp-onchange-${process.pid}`;
    try {
      await server.connect();
      await server.subscribe('presentations').ready();
      await db.query("INSERT INTO presentations (id, title, created_at) VALUES ($1, 'before', now())", [id]);
      const collection = server.collection('presentations');
      await waitUntil(() => collection.fetch().some((d) => d.id === id), { what: () => `added ${id}` });
      const changes: Array<Record<string, unknown>> = [];
      const listener = collection.onChange((change) => {
        if (change.changed && change.changed.next.id === id) changes.push(change.changed.fieldsChanged);
      });
      await db.query("UPDATE presentations SET title = 'after' WHERE id = $1", [id]);
      await waitUntil(() => changes.length > 0, { what: () => `changed ${id}` });
      listener.stop();
      assert.deepEqual(changes[0], { title: 'after' });
      assert.equal(collection.fetch().find((d) => d.id === id)?.title, 'after');
    } finally {
      await db.query('DELETE FROM presentations WHERE id = $1', [id]);
      await server.disconnect();
    }
  });
});
