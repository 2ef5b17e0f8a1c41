/**
 * Wire tests: remote procedure calls among WAMP clients: routing across serializers, errors, progressive results,
 * cancel (including Autobahn|JS's cancel hazard), timeout, caller identification, pattern and shared
 * registrations.
 */
import assert from 'node:assert/strict';
import autobahn from 'autobahn';
import { waitUntil } from '../../test/fixtures/wait.js';
import { RawWampClient } from './fixtures/raw-client.js';
import {
  type AutobahnHandle,
  OPEN_REALM,
  openAutobahn,
  openWampy,
  startRouter,
  type TestRouter,
} from './fixtures/router.js';

interface WampErrorShape {
  readonly error?: string;
  readonly args?: unknown[];
  readonly kwargs?: Record<string, unknown>;
}

/** Register options with `match` (missing from @types/autobahn). */
function pattern(match: 'prefix' | 'wildcard'): autobahn.IRegisterOptions {
  const options: autobahn.IRegisterOptions & { match: string } = { match };
  return options;
}

function failsWith(uri: string) {
  return (error: WampErrorShape) => {
    assert.equal(error.error, uri);
    return true;
  };
}

describe('WAMP remote procedure calls', () => {
  let router: TestRouter;
  let json: AutobahnHandle;
  let msgpack: AutobahnHandle;
  let cbor: AutobahnHandle;
  before(async () => {
    router = await startRouter({ realms: [OPEN_REALM] });
    [json, msgpack, cbor] = await Promise.all([
      openAutobahn(router.url),
      openAutobahn(router.url, { serializer: 'msgpack' }),
      openAutobahn(router.url, { serializer: 'cbor' }),
    ]);
  });
  after(async () => {
    await Promise.all([json.close(), msgpack.close(), cbor.close()]);
    await router.close();
  });

  it('routes calls between serializers; a single result arrives unwrapped, args+kwargs as a Result', async () => {
    await msgpack.session.register('com.rpc.add', (args?: number[]) => args![0]! + args![1]!);
    await cbor.session.register(
      'com.rpc.echo',
      (args?: unknown[], kwargs?: Record<string, unknown>) => new autobahn.Result(args, kwargs),
    );
    assert.equal(await json.session.call('com.rpc.add', [2, 2 ** 40]), 2 ** 40 + 2);
    const payload = { big: 2 ** 53 - 1, bytes: 'ünï', nested: { list: [null, true, 1.25] } };
    const result = (await json.session.call('com.rpc.echo', ['a', 1], payload)) as autobahn.Result;
    assert.deepEqual(result.args, ['a', 1]);
    assert.deepEqual(result.kwargs, payload);
  });

  it('forwards a callee error unchanged and answers unknown procedures with no_such_procedure', async () => {
    await cbor.session.register('com.rpc.fail', () => {
      throw new autobahn.Error('com.app.error.bad', ['a1', 2], { k: 'v' });
    });
    await assert.rejects(Promise.resolve(json.session.call('com.rpc.fail')), (e: WampErrorShape) => {
      assert.equal(e.error, 'com.app.error.bad');
      assert.deepEqual(e.args, ['a1', 2]);
      assert.deepEqual(e.kwargs, { k: 'v' });
      return true;
    });
    await assert.rejects(
      Promise.resolve(json.session.call('com.rpc.none')),
      failsWith('wamp.error.no_such_procedure'),
    );
  });

  it('refuses a second registration of the same procedure, and forgets it after unregister', async () => {
    const registration = await msgpack.session.register('com.rpc.once', () => 1);
    await assert.rejects(
      Promise.resolve(cbor.session.register('com.rpc.once', () => 2)),
      failsWith('wamp.error.procedure_already_exists'),
    );
    await msgpack.session.unregister(registration);
    await assert.rejects(
      Promise.resolve(json.session.call('com.rpc.once')),
      failsWith('wamp.error.no_such_procedure'),
    );
  });

  it('delivers progressive results in order, then the final one', async () => {
    await msgpack.session.register(
      'com.rpc.progress',
      async (args?: number[], _k?: unknown, details?: autobahn.IInvocation) => {
        for (let i = 1; i <= 3; i++) details!.progress!([i], {});
        return args![0];
      },
    );
    const progress: unknown[] = [];
    const call = json.session.call('com.rpc.progress', [99], {}, { receive_progress: true });
    const final = await new Promise((resolve, reject) => {
      call.then(resolve, reject, (value: unknown) => progress.push(value));
    });
    assert.equal(final, 99);
    assert.deepEqual(progress, [1, 2, 3]);
  });

  it("survives Autobahn's cancel(): no stray ERROR, the session stays open and usable", async () => {
    let invoked = 0;
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    await cbor.session.register('com.rpc.slow', async () => {
      invoked++;
      await answered;
      return 'late';
    });
    const call = json.session.call('com.rpc.slow') as unknown as Promise<unknown> & { cancel(): void };
    await waitUntil(() => invoked === 1, { what: () => 'the callee to be invoked' });
    call.cancel();
    await assert.rejects(call, (e: WampErrorShape) => e.error === 'Cancelled');
    answer(); // the callee now answers the cancelled call: the router must drop that YIELD
    // The callee's late YIELD leaves before its answer to this call, so this answer proves the YIELD was handled.
    assert.equal(await json.session.call('com.rpc.slow'), 'late');
    assert.equal(invoked, 2);
    assert.ok(json.session.isOpen);
  });

  it('cancel modes: kill interrupts the callee and errors after its answer; killnowait errors at once', async () => {
    const { client: callee } = await RawWampClient.join(router.url);
    const { client: caller } = await RawWampClient.join(router.url, { serializer: 'msgpack' });
    callee.send([64, 1, {}, 'com.rpc.cancelme']);
    const registered = await callee.next((m) => m[0] === 65);
    caller.send([48, 1, {}, 'com.rpc.cancelme', [1]]);
    const invocation = await callee.next((m) => m[0] === 68);
    assert.equal(invocation[2], registered[2]);
    caller.send([49, 1, { mode: 'kill' }]);
    assert.deepEqual(await callee.next((m) => m[0] === 69), [
      69,
      invocation[1],
      { mode: 'kill', reason: 'wamp.error.canceled' },
    ]);
    await caller.roundTrip();
    assert.equal(caller.received.length, 0, 'kill waits for the callee');
    callee.send([8, 68, invocation[1], {}, 'wamp.error.canceled']);
    assert.deepEqual(await caller.next((m) => m[0] === 8), [8, 48, 1, {}, 'wamp.error.canceled']);

    caller.send([48, 2, {}, 'com.rpc.cancelme', [2]]);
    const second = await callee.next((m) => m[0] === 68);
    caller.send([49, 2, { mode: 'killnowait' }]);
    assert.deepEqual(await caller.next((m) => m[0] === 8), [8, 48, 2, {}, 'wamp.error.canceled']);
    assert.equal((await callee.next((m) => m[0] === 69))[2] && second[1], second[1]);
    callee.send([70, second[1], {}, ['ignored']]);
    await callee.roundTrip(); // the router has handled the late YIELD…
    await caller.roundTrip(); // …and whatever it sent the caller for it has arrived
    assert.equal(caller.received.length, 0, 'a late YIELD is discarded');
    callee.close();
    caller.close();
  });

  it('times a call out: caller ERROR wamp.error.timeout, callee INTERRUPT killnowait', async () => {
    const { client: callee } = await RawWampClient.join(router.url, { serializer: 'cbor' });
    callee.send([64, 1, {}, 'com.rpc.never']);
    await callee.next((m) => m[0] === 65);
    const started = Date.now();
    await assert.rejects(
      Promise.resolve(json.session.call('com.rpc.never', [], {}, { timeout: 100 })),
      failsWith('wamp.error.timeout'),
    );
    assert.ok(Date.now() - started >= 90);
    const interrupt = await callee.next((m) => m[0] === 69);
    assert.equal((interrupt[2] as { mode: string }).mode, 'killnowait');
    callee.close();
  });

  it('cancels the call when the callee leaves, and interrupts the callee when the caller leaves', async () => {
    const { client: callee } = await RawWampClient.join(router.url);
    callee.send([64, 1, {}, 'com.rpc.leaving']);
    await callee.next((m) => m[0] === 65);
    const pending = Promise.resolve(json.session.call('com.rpc.leaving'));
    await callee.next((m) => m[0] === 68);
    callee.close();
    await assert.rejects(pending, failsWith('wamp.error.canceled'));

    const { client: callee2 } = await RawWampClient.join(router.url);
    callee2.send([64, 1, {}, 'com.rpc.leaving']);
    await callee2.next((m) => m[0] === 65);
    const { client: caller } = await RawWampClient.join(router.url);
    caller.send([48, 1, {}, 'com.rpc.leaving']);
    const invocation = await callee2.next((m) => m[0] === 68);
    caller.close();
    assert.deepEqual(await callee2.next((m) => m[0] === 69), [
      69,
      invocation[1],
      { mode: 'killnowait', reason: 'wamp.error.canceled' },
    ]);
    callee2.close();
  });

  it('discloses the caller on disclose_me and on disclose_caller registrations, only when the role may be', async () => {
    const seen: (number | undefined)[] = [];
    await cbor.session.register(
      'com.rpc.who',
      (_a?: unknown, _k?: unknown, details?: autobahn.IInvocation) => {
        seen.push(details!.caller);
        return null;
      },
      { disclose_caller: true },
    );
    await json.session.call('com.rpc.who');
    assert.deepEqual(seen, [json.session.id]);

    const closed = await startRouter();
    const [callee, caller] = await Promise.all([openAutobahn(closed.url), openAutobahn(closed.url)]);
    const details: autobahn.IInvocation[] = [];
    await callee.session.register(
      'com.rpc.who',
      (_a?: unknown, _k?: unknown, d?: autobahn.IInvocation) => {
        details.push(d!);
        return null;
      },
      { disclose_caller: true },
    );
    await caller.session.call('com.rpc.who', [], {}, { disclose_me: true });
    assert.equal(details.length, 1);
    const disclosed = details[0] as unknown as Record<string, unknown>;
    for (const key of ['caller', 'caller_authid', 'caller_authrole'])
      assert.equal(disclosed[key], undefined, key);
    await Promise.all([callee.close(), caller.close()]);
    await closed.close();
  });

  it('routes exact before prefix before wildcard, naming the concrete procedure', async () => {
    await json.session.register('com.pat.a.b', () => 'exact');
    await msgpack.session.register(
      'com.pat.a',
      (_a?: unknown, _k?: unknown, d?: autobahn.IInvocation) => `prefix ${d!.procedure}`,
      pattern('prefix'),
    );
    await cbor.session.register(
      'com.pat..c',
      (_a?: unknown, _k?: unknown, d?: autobahn.IInvocation) => `wildcard ${d!.procedure}`,
      pattern('wildcard'),
    );
    assert.equal(await json.session.call('com.pat.a.b'), 'exact');
    assert.equal(await json.session.call('com.pat.a.x.y'), 'prefix com.pat.a.x.y');
    assert.equal(await json.session.call('com.pat.z.c'), 'wildcard com.pat.z.c');
  });

  it('never routes a call under wamp. or pgrt. to a pattern registration, not even the prefix ""', async () => {
    const procedures: string[] = [];
    const catchAll = await openAutobahn(router.url, { serializer: 'msgpack' });
    await catchAll.session.register(
      '',
      (_a?: unknown, _k?: unknown, d?: autobahn.IInvocation) => {
        procedures.push(d!.procedure!);
        return 'caught';
      },
      pattern('prefix'),
    );
    for (const procedure of ['wamp.session.get_events', 'wamp.x', 'pgrt.x']) {
      await assert.rejects(
        Promise.resolve(json.session.call(procedure)),
        failsWith('wamp.error.no_such_procedure'),
      );
    }
    assert.equal(
      await json.session.call('wamp.session.count'),
      router.protocol.realm('realm1')!.sessions.size,
    );
    assert.equal(await json.session.call('com.rpc.unregistered'), 'caught');
    assert.deepEqual(procedures, ['com.rpc.unregistered']);
    await catchAll.close();
  });

  it('refuses pattern registrations to roles the realm does not grant them', async () => {
    const closed = await startRouter();
    const handle = await openAutobahn(closed.url);
    for (const [uri, match] of [
      ['', 'prefix'],
      ['com.rpc', 'prefix'],
      ['com..x', 'wildcard'],
    ] as const) {
      await assert.rejects(
        Promise.resolve(handle.session.register(uri, () => null, pattern(match))),
        failsWith('wamp.error.not_authorized'),
      );
    }
    await handle.session.register('com.rpc.exact', () => 'exact');
    assert.equal(await handle.session.call('com.rpc.exact'), 'exact');
    await handle.close();
    await closed.close();
  });

  it('shares registrations: roundrobin alternates, first sticks to the first until it leaves', async () => {
    const a = await openAutobahn(router.url);
    const b = await openAutobahn(router.url, { serializer: 'msgpack' });
    await a.session.register('com.rpc.rr', () => 'a', { invoke: 'roundrobin' });
    await b.session.register('com.rpc.rr', () => 'b', { invoke: 'roundrobin' });
    await assert.rejects(
      Promise.resolve(json.session.register('com.rpc.rr', () => 'c', { invoke: 'single' })),
      failsWith('wamp.error.procedure_already_exists'),
    );
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await json.session.call('com.rpc.rr'));
    assert.deepEqual(results, ['a', 'b', 'a', 'b']);

    await a.session.register('com.rpc.first', () => 'a', { invoke: 'first' });
    await b.session.register('com.rpc.first', () => 'b', { invoke: 'first' });
    assert.equal(await json.session.call('com.rpc.first'), 'a');
    assert.equal(await json.session.call('com.rpc.first'), 'a');
    const aId = a.session.id;
    await a.close();
    const realm = router.protocol.realm('realm1')!;
    await waitUntil(() => !realm.sessions.has(aId), { what: () => `session ${aId} to leave the realm` });
    assert.equal(await json.session.call('com.rpc.first'), 'b');
    await b.close();
  });

  it('works with Wampy as caller and callee', async () => {
    const wampy = await openWampy(router.url);
    await wampy.register('com.rpc.wampy', (invocation) => ({
      argsList: [`wampy got ${invocation.argsList?.[0]}`],
    }));
    assert.equal(await json.session.call('com.rpc.wampy', ['x']), 'wampy got x');
    const result = await wampy.call('com.rpc.add', [20, 22]);
    assert.deepEqual(result.argsList, [42]);
    await wampy.disconnect();
  });
});
