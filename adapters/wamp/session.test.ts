/**
 * Wire tests: session lifecycle with Autobahn|JS, Wampy and a raw client; authentication (ticket, WAMP-CRA),
 * authorization refusals and bad input.
 */
import assert from 'node:assert/strict';
import autobahn from 'autobahn';
import { waitUntil } from '../../test/fixtures/wait.js';
import { staticUsers, ticketAuthenticator, wampCraAuthenticator } from './authentication.js';
import { RawWampClient } from './fixtures/raw-client.js';
import { openAutobahn, openWampy, startRouter, type TestRouter } from './fixtures/router.js';
import { MAX_ID } from './ids.js';

const users = staticUsers({
  joe: { authrole: 'user', secret: 'joe-ticket' },
  peter: { authrole: 'admin', secret: 'peter-secret' },
});

describe('WAMP sessions', () => {
  let router: TestRouter;
  before(async () => {
    router = await startRouter({
      maxMessageBytes: 4096,
      realms: [
        {
          name: 'realm1',
          metaApiRoles: ['anonymous'],
          roles: {
            anonymous: [
              {
                uri: '',
                match: 'prefix',
                allow: { call: true, register: true, publish: true, subscribe: true },
              },
              { uri: 'com.private', match: 'prefix', allow: {} },
            ],
          },
        },
        { name: 'tickets', authenticators: [ticketAuthenticator(users.ticket)] },
        { name: 'cra', authenticators: [wampCraAuthenticator(users.cra)] },
      ],
    });
  });
  after(() => router.close());

  const realm = () => router.protocol.realm('realm1')!;

  for (const serializer of ['json', 'msgpack', 'cbor'] as const) {
    it(`opens and closes an Autobahn session over ${serializer}`, async () => {
      const handle = await openAutobahn(router.url, { serializer });
      const id = handle.session.id;
      assert.ok(Number.isInteger(id) && id >= 1 && id <= MAX_ID);
      assert.equal(realm().sessions.get(id)?.serializer.name, serializer);
      assert.equal(realm().sessions.get(id)?.authrole, 'anonymous');
      await handle.close();
      await waitUntil(() => !realm().sessions.has(id), { what: () => `session ${id} to leave the realm` });
    });
  }

  it('opens and closes a Wampy session (GOODBYE echoed both ways)', async () => {
    const wampy = await openWampy(router.url);
    const id = wampy.getSessionId()!;
    assert.ok(realm().sessions.has(id));
    await wampy.disconnect();
    await waitUntil(() => !realm().sessions.has(id), { what: () => `session ${id} to leave the realm` });
  });

  it('refuses an unknown realm with ABORT no_such_realm', async () => {
    await assert.rejects(openAutobahn(router.url, { realm: 'nowhere' }), /no_such_realm/);
  });

  it('authenticates with a ticket, and refuses a wrong one', async () => {
    const handle = await openAutobahn(router.url, {
      realm: 'tickets',
      authmethods: ['ticket'],
      authid: 'joe',
      onchallenge: () => 'joe-ticket',
    });
    const peer = router.protocol.realm('tickets')!.sessions.get(handle.session.id)!;
    assert.deepEqual([peer.authid, peer.authrole, peer.authmethod], ['joe', 'user', 'ticket']);
    await handle.close();
    await assert.rejects(
      openAutobahn(router.url, {
        realm: 'tickets',
        authmethods: ['ticket'],
        authid: 'joe',
        onchallenge: () => 'wrong',
      }),
      /authentication_failed/,
    );
  });

  it('authenticates with WAMP-CRA (Autobahn auth_cra.sign), and refuses a wrong secret', async () => {
    const sign =
      (secret: string) => (_s: autobahn.Session, method: string, extra: Record<string, unknown>) => {
        assert.equal(method, 'wampcra');
        return autobahn.auth_cra.sign(secret, String(extra.challenge));
      };
    const handle = await openAutobahn(router.url, {
      realm: 'cra',
      authmethods: ['wampcra'],
      authid: 'peter',
      onchallenge: sign('peter-secret'),
    });
    const peer = router.protocol.realm('cra')!.sessions.get(handle.session.id)!;
    assert.deepEqual([peer.authid, peer.authrole, peer.authmethod], ['peter', 'admin', 'wampcra']);
    await handle.close();
    await assert.rejects(
      openAutobahn(router.url, {
        realm: 'cra',
        authmethods: ['wampcra'],
        authid: 'peter',
        onchallenge: sign('x'),
      }),
      /authentication_failed/,
    );
  });

  it('refuses anonymous HELLO on a realm that only offers ticket', async () => {
    await assert.rejects(openAutobahn(router.url, { realm: 'tickets' }), /no_matching_auth_method/);
  });

  it('refuses unauthorized subscribe, publish, register and call with wamp.error.not_authorized', async () => {
    const { session } = await openAutobahn(router.url).then((h) => h);
    const refused = async (p: PromiseLike<unknown>) =>
      assert.rejects(Promise.resolve(p), (e: { error?: string }) => e.error === 'wamp.error.not_authorized');
    await refused(session.subscribe('com.private.t', () => {}));
    await refused(session.publish('com.private.t', [], {}, { acknowledge: true }));
    await refused(session.register('com.private.p', () => 1));
    await refused(session.call('com.private.p'));
    assert.ok(session.isOpen);
  });

  it('only lets a session subscribe to its own private topic, and nobody publish there', async () => {
    const a = await openAutobahn(router.url);
    const b = await openAutobahn(router.url);
    await a.session.subscribe(`pgrt.session.${a.session.id}`, () => {});
    await assert.rejects(
      Promise.resolve(b.session.subscribe(`pgrt.session.${a.session.id}`, () => {})),
      (e: { error?: string }) => e.error === 'wamp.error.not_authorized',
    );
    await assert.rejects(
      Promise.resolve(a.session.publish(`pgrt.session.${a.session.id}`, [], {}, { acknowledge: true })),
      (e: { error?: string }) => e.error === 'wamp.error.not_authorized',
    );
    await a.close();
    await b.close();
  });

  describe('bad input', () => {
    const cases: [string, (c: RawWampClient) => void][] = [
      ['malformed JSON', (c) => c.send('[1, "realm1"')],
      ['a binary frame on wamp.2.json', (c) => c.send(new Uint8Array([1, 2, 3]))],
      ['an unknown message type', (c) => c.send([99, 1])],
      ['a wrongly typed message', (c) => c.send([32, '1', {}, 'com.t'])],
      ['a second HELLO', (c) => c.send([1, 'realm1', { roles: { caller: {} } }])],
      [
        'a decreasing request id',
        (c) => {
          c.send([32, 5, {}, 'com.t']);
          c.send([32, 3, {}, 'com.t']);
        },
      ],
      ['a YIELD for an invocation never issued', (c) => c.send([70, 12, {}])],
      ['an oversized message', (c) => c.send([16, 1, {}, 'com.t', ['x'.repeat(5000)]])],
    ];
    for (const [what, act] of cases) {
      it(`aborts the session on ${what}, and the router keeps serving others`, async () => {
        const other = await openAutobahn(router.url);
        const { client, session } = await RawWampClient.join(router.url);
        act(client);
        const abort = await client.next((m) => m[0] === 3);
        assert.equal(abort[2], 'wamp.error.protocol_violation');
        assert.equal(typeof (abort[1] as { message?: unknown }).message, 'string');
        await client.closed;
        assert.equal(realm().sessions.has(session), false);
        assert.equal(await other.session.call('wamp.session.count'), realm().sessions.size);
        await other.close();
      });
    }

    it('aborts a SUBSCRIBE before HELLO with protocol_violation', async () => {
      const client = await RawWampClient.connect(router.url);
      client.send([32, 1, {}, 'com.t']);
      assert.equal((await client.next((m) => m[0] === 3))[2], 'wamp.error.protocol_violation');
    });

    it('answers an invalid URI with ERROR invalid_uri and keeps the session', async () => {
      const { client } = await RawWampClient.join(router.url);
      client.send([32, 1, {}, 'com..x']);
      assert.deepEqual(await client.next((m) => m[0] === 8), [8, 32, 1, {}, 'wamp.error.invalid_uri']);
      client.send([64, 2, {}, 'wamp.mine']);
      assert.deepEqual(await client.next((m) => m[0] === 8), [8, 64, 2, {}, 'wamp.error.invalid_uri']);
      client.send([32, 3, {}, 'com.ok']);
      assert.equal((await client.next((m) => m[0] === 33))[1], 3);
      client.close();
    });
  });
});
