/**
 * Attack class: filling the DDP session-resumption replay log (issue 12, item 2). The log kept the last 100 frames
 * of every session whatever their size: 55 method calls with 1 MiB ids (`result` and `updated` repeat the id) left
 * megabytes per session, and ten connections took the process past a gigabyte. Expected: ids and names over
 * `MAX_DDP_ID_LENGTH` (256) get Meteor's `Malformed method invocation` / `Malformed subscription` / `Bad request`
 * without an echo, the replay log holds at most `maxMessageQueueBytes` (1 MiB) per session whatever the frames
 * (here: Meteor's `offendingMessage` echo of ~600 KB malformed calls: only the last is kept, so a client lacking
 * older ones gets a new session), the connections keep working, nothing is logged at error level, and the target's
 * resident memory (measured from outside) comes back within a bound far below what the log held before.
 */
import assert from 'node:assert/strict';
import { MAX_DDP_ID_LENGTH } from '../../adapters/ddp/client-messages.js';
import { RawDdpClient, type ServerMessage } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { type AttackTarget, startTarget } from './fixtures/target.js';

const MiB = 1024 * 1024;
const CONNECTIONS = 10;
const CALLS = 55;
/**
 * What ten sessions may still hold once the attack is over: the transient garbage the GC has not returned yet
 * (each refused call is a 1 MiB string parsed and dropped). The old code held ~12 MB per session, 1.2 GB in all.
 */
const RSS_BOUND = 160 * MiB;

describe('attack: filling the DDP replay log', function () {
  this.timeout(300_000);
  let target: AttackTarget;
  const clients: RawDdpClient[] = [];

  before(async () => {
    // No server heartbeats: on a busy machine a flooding client's `pong` waits behind its own 55 MB, and the
    // heartbeat would close the connection before it is served (a correct answer, but not the one under test).
    target = await startTarget({ ddp: { heartbeatInterval: 0 } });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  after(async () => {
    await target?.close();
  });

  async function connections(): Promise<RawDdpClient[]> {
    for (let i = 0; i < CONNECTIONS; i++)
      clients.push(await RawDdpClient.connect(`${target.wsUrl}/websocket`));
    return clients;
  }

  /** Sends `CALLS` frames made by `frame` on every connection; resolves with each connection's replies. */
  async function flood(
    frame: (i: number) => string,
    isReply: (m: ServerMessage) => boolean,
  ): Promise<ServerMessage[][]> {
    const all = await connections();
    for (const client of all) for (let i = 0; i < CALLS; i++) client.sendRaw(frame(i));
    const replies = (client: RawDdpClient) => client.messages.filter(isReply);
    await waitUntil(() => all.every((client) => replies(client).length >= CALLS), {
      timeoutMs: 180_000,
      what: () => `replies: ${all.map((client) => replies(client).length).join(', ')}`,
    });
    return all.map(replies);
  }

  /** Every connection still answers a method call, as Meteor would. */
  async function stillWorking(): Promise<void> {
    for (const client of clients) {
      const { error } = await client.call('lists.create', 'mine');
      assert.equal(error?.error, 403, JSON.stringify(error)); // not logged in: the method ran and refused
    }
  }

  /** Waits until the target's RSS is within `RSS_BOUND` of `before` (the GC may take a moment to give back). */
  async function rssComesBack(before: number): Promise<void> {
    await waitUntil(() => target.rssBytes() - before < RSS_BOUND, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: () =>
        `RSS growth under ${RSS_BOUND / MiB} MiB (now ${((target.rssBytes() - before) / MiB).toFixed(0)})`,
    });
  }

  it(`refuses method ids of 1 MiB (${CONNECTIONS} connections × ${CALLS} calls) without echoing them`, async () => {
    const before = target.rssBytes();
    const id = 'x'.repeat(MiB - 100);
    const replies = await flood(
      (i) => `{"msg":"method","id":"${i}${id}","method":"lists.create","params":["x"]}`,
      (m) => m.msg === 'error' || m.msg === 'result',
    );
    for (const reply of replies.flat()) {
      assert.deepEqual(reply, { msg: 'error', reason: 'Malformed method invocation' });
    }
    await stillWorking();
    await rssComesBack(before);
    assert.deepEqual(target.errorLogs(), []);
  });

  it(`refuses sub ids, publication names, method names, unsub and ping ids over ${MAX_DDP_ID_LENGTH} characters`, async () => {
    const [client] = await connections();
    assert.ok(client);
    const long = 'x'.repeat(MAX_DDP_ID_LENGTH + 1);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ msg: 'method', id: '1', method: long, params: [] }, 'Malformed method invocation'],
      [{ msg: 'sub', id: long, name: 'lists' }, 'Malformed subscription'],
      [{ msg: 'sub', id: '1', name: long }, 'Malformed subscription'],
      [{ msg: 'unsub', id: long }, 'Bad request'],
      [{ msg: 'ping', id: long }, 'Bad request'],
    ];
    for (const [message, reason] of cases) {
      const from = client.messages.length;
      client.send(message);
      const reply = await client.waitFor((m) => m.msg === 'error', 10_000, from);
      assert.deepEqual(reply, { msg: 'error', reason }, JSON.stringify(message).slice(0, 80));
    }
    // At the limit, everything is served as before.
    const limit = 'x'.repeat(MAX_DDP_ID_LENGTH);
    client.send({ msg: 'sub', id: limit, name: 'lists' });
    await client.waitFor((m) => m.msg === 'ready' && Array.isArray(m.subs) && m.subs.includes(limit));
    client.send({ msg: 'method', id: limit, method: 'lists.create', params: ['x'] });
    const result = await client.waitFor((m) => m.msg === 'result' && m.id === limit);
    assert.equal((result.error as { error?: unknown }).error, 403);
    await stillWorking();
    assert.deepEqual(target.errorLogs(), []);
  });

  it('keeps at most maxMessageQueueBytes of frames per session: older large frames cannot be replayed', async () => {
    // A malformed call (randomSeed must be a string): Meteor echoes the whole message in `offendingMessage`, so
    // each of these leaves a ~600 KB frame; the 1 MiB log keeps only the last one.
    const payload = 'y'.repeat(600 * 1024);
    const malformed = (id: string) =>
      JSON.stringify({ msg: 'method', id, method: 'lists.create', params: [payload], randomSeed: 7 });
    /** A session that was sent three such frames and then lost its socket: its id and count. */
    async function dropped(): Promise<{ session: string; count: number }> {
      const client = await RawDdpClient.connect(`${target.wsUrl}/websocket`);
      for (const id of ['1', '2', '3']) client.sendRaw(malformed(id));
      await client.waitFor((m) => m.msg === 'error' && (m.offendingMessage as { id?: string })?.id === '3');
      const session = String(client.messages.find((m) => m.msg === 'connected')?.session);
      const count = client.messages.filter((m) => m.msg !== 'ping' && m.msg !== 'pong').length;
      await client.close(); // no DDP `disconnect`: the session waits to be resumed
      return { session, count };
    }
    async function resume(session: string, receivedCount: number): Promise<RawDdpClient> {
      const client = await RawDdpClient.connect(`${target.wsUrl}/websocket`, { handshake: false });
      clients.push(client);
      client.send({ msg: 'connect', version: '1', support: ['1'], session, receivedCount });
      await client.waitFor((m) => m.msg === 'connected');
      return client;
    }

    // A client that got everything resumes its session.
    const whole = await dropped();
    const back = await resume(whole.session, whole.count);
    assert.equal(back.messages[0]?.session, whole.session);
    // One that lacks the two older frames cannot: they were forgotten to stay under 1 MiB. A new session.
    const partial = await dropped();
    const fresh = await resume(partial.session, partial.count - 2);
    assert.notEqual(fresh.messages[0]?.session, partial.session);
    assert.equal(fresh.messages.filter((m) => m.msg === 'error').length, 0, 'nothing replayed');
    await stillWorking();
    assert.deepEqual(target.errorLogs(), []);
  });
});
