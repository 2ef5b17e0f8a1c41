/**
 * Wire tests of the core bridge: core methods as procedures (results after the write fence, error URIs), and
 * publications through the private topic with the client helper (snapshot, ready, external writes, errors).
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { z } from 'zod';
import { App } from '../../core/app.js';
import { ClientError } from '../../core/errors.js';
import { createServer, type PgrtServer, wamp } from '../../index.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { type Change, SubscriptionError, subscribe } from './client.js';
import { RawWampClient } from './fixtures/raw-client.js';
import { openAutobahn, roundTrip } from './fixtures/router.js';

interface WampErrorShape {
  readonly error?: string;
  readonly kwargs?: Record<string, unknown>;
}

describe('WAMP core bridge', function () {
  this.timeout(20_000);
  const table = `wamp_items_${process.pid}`;
  let server: PgrtServer;
  let url: string;
  let db: pg.Client;

  before(async () => {
    const app = new App()
      .collection('items', { table })
      .publish('items', (ctx) => ctx.find('items', {}, { sort: { name: 1 } }))
      .publish('items.named', { params: [z.string()] }, (ctx, name) => ctx.find('items', { name }))
      .method('items.add', { params: [z.string().min(1)] }, async (ctx, name) =>
        ctx.insert('items', { name, at: new Date(1_700_000_000_000) }),
      )
      .method('items.echo', (_ctx, ...params: unknown[]) => params)
      .method('items.nothing', () => undefined)
      .method('items.refuse', () => {
        throw new ClientError('not-allowed', 'You may not', { why: 'test' });
      })
      .method('items.crash', () => {
        throw new TypeError('secret internal detail');
      });
    server = await createServer({
      app,
      protocols: [wamp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: async (q) => {
        await q.query(`DROP TABLE IF EXISTS ${table}`);
        await q.query(`CREATE TABLE ${table} (id text PRIMARY KEY, name text NOT NULL, at timestamptz)`);
        await q.query(`INSERT INTO ${table} (id, name) VALUES ('seed1', 'alpha'), ('seed2', 'beta')`);
      },
    });
    url = `ws://127.0.0.1:${server.port}/ws`;
    db = new pg.Client(testDatabaseUrl());
    await db.connect();
  });

  after(async () => {
    await db?.end();
    await server?.close();
  });

  it('calls a core method: the result is args[0], sent after the data its writes caused', async () => {
    const { client, session } = await RawWampClient.join(url);
    client.send([32, 1, {}, `pgrt.session.${session}`]);
    await client.next((m) => m[0] === 33);
    client.send([48, 2, {}, 'pgrt.subscribe', ['items']]);
    const subId = ((await client.next((m) => m[0] === 50 && m[1] === 2))[3] as string[])[0];
    await client.next((m) => m[0] === 36 && (m[5] as { msg: string }).msg === 'ready');
    client.received.length = 0;
    client.send([48, 3, {}, 'items.add', ['gamma']]);
    const result = await client.next((m) => m[0] === 50 && m[1] === 3);
    const id = (result[3] as string[])[0]!;
    const addedIndex = client.received.findIndex(
      (m) => m[0] === 36 && (m[5] as { msg: string; id: string }).id === id,
    );
    assert.ok(addedIndex >= 0, 'the added event arrived before RESULT');
    const added = client.received[addedIndex]![5] as Record<string, unknown>;
    assert.deepEqual(added, {
      msg: 'added',
      collection: 'items',
      id,
      fields: { name: 'gamma', at: { $date: 1_700_000_000_000 } },
    });
    assert.equal(typeof subId, 'string');
    client.close();
  });

  it('passes EJSON params and results, and omits args for an undefined result', async () => {
    const { session } = await openAutobahn(url, { serializer: 'cbor' }).then((h) => h);
    const echoed = await session.call('items.echo', [{ $date: 5 }, 'x', 1]);
    assert.deepEqual(echoed, [{ $date: 5 }, 'x', 1]);
    const { client } = await RawWampClient.join(url, { serializer: 'msgpack' });
    client.send([48, 1, {}, 'items.nothing', []]);
    assert.deepEqual(await client.next((m) => m[0] === 50), [50, 1, {}]);
    client.close();
  });

  it('maps errors: client errors to pgrt.error.<code> with {error, reason, details}, internal ones opaque', async () => {
    const handle = await openAutobahn(url);
    const { session } = handle;
    await assert.rejects(Promise.resolve(session.call('items.refuse')), (e: WampErrorShape) => {
      assert.equal(e.error, 'pgrt.error.not_allowed');
      assert.deepEqual(e.kwargs, { error: 'not-allowed', reason: 'You may not', details: { why: 'test' } });
      return true;
    });
    await assert.rejects(Promise.resolve(session.call('items.add', [''])), (e: WampErrorShape) => {
      assert.equal(e.error, 'pgrt.error.validation_error');
      assert.equal(e.kwargs?.error, 'validation-error');
      return true;
    });
    await assert.rejects(Promise.resolve(session.call('items.crash')), (e: WampErrorShape) => {
      assert.equal(e.error, 'pgrt.error.internal');
      assert.deepEqual(e.kwargs, { error: 500, reason: 'Internal server error' });
      assert.ok(!JSON.stringify(e).includes('secret'));
      return true;
    });
    await assert.rejects(
      Promise.resolve(session.register('items.add', () => 1)),
      (e: WampErrorShape) => e.error === 'wamp.error.procedure_already_exists',
    );
    await handle.close();
  });

  for (const serializer of ['json', 'msgpack', 'cbor'] as const) {
    it(`streams a publication to an Autobahn client over ${serializer}: snapshot, ready, then external writes`, async () => {
      const handle = await openAutobahn(url, { serializer });
      const sub = await subscribe(handle.session, 'items');
      await sub.ready;
      const items = sub.collection('items');
      assert.equal(items.get('seed1')?.name, 'alpha');
      assert.equal(items.get('seed2')?.name, 'beta');
      const changes: Change[] = [];
      sub.onChange((change) => changes.push(change));
      const id = `ext-${serializer}`;
      await db.query(`INSERT INTO ${table} (id, name, at) VALUES ($1, 'external', $2)`, [id, new Date(42)]);
      await waitUntil(() => items.has(id), { timeoutMs: 5000 });
      assert.ok(items.get(id)?.at instanceof Date, 'dates arrive as Dates through EJSON');
      assert.equal((items.get(id)!.at as Date).getTime(), 42);
      await db.query(`UPDATE ${table} SET name = 'renamed', at = NULL WHERE id = $1`, [id]);
      await waitUntil(() => items.get(id)?.name === 'renamed', { timeoutMs: 5000 });
      await db.query(`DELETE FROM ${table} WHERE id = $1`, [id]);
      await waitUntil(() => !items.has(id), { timeoutMs: 5000 });
      assert.deepEqual(
        changes.map((c) => c.type),
        ['added', 'changed', 'removed'],
      );
      await sub.stop();
      assert.equal(await sub.stopped, undefined);
      await handle.close();
    });
  }

  it('passes publication params, and reports an unknown publication as nosub 404', async () => {
    const handle = await openAutobahn(url);
    const named = await subscribe(handle.session, 'items.named', 'beta');
    await named.ready;
    assert.deepEqual([...named.collection('items').keys()], ['seed2']);
    const missing = await subscribe(handle.session, 'no.such.publication');
    await assert.rejects(missing.ready, (e: unknown) => {
      assert.ok(e instanceof SubscriptionError);
      assert.equal(e.publicationError.error, 404);
      return true;
    });
    await handle.close();
  });

  it('refuses pgrt.subscribe before the private topic is subscribed', async () => {
    const handle = await openAutobahn(url);
    await assert.rejects(
      Promise.resolve(handle.session.call('pgrt.subscribe', ['items'])),
      (e: WampErrorShape) => e.error === 'pgrt.error.no_session_topic',
    );
    await handle.close();
  });

  it('serves WAMP pub/sub and RPC among clients beside the bridge', async () => {
    const a = await openAutobahn(url);
    const b = await openAutobahn(url, { serializer: 'msgpack' });
    const got: unknown[] = [];
    await a.session.subscribe('com.chat', (args?: unknown[]) => {
      got.push(args?.[0]);
    });
    await b.session.publish('com.chat', ['hi'], {}, { acknowledge: true });
    await roundTrip(a);
    assert.deepEqual(got, ['hi']);
    await a.close();
    await b.close();
  });
});
