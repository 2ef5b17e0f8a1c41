/**
 * Three kinds of client on one pgrt process and one table (the talk's presentations): a supabase-js client
 * (postgres_changes, the issue's `title=eq.Hello` filter) sees the writes of a DDP method, a WAMP call and psql,
 * in commit order, with the same rows the DDP client's view holds.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  type ChangePayload,
  type SupabaseClientLike,
  subscribe,
  supabaseClient,
} from '../../adapters/supabase/fixtures/clients.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer, supabase, wamp } from '../../index.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

describe('supabase-js beside DDP and WAMP clients (presentations)', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let ddpClient: RawDdpClient;
  let wampClient: AutobahnHandle;
  let sb: SupabaseClientLike;
  const all: ChangePayload[] = [];
  const hello: ChangePayload[] = [];
  const tag = randomUUID().slice(0, 8);

  before(async () => {
    server = await createServer({
      app: presentationsApp(),
      migrate: migratePresentations,
      protocols: [ddp(), wamp(), supabase({ access: { tables: { presentations: true } } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: false,
    });
    ddpClient = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    await ddpClient.subscribe('presentations');
    wampClient = await openAutobahn(`ws://127.0.0.1:${server.port}/ws`);
    sb = supabaseClient(`http://127.0.0.1:${server.port}`, 'anon');
    const channel = sb
      .channel('room1')
      .on('postgres_changes', { event: '*', schema: 'public', table: 'presentations' }, (p) => {
        if (String(p.new.title ?? p.old.id).startsWith(tag) || p.eventType === 'DELETE') all.push(p);
      })
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'presentations', filter: 'title=eq.Hello' },
        (p) => hello.push(p),
      );
    const seen = await subscribe(channel);
    await waitUntil(() => seen.system.some((m) => m.status === 'ok'));
  });

  after(async () => {
    await sb?.removeAllChannels();
    sb?.realtime.disconnect();
    await wampClient?.close();
    await ddpClient?.close();
    await server?.close();
  });

  it('gets the writes of a DDP method, a WAMP call and psql, in commit order', async () => {
    const ddpId = (await ddpClient.call('presentations.add', { title: `${tag} from DDP` })).result as string;
    const wampId = String(
      await wampClient.session.call('presentations.add', [{ title: `${tag} from WAMP` }]),
    );
    await server.db.query(`INSERT INTO presentations (id, title) VALUES ($1, $2)`, [
      `${tag}-psql`,
      `${tag} from psql`,
    ]);
    await wampClient.session.call('presentations.update', [ddpId, { subtitle: 'edited over WAMP' }]);
    await ddpClient.call('presentations.remove', wampId);
    await waitUntil(() => all.length >= 5, { what: () => JSON.stringify(all.map((p) => p.eventType)) });
    assert.deepEqual(
      all.map((p) => `${p.eventType} ${String(p.new.title ?? p.old.id)}`),
      [
        `INSERT ${tag} from DDP`,
        `INSERT ${tag} from WAMP`,
        `INSERT ${tag} from psql`,
        `UPDATE ${tag} from DDP`,
        `DELETE ${wampId}`,
      ],
    );
    const updated = all[3] as ChangePayload;
    assert.equal(updated.new.subtitle, 'edited over WAMP');
    assert.deepEqual(updated.old, { id: ddpId });
    // The DDP client's view holds the same rows.
    await waitUntil(() => !ddpClient.view('presentations').has(wampId));
    assert.equal(ddpClient.view('presentations').get(ddpId)?.subtitle, 'edited over WAMP');
  });

  it("filters with the issue's title=eq.Hello", async () => {
    await ddpClient.call('presentations.add', { title: 'Hello' });
    await ddpClient.call('presentations.add', { title: `${tag} not hello` });
    await ddpClient.call('presentations.add', { title: 'Hello' });
    await waitUntil(() => hello.length >= 2 && all.some((p) => p.new.title === `${tag} not hello`));
    assert.deepEqual(
      hello.map((p) => `${p.eventType} ${String(p.new.title)}`),
      ['INSERT Hello', 'INSERT Hello'],
    );
  });
});
