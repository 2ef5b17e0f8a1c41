/**
 * Attack class: the WAMP router's session, subscription and registration meta API, testaments, pattern
 * registrations and identity disclosure (issue 12, items 3, 6 and 7). The target is the todos example with the
 * router's defaults except one grant: role `admin` (the seeded user `demo`) may use the meta API. The attacker is an
 * anonymous Autobahn|JS, Wampy or raw session; the victim is a user created over DDP who logs in over WAMP with
 * ticket authentication (authrole `user`, authid = the user id). Expected: the attacker can neither end, list nor
 * impersonate other sessions, receive their calls or learn their identity; the granted admin can; nothing the
 * attacker does reaches the error log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type autobahn from 'autobahn';
import { subscribe } from '../../adapters/wamp/client.js';
import { RawWampClient } from '../../adapters/wamp/fixtures/raw-client.js';
import { type AutobahnHandle, openAutobahn, openWampy } from '../../adapters/wamp/fixtures/router.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { type AttackTarget, startTarget } from './fixtures/target.js';

interface WampErrorShape {
  readonly error?: string;
}

function refusedWith(uri: string) {
  return (error: WampErrorShape) => {
    assert.equal(error.error, uri);
    return true;
  };
}

const NOT_AUTHORIZED = 'wamp.error.not_authorized';

describe('attack: the WAMP meta API, testaments, catch-all registrations and disclosure', function () {
  this.timeout(60_000);
  const tag = randomUUID().slice(0, 8);
  const aliceName = `alice_${tag}`;
  let target: AttackTarget;
  let url: string;
  let aliceId: string;
  const open: AutobahnHandle[] = [];

  before(async () => {
    target = await startTarget({ wampRealm: { metaApiRoles: ['admin'] } });
    url = `${target.wsUrl}/ws`;
    const ddp = await RawDdpClient.connect(`${target.wsUrl}/websocket`);
    const created = (await ddp.apply('createUser', { username: aliceName, password: 'alice-pw' })) as {
      id: string;
    };
    aliceId = created.id;
    await ddp.close();
  });

  after(async () => {
    for (const handle of open) await handle.close().catch(() => {});
    await target?.close();
  });

  afterEach(() => {
    assert.deepEqual(target.errorLogs(), [], 'an attacker cannot write error log lines');
  });

  async function session(options: { user?: string; password?: string } = {}): Promise<AutobahnHandle> {
    const handle = await openAutobahn(
      url,
      options.user
        ? { authmethods: ['ticket'], authid: options.user, onchallenge: () => options.password ?? '' }
        : {},
    );
    open.push(handle);
    return handle;
  }
  const alice = () => session({ user: aliceName, password: 'alice-pw' });
  const admin = () => session({ user: 'demo', password: 'demo' });

  it('an anonymous client cannot kill other sessions (kill, kill_by_authid, kill_by_authrole, kill_all)', async () => {
    const victim = await alice();
    const attacker = await session();
    const attempts: [string, unknown[]][] = [
      ['wamp.session.kill', [victim.session.id]],
      ['wamp.session.kill_by_authid', [aliceId]],
      ['wamp.session.kill_by_authrole', ['user']],
      ['wamp.session.kill_all', []],
    ];
    for (const [procedure, args] of attempts) {
      await assert.rejects(
        Promise.resolve(attacker.session.call(procedure, args)),
        refusedWith(NOT_AUTHORIZED),
        procedure,
      );
    }
    assert.equal(victim.session.isOpen, true);
    const published = await victim.session.publish(`com.sec.${tag}.alive`, [], {}, { acknowledge: true });
    assert.ok(published.id > 0, 'the victim still publishes');
  });

  it('an anonymous client cannot list who is logged in, look up private topics or hear on_join (Wampy)', async () => {
    const victim = await alice();
    const attacker = await openWampy(url);
    try {
      for (const [procedure, args] of [
        ['wamp.session.list', []],
        ['wamp.session.count', []],
        ['wamp.session.get', [victim.session.id]],
        ['wamp.subscription.lookup', [`pgrt.session.${victim.session.id}`]],
        ['wamp.subscription.list', []],
        ['wamp.registration.list', []],
      ] as const) {
        await assert.rejects(
          attacker.call(procedure, [...args]),
          (error: { errorUri?: string }) => error.errorUri === NOT_AUTHORIZED,
          procedure,
        );
      }
      for (const topic of ['wamp.session.on_join', 'wamp.session.on_leave', 'wamp.subscription.on_create']) {
        await assert.rejects(
          attacker.subscribe(topic, () => {}),
          (error: { errorUri?: string }) => error.errorUri === NOT_AUTHORIZED,
          topic,
        );
      }
    } finally {
      await attacker.disconnect();
    }
  });

  it('a catch-all subscription sees no join, leave or private data of another user', async () => {
    const { client } = await RawWampClient.join(url);
    client.send([32, 1, { match: 'prefix' }, '']);
    const all = (await client.next((m) => m[0] === 33))[2];
    const victim = await alice();
    const lists = await subscribe(victim.session, 'lists');
    await lists.ready;
    await victim.close();
    const marker = `com.sec.${tag}.marker`;
    const publisher = await session();
    await publisher.session.publish(marker, [], {}, { acknowledge: true });
    await client.next((m) => m[0] === 36 && (m[3] as Record<string, unknown>).topic === marker);
    const leaked = client.received.filter((m) => m[0] === 36 && m[1] === all);
    assert.deepEqual(leaked, [], 'nothing but the marker reached the "" subscription');
    client.close();
  });

  it('a testament cannot forge wamp.session.on_leave or write into a private topic; the admin sees the true leave', async () => {
    const root = await admin();
    const leaves: unknown[][] = [];
    await root.session.subscribe('wamp.session.on_leave', (args?: unknown[]) => {
      leaves.push(args ?? []);
    });
    const victim = await alice();
    const attacker = await session();
    const forged = [victim.session.id, aliceId, 'admin'];
    for (const [topic, uri] of [
      ['wamp.session.on_leave', 'wamp.error.invalid_uri'],
      ['wamp.session.on_join', 'wamp.error.invalid_uri'],
      [`pgrt.session.${victim.session.id}`, NOT_AUTHORIZED],
    ] as const) {
      await assert.rejects(
        Promise.resolve(attacker.session.call('wamp.session.add_testament', [topic, forged, {}])),
        refusedWith(uri),
        topic,
      );
    }
    const attackerId = attacker.session.id;
    await attacker.close();
    await waitUntil(() => leaves.some((args) => args[0] === attackerId), {
      what: () => `the attacker's on_leave (got ${JSON.stringify(leaves)})`,
    });
    // Other tests' sessions may leave meanwhile; nothing may name the victim or the forged role.
    const relevant = leaves.filter(
      (a) => a[0] === attackerId || a[0] === victim.session.id || a[2] === 'admin',
    );
    assert.deepEqual(relevant, [[attackerId, String(attackerId), 'anonymous']]);
  });

  it('an anonymous client cannot register a catch-all: a mistyped call fails at once instead of reaching it', async () => {
    const attacker = await session();
    const caught: string[] = [];
    for (const [uri, match] of [
      ['', 'prefix'],
      ['lists.', 'prefix'],
      ['lists..', 'wildcard'],
    ] as const) {
      const options: autobahn.IRegisterOptions & { match: string } = { match };
      await assert.rejects(
        Promise.resolve(
          attacker.session.register(
            uri,
            (_a?: unknown, _k?: unknown, d?: autobahn.IInvocation) => {
              caught.push(String(d?.procedure));
              return null;
            },
            options,
          ),
        ),
        refusedWith(NOT_AUTHORIZED),
        `${match} ${JSON.stringify(uri)}`,
      );
    }
    const victim = await alice();
    await assert.rejects(
      Promise.resolve(victim.session.call('lists.creat', [`typo ${tag}`])),
      refusedWith('wamp.error.no_such_procedure'),
    );
    assert.deepEqual(caught, []);
  });

  it("a callee or subscriber cannot learn a logged-in user's authid or role (disclose_caller, disclose_me)", async () => {
    const attacker = await session();
    const invocations: Record<string, unknown>[] = [];
    await attacker.session.register(
      `com.sec.${tag}.lookup`,
      (_a?: unknown, _k?: unknown, d?: autobahn.IInvocation) => {
        invocations.push({ ...(d as unknown as Record<string, unknown>) });
        return 'ok';
      },
      { disclose_caller: true },
    );
    const events: Record<string, unknown>[] = [];
    await attacker.session.subscribe(
      `com.sec.${tag}.chat`,
      (_a?: unknown, _k?: unknown, d?: autobahn.IEvent) => {
        events.push({ ...(d as unknown as Record<string, unknown>) });
      },
    );
    const victim = await alice();
    assert.equal(await victim.session.call(`com.sec.${tag}.lookup`, [], {}, { disclose_me: true }), 'ok');
    await victim.session.publish(`com.sec.${tag}.chat`, ['hi'], {}, { disclose_me: true, acknowledge: true });
    await waitUntil(() => events.length === 1, { what: () => 'the chat event' });
    for (const key of ['caller', 'caller_authid', 'caller_authrole'])
      assert.equal(invocations[0]?.[key], undefined, key);
    for (const key of ['publisher', 'publisher_authid', 'publisher_authrole'])
      assert.equal(events[0]?.[key], undefined, key);
  });

  it('the granted admin role lists sessions, hears joins and kills by authid', async () => {
    const root = await admin();
    const joins: Record<string, unknown>[] = [];
    await root.session.subscribe('wamp.session.on_join', (args?: unknown[]) => {
      joins.push(args?.[0] as Record<string, unknown>);
    });
    const victim = await alice();
    await waitUntil(() => joins.some((d) => d.session === victim.session.id), { what: () => 'on_join' });
    const joined = joins.find((d) => d.session === victim.session.id);
    assert.deepEqual([joined?.authid, joined?.authrole], [aliceId, 'user']);
    const list = (await root.session.call('wamp.session.list')) as number[];
    assert.ok(list.includes(victim.session.id));
    const killed = new Promise<string>((resolve) => {
      victim.connection.onclose = (_reason, details) => {
        resolve(String((details as { reason?: string }).reason));
        return true;
      };
    });
    const victimId = victim.session.id;
    const ids = (await root.session.call('wamp.session.kill_by_authid', [aliceId])) as number[];
    assert.ok(ids.includes(victimId), `${JSON.stringify(ids)} includes ${victimId}`);
    assert.equal(await killed, 'wamp.close.killed');
  });
});
