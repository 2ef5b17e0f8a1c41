/**
 * WAMP over RawSocket (transports/rawsocket-endpoint.ts) with a real client: Autobahn|JS's Node RawSocket
 * transport, beside WebSocket sessions on the same router and the presentations app. Routing across the two
 * transports, live data from PostgreSQL, the session's transport details, a Unix socket, and the limits: the
 * connection limit answered in the handshake, a message over the client's maximum, a reader that stalls, and
 * shutdown. Byte-level cases (handshake errors, PING/PONG, oversized frames) are the conformance suite's
 * transport.08–13.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { subscribe } from '../../adapters/wamp/client.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { FRAME, frame, RawSocketPeer } from '../../conformance/wamp/rawsocket-client.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, type PgrtServer, wamp } from '../../index.js';
import { connectTestDatabase } from '../fixtures/presentations-table.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

// Below what the live-data case's subscription may send in one turn (the test database's presentations table
// grows with the suite): a burst the client reads is not a slow consumer (test/wire/slow-consumer.test.ts).
const MAX_BUFFERED_BYTES = 256 * 1024;

describe('WAMP over RawSocket', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  let server: PgrtServer;
  let db: pg.Client;
  let rsUrl = '';
  let wsUrl = '';
  const open: AutobahnHandle[] = [];

  async function autobahn(url: string): Promise<AutobahnHandle> {
    const handle = await openAutobahn(url);
    open.push(handle);
    return handle;
  }

  before(async () => {
    server = await createServer({
      app: presentationsApp().method('blob', (_ctx, bytes: unknown) => 'x'.repeat(Number(bytes))),
      protocols: [
        wamp({
          rawSocket: { port: 0, host: '127.0.0.1' },
          realms: [{ name: 'realm1', metaApiRoles: ['anonymous'] }], // wamp.session.get below
        }),
      ],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migratePresentations,
      limits: { maxBufferedBytes: MAX_BUFFERED_BYTES, maxConnectionsPerAddress: 50 },
    });
    db = await connectTestDatabase();
    const listener = server.listeners.find((l) => l.transport === 'rawsocket');
    assert.equal(listener?.protocol, 'wamp');
    rsUrl = `rs://127.0.0.1:${listener?.port}`;
    wsUrl = `ws://127.0.0.1:${server.port}/ws`;
  });

  after(async () => {
    for (const handle of open) await handle.close().catch(() => {});
    await db?.end();
    await server?.close();
  });

  it('routes calls and events between a RawSocket session and a WebSocket session', async () => {
    const raw = await autobahn(rsUrl);
    const web = await autobahn(wsUrl);
    await raw.session.register(
      `com.rs.${tag}.add`,
      (args?: unknown[]) => Number(args?.[0]) + Number(args?.[1]),
    );
    assert.equal(await web.session.call(`com.rs.${tag}.add`, [2, 3]), 5);
    const events: unknown[] = [];
    await raw.session.subscribe(`com.rs.${tag}.news`, (args?: unknown[]) => events.push(args?.[0]));
    await web.session.publish(`com.rs.${tag}.news`, ['hello'], {}, { acknowledge: true });
    await waitUntil(() => events.length === 1, { what: () => 'the event on RawSocket' });
    assert.deepEqual(events, ['hello']);
    const details = (await web.session.call('wamp.session.get', [raw.session.id])) as {
      transport: { type: string; serializer: string };
    };
    assert.equal(details.transport.type, 'rawsocket');
    assert.equal(details.transport.serializer, 'json');
  });

  it('a RawSocket session gets live data: an INSERT from a pg client, a method call', async () => {
    const raw = await autobahn(rsUrl);
    const live = await subscribe(raw.session, 'presentations');
    await live.ready;
    await db.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [`rs${tag}`, `${tag} from pg`]);
    await waitUntil(() => live.collection('presentations').get(`rs${tag}`)?.title === `${tag} from pg`, {
      what: () => 'the inserted row over RawSocket',
    });
    const id = await raw.session.call('presentations.add', [{ title: `${tag} from RawSocket` }]);
    assert.equal(
      live.collection('presentations').get(String(id))?.title,
      `${tag} from RawSocket`,
      'data before RESULT',
    );
  });

  it('listens on a Unix socket when given a path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgrt-rs-'));
    const path = join(dir, 'wamp.sock');
    const unixServer = await createServer({
      app: presentationsApp(),
      protocols: [wamp({ rawSocket: { path } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    try {
      assert.equal(unixServer.listeners[0]?.path, path);
      const handle = await openAutobahn(`rs+unix://${path}`);
      await handle.session.register(`com.rs.${tag}.unix`, () => 'over unix');
      assert.equal(await handle.session.call(`com.rs.${tag}.unix`), 'over unix');
      await handle.close();
    } finally {
      await unixServer.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers the handshake with error 4 when the address has maxConnectionsPerAddress connections', async () => {
    const address = { host: '127.0.0.1', port: Number(new URL(rsUrl.replace(/^rs:/, 'http:')).port) };
    const peers: RawSocketPeer[] = [];
    try {
      while (server.host.guard.connectionsFrom('127.0.0.1') < 50) {
        const peer = await RawSocketPeer.connect(address);
        peers.push(peer);
        assert.equal((await peer.handshake(1))[1]! & 0x0f, 1, 'accepted while under the limit');
      }
      const refused = await RawSocketPeer.connect(address);
      peers.push(refused);
      assert.deepEqual([...(await refused.handshake(1))], [0x7f, 0x40, 0, 0]);
      await refused.closedWithin(2000);
    } finally {
      for (const peer of peers) peer.close();
    }
    await waitUntil(() => server.host.guard.connectionsFrom('127.0.0.1') < 50, {
      what: () => 'the peers to be gone',
    });
  });

  it("fails the connection rather than send a message over the client's maximum; others carry on", async () => {
    const address = { host: '127.0.0.1', port: Number(new URL(rsUrl.replace(/^rs:/, 'http:')).port) };
    const small = await RawSocketPeer.connect(address);
    try {
      // Length exponent 2: this client accepts messages up to 2 KiB.
      assert.equal((await small.handshake(1, 2))[1]! & 0x0f, 1);
      small.send(frame(FRAME.message, JSON.stringify([1, 'realm1', { roles: { caller: {} } }])));
      const welcome = JSON.parse((await small.frame(2000)).payload.toString('utf8')) as unknown[];
      assert.equal(welcome[0], 2, 'WELCOME');
      small.send(frame(FRAME.message, JSON.stringify([48, 1, {}, 'blob', [100]])));
      const result = JSON.parse((await small.frame(2000)).payload.toString('utf8')) as unknown[];
      assert.deepEqual(result.slice(0, 2), [50, 1], 'a small RESULT arrives');
      small.send(frame(FRAME.message, JSON.stringify([48, 2, {}, 'blob', [4000]])));
      await small.closedWithin(2000);
    } finally {
      small.close();
    }
    const other = await autobahn(rsUrl);
    assert.equal(await other.session.call('blob', [4000]), 'x'.repeat(4000));
  });

  it('terminates a RawSocket client that stops reading at maxBufferedBytes', async () => {
    const address = { host: '127.0.0.1', port: Number(new URL(rsUrl.replace(/^rs:/, 'http:')).port) };
    const stalled = await RawSocketPeer.connect(address);
    try {
      assert.equal((await stalled.handshake(1))[1]! & 0x0f, 1);
      stalled.send(frame(FRAME.message, JSON.stringify([1, 'realm1', { roles: { caller: {} } }])));
      await stalled.frame(2000);
      const before = server.host.guard.connectionsFrom('127.0.0.1');
      stalled.pause();
      // One call at a time, each result (64 KiB) under the cap: only results piling up unread can exceed it.
      let request = 0;
      const calls = setInterval(
        () => stalled.send(frame(FRAME.message, JSON.stringify([48, ++request, {}, 'blob', [64 * 1024]]))),
        5,
      );
      try {
        await waitUntil(() => server.host.guard.connectionsFrom('127.0.0.1') < before, {
          timeoutMs: 15_000,
          what: () => 'the stalled RawSocket connection to be terminated',
        });
      } finally {
        clearInterval(calls);
      }
      assert.ok(request > MAX_BUFFERED_BYTES / (64 * 1024), `${request} calls before the cap was hit`);
    } finally {
      stalled.close();
    }
  });

  it('shutdown closes RawSocket sessions (no GOODBYE) and stops accepting', async () => {
    const other = await createServer({
      app: presentationsApp(),
      protocols: [
        wamp({
          rawSocket: { port: 0, host: '127.0.0.1' },
          realms: [{ name: 'realm1', metaApiRoles: ['anonymous'] }], // wamp.session.get below
        }),
      ],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    const port = other.listeners[0]?.port;
    const handle = await openAutobahn(`rs://127.0.0.1:${port}`);
    let reason: string | undefined;
    handle.connection.onclose = (why) => {
      reason = why;
      return true;
    };
    let closed = false;
    const closing = other.close().then(() => {
      closed = true;
    });
    await waitUntil(() => reason !== undefined, {
      timeoutMs: 10_000,
      what: () => 'Autobahn to see the drop',
    });
    assert.equal(reason, 'lost', 'the transport dropped without a WAMP close');
    await waitUntil(() => closed, { timeoutMs: 15_000, what: () => 'the server to finish closing' });
    await closing;
    await assert.rejects(
      RawSocketPeer.connect({ host: '127.0.0.1', port: Number(port) }),
      'no longer listening',
    );
  });
});
