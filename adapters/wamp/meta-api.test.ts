/** Wire tests: the session, subscription and registration meta API, and testaments. */
import assert from 'node:assert/strict';
import { waitUntil } from '../../test/fixtures/wait.js';
import { RawWampClient } from './fixtures/raw-client.js';
import {
  type AutobahnHandle,
  OPEN_REALM,
  openAutobahn,
  roundTrip,
  startRouter,
  type TestRouter,
} from './fixtures/router.js';

describe('WAMP meta API', () => {
  let router: TestRouter;
  let observer: AutobahnHandle;
  const events: [string, unknown[] | undefined][] = [];
  before(async () => {
    router = await startRouter({ realms: [OPEN_REALM] });
    observer = await openAutobahn(router.url, { serializer: 'msgpack' });
    for (const topic of [
      'wamp.session.on_join',
      'wamp.session.on_leave',
      'wamp.subscription.on_create',
      'wamp.subscription.on_subscribe',
      'wamp.subscription.on_unsubscribe',
      'wamp.subscription.on_delete',
      'wamp.registration.on_create',
      'wamp.registration.on_register',
    ]) {
      await observer.session.subscribe(topic, (args?: unknown[]) => {
        events.push([topic, args]);
      });
    }
  });
  after(async () => {
    await observer.close();
    await router.close();
  });
  beforeEach(() => {
    events.length = 0;
  });
  const of = (prefix: string) => events.filter(([t]) => t.startsWith(prefix));

  it('counts, lists and describes sessions, and reports joins and leaves', async () => {
    const other = await openAutobahn(router.url, { serializer: 'cbor' });
    const id = other.session.id;
    await roundTrip(observer);
    const joined = events.find(([t]) => t === 'wamp.session.on_join')?.[1]?.[0] as Record<string, unknown>;
    assert.equal(joined.session, id);
    assert.equal(joined.authrole, 'anonymous');
    assert.equal(await observer.session.call('wamp.session.count'), 2);
    assert.equal(await observer.session.call('wamp.session.count', [['admin']]), 0);
    assert.deepEqual(
      new Set((await observer.session.call('wamp.session.list')) as number[]),
      new Set([id, observer.session.id]),
    );
    const details = (await observer.session.call('wamp.session.get', [id])) as Record<string, unknown>;
    assert.deepEqual([details.session, details.authid, details.authmethod], [id, String(id), 'anonymous']);
    await assert.rejects(
      Promise.resolve(observer.session.call('wamp.session.get', [12345])),
      (e: { error?: string }) => e.error === 'wamp.error.no_such_session',
    );
    await other.close();
    await waitUntil(() => events.some(([t]) => t === 'wamp.session.on_leave'), { what: () => 'on_leave' });
    assert.deepEqual(events.find(([t]) => t === 'wamp.session.on_leave')?.[1], [id, String(id), 'anonymous']);
  });

  it('kills a session with GOODBYE carrying the reason and message', async () => {
    const { client, session } = await RawWampClient.join(router.url);
    await observer.session.call('wamp.session.kill', [session], { reason: 'com.x.bye', message: 'm' });
    assert.deepEqual(await client.next((m) => m[0] === 6), [6, { message: 'm' }, 'com.x.bye']);
    assert.equal(router.protocol.realm('realm1')!.sessions.has(session), false);
    client.send([6, {}, 'wamp.close.goodbye_and_out']);
    client.close();
  });

  it('reports subscription lifecycle and answers lookup and count_subscribers', async () => {
    const { client, session } = await RawWampClient.join(router.url);
    client.send([32, 1, {}, 'com.meta.topic']);
    const subscription = (await client.next((m) => m[0] === 33))[2] as number;
    await roundTrip(observer);
    const lifecycle = of('wamp.subscription.');
    assert.deepEqual(
      lifecycle.map(([t]) => t),
      ['wamp.subscription.on_create', 'wamp.subscription.on_subscribe'],
    );
    assert.equal((lifecycle[0]![1]![1] as Record<string, unknown>).uri, 'com.meta.topic');
    assert.deepEqual(lifecycle[1]![1], [session, subscription]);
    assert.equal(await observer.session.call('wamp.subscription.lookup', ['com.meta.topic']), subscription);
    assert.equal(await observer.session.call('wamp.subscription.count_subscribers', [subscription]), 1);
    assert.deepEqual(await observer.session.call('wamp.subscription.list_subscribers', [subscription]), [
      session,
    ]);
    events.length = 0;
    client.send([34, 2, subscription]);
    await client.next((m) => m[0] === 35);
    await roundTrip(observer);
    assert.deepEqual(
      of('wamp.subscription.').map(([t]) => t),
      ['wamp.subscription.on_unsubscribe', 'wamp.subscription.on_delete'],
    );
    assert.equal(await observer.session.call('wamp.subscription.lookup', ['com.meta.topic']), null);
    client.close();
  });

  it('reports registrations and lists their callees', async () => {
    const { client, session } = await RawWampClient.join(router.url);
    client.send([64, 1, {}, 'com.meta.proc']);
    const registration = (await client.next((m) => m[0] === 65))[2] as number;
    await roundTrip(observer);
    assert.deepEqual(
      of('wamp.registration.').map(([t]) => t),
      ['wamp.registration.on_create', 'wamp.registration.on_register'],
    );
    assert.equal(await observer.session.call('wamp.registration.lookup', ['com.meta.proc']), registration);
    assert.equal(await observer.session.call('wamp.registration.match', ['com.meta.proc']), registration);
    assert.deepEqual(await observer.session.call('wamp.registration.list_callees', [registration]), [
      session,
    ]);
    const info = (await observer.session.call('wamp.registration.get', [registration])) as Record<
      string,
      unknown
    >;
    assert.deepEqual([info.uri, info.match, info.invoke], ['com.meta.proc', 'exact', 'single']);
    client.close();
  });

  it('refuses testaments on wamp. and pgrt. topics: a forged on_leave never reaches subscribers', async () => {
    const forger = await openAutobahn(router.url);
    const id = forger.session.id;
    for (const [topic, uri] of [
      ['wamp.session.on_leave', 'wamp.error.invalid_uri'],
      ['wamp.session.on_join', 'wamp.error.invalid_uri'],
      [`pgrt.session.${observer.session.id}`, 'wamp.error.not_authorized'],
    ]) {
      await assert.rejects(
        Promise.resolve(
          forger.session.call('wamp.session.add_testament', [topic!, [1, 'root', 'admin'], {}]),
        ),
        (e: { error?: string }) => e.error === uri,
      );
    }
    await forger.close();
    const leaves = () => events.filter(([t]) => t === 'wamp.session.on_leave').map(([, args]) => args);
    await new Promise<void>((resolve) => {
      const check = () => (leaves().some((a) => a?.[0] === id) ? resolve() : setImmediate(check));
      check();
    });
    await observer.session.call('wamp.session.count'); // anything still in flight to the observer has arrived
    assert.deepEqual(
      leaves().filter((a) => a?.[0] === id || a?.[0] === 1),
      [[id, String(id), 'anonymous']],
    );
  });

  it('holds at most maxTestaments testaments per session (16): one more gets testament_error', async () => {
    const handle = await openAutobahn(router.url);
    const add = () => handle.session.call('wamp.session.add_testament', ['com.meta.many', [], {}]);
    for (let i = 0; i < 16; i++) await add();
    await assert.rejects(
      Promise.resolve(add()),
      (e: { error?: string }) => e.error === 'wamp.error.testament_error',
    );
    assert.equal(await handle.session.call('wamp.session.flush_testaments'), 16);
    await add();
    await handle.close();
  });

  it('publishes a testament when its session drops, and none after flush_testaments', async () => {
    const got: unknown[] = [];
    await observer.session.subscribe('com.meta.testament', (args?: unknown[]) => {
      got.push(args);
    });
    const first = await openAutobahn(router.url);
    await first.session.call('wamp.session.add_testament', ['com.meta.testament', ['gone'], {}]);
    first.connection.close();
    const second = await openAutobahn(router.url);
    await second.session.call('wamp.session.add_testament', ['com.meta.testament', ['never'], {}]);
    assert.equal(await second.session.call('wamp.session.flush_testaments'), 1);
    const secondId = second.session.id;
    await second.close();
    // The first session's testament is published when the router sees its connection drop, which a round trip on
    // the observer does not order: wait for it, then a round trip after the second session's leave proves that
    // its flushed testament never came.
    await waitUntil(() => got.length > 0, { what: () => "the first session's testament" });
    await waitUntil(() => !router.protocol.realm('realm1')!.sessions.has(secondId), {
      what: () => `session ${secondId} to leave the realm`,
    });
    await roundTrip(observer);
    assert.deepEqual(got, [['gone']]);
  });
});
