/**
 * One server, two protocols: a DDP client (raw `ws`) and Autobahn|JS clients (WAMP) on the presentations app.
 * A method call from either protocol and an INSERT from a plain `pg` client reach both; WAMP clients route their
 * own pub/sub while DDP traffic flows.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { type LiveSubscription, subscribe } from '../../adapters/wamp/client.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { connectTestDatabase } from '../fixtures/presentations-table.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

describe('DDP and WAMP on one server', function () {
  this.timeout(30_000);
  const tag = randomUUID().slice(0, 8);
  let server: PgrtServer;
  let db: pg.Client;
  let ddpClient: RawDdpClient;
  let wampClient: AutobahnHandle;
  let live: LiveSubscription;

  before(async () => {
    server = await createServer({
      app: presentationsApp(),
      protocols: [ddp(), wamp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migratePresentations,
    });
    db = await connectTestDatabase();
    ddpClient = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    await ddpClient.subscribe('presentations');
    wampClient = await openAutobahn(`ws://127.0.0.1:${server.port}/ws`);
    live = await subscribe(wampClient.session, 'presentations');
    await live.ready;
  });

  after(async () => {
    await wampClient?.close();
    await ddpClient?.close();
    await db?.end();
    await server?.close();
  });

  const titlesIn = (docs: ReadonlyMap<string, Readonly<Record<string, unknown>>>) =>
    new Set([...docs.values()].map((d) => d.title).filter((t) => String(t).startsWith(tag)));

  async function reachesBoth(title: string): Promise<void> {
    await waitUntil(() => titlesIn(ddpClient.view('presentations')).has(title), {
      what: () => `DDP sees ${title}`,
    });
    await waitUntil(() => titlesIn(live.collection('presentations')).has(title), {
      what: () => `WAMP sees ${title}`,
    });
  }

  it('starts both clients from the same snapshot', () => {
    const ddpIds = [...ddpClient.view('presentations').keys()].sort();
    const wampIds = [...live.collection('presentations').keys()].sort();
    assert.deepEqual(wampIds, ddpIds);
  });

  it('a DDP method call reaches the WAMP client', async () => {
    const outcome = await ddpClient.call('presentations.add', { title: `${tag} from DDP` });
    assert.equal(typeof outcome.result, 'string');
    await reachesBoth(`${tag} from DDP`);
  });

  it('a WAMP method call reaches the DDP client, and its RESULT follows its data', async () => {
    const id = await wampClient.session.call('presentations.add', [{ title: `${tag} from WAMP` }]);
    assert.equal(typeof id, 'string');
    assert.equal(
      live.collection('presentations').get(String(id))?.title,
      `${tag} from WAMP`,
      'data before RESULT',
    );
    await reachesBoth(`${tag} from WAMP`);
  });

  it('an INSERT from a pg client reaches both', async () => {
    await db.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [`x${tag}`, `${tag} from pg`]);
    await reachesBoth(`${tag} from pg`);
    const wampDoc = live.collection('presentations').get(`x${tag}`);
    assert.equal(wampDoc?.title, `${tag} from pg`);
  });

  it('routes WAMP pub/sub between WAMP clients while DDP traffic flows', async () => {
    const subscriber = await openAutobahn(`ws://127.0.0.1:${server.port}/ws`, { serializer: 'msgpack' });
    const got: unknown[] = [];
    await subscriber.session.subscribe('com.talk.chat', (args?: unknown[]) => {
      got.push(args?.[0]);
    });
    const ddpCalls = Array.from({ length: 10 }, (_, i) =>
      ddpClient.call('presentations.add', { title: `${tag} busy ${i}` }),
    );
    for (let i = 0; i < 10; i++) {
      await wampClient.session.publish('com.talk.chat', [i], {}, { acknowledge: true });
    }
    const outcomes = await Promise.all(ddpCalls);
    assert.ok(outcomes.every((o) => typeof o.result === 'string'));
    await waitUntil(() => got.length === 10, { what: () => 'ten chat events' });
    assert.deepEqual(got, [...Array(10).keys()]);
    await reachesBoth(`${tag} busy 9`);
    await subscriber.close();
  });
});
