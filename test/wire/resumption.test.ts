/**
 * DDP session resumption over real sockets (Meteor 3.5, reference/ddp.md §1.12): a raw `ws` client drops its TCP
 * connection without `disconnect`, comes back with `connect {session, receivedCount}` and gets the same session
 * and exactly the messages it missed, once; a wrong count, a `disconnect`, an expired grace period or an
 * overflowing buffer give a new session instead.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { testDatabaseUrl } from '../support/database.js';

const TABLE = 'resumption_tasks';
const GRACE_MS = 400;
const QUEUE = 5;
const QUEUE_BYTES = 64 * 1024;

type Message = Record<string, unknown>;

/** Tasks with a few fields, and the methods the tests write with. */
function app(): App {
  return new App()
    .collection('tasks', { table: TABLE })
    .publish('tasks', (ctx) => ctx.find('tasks'))
    .method('echo', (_ctx, ...args) => args)
    .method('resetTasks', async (ctx) => {
      await ctx.query(`DELETE FROM ${TABLE}`);
    })
    .method('insertTaskWithId', async (ctx, id, fields) =>
      ctx.insert('tasks', { ...(fields as Message), id }),
    )
    .method('setField', async (ctx, id, name, value) => {
      await ctx.update('tasks', id as string, { [name as string]: value });
    })
    .method('unsetField', async (ctx, id, name) => {
      await ctx.update('tasks', id as string, { [name as string]: undefined });
    });
}

/** A raw DDP socket that counts like a Meteor 3.5 client (everything but ping and pong). */
class Client {
  readonly messages: Message[] = [];
  readonly #ws: WebSocket;
  #ids = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as Message;
      this.messages.push(message);
      if (message.msg === 'ping') ws.send(JSON.stringify({ msg: 'pong' }));
    });
    ws.on('error', () => {});
  }

  static async open(url: string, connect: Message = {}): Promise<Client> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const client = new Client(ws);
    client.send({ msg: 'connect', version: '1', support: ['1'], ...connect });
    await client.waitFor((m) => m.msg === 'connected');
    return client;
  }

  get session(): string {
    return String(this.messages.find((m) => m.msg === 'connected')?.session);
  }

  /** What a Meteor 3.5 client sends as `receivedCount`. */
  get receivedCount(): number {
    return this.messages.filter((m) => m.msg !== 'ping' && m.msg !== 'pong').length;
  }

  send(message: Message): void {
    this.#ws.send(JSON.stringify(message));
  }

  async waitFor(test: (m: Message) => boolean, from = 0): Promise<Message> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.messages.slice(from).find(test);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages)}`);
      await sleep(5);
    }
  }

  /** Calls a method; resolves with its result message once `updated` arrived too. */
  async call(method: string, ...params: unknown[]): Promise<Message> {
    const id = `m${++this.#ids}`;
    const from = this.messages.length;
    this.send({ msg: 'method', id, method, params });
    const [result] = await Promise.all([
      this.waitFor((m) => m.msg === 'result' && m.id === id, from),
      this.waitFor((m) => m.msg === 'updated' && (m.methods as string[]).includes(id), from),
    ]);
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    return result;
  }

  async subscribe(id: string, name: string): Promise<void> {
    this.send({ msg: 'sub', id, name });
    await this.waitFor((m) => m.msg === 'ready' && (m.subs as string[]).includes(id));
  }

  /** Drops the TCP connection (no close frame, no `disconnect`) and lets the server notice. */
  async drop(): Promise<void> {
    this.#ws.terminate();
    await sleep(50);
  }

  close(): void {
    this.#ws.terminate();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('DDP session resumption (wire)', function () {
  this.timeout(20_000);
  let server: PgrtServer;
  let url: string;
  const clients: Client[] = [];

  /** True while the core has an open session with this id. */
  function live(id: string): boolean {
    return [...server.core.sessions].some((s) => s.connection.id === id);
  }

  async function open(connect: Message = {}): Promise<Client> {
    const client = await Client.open(url, connect);
    clients.push(client);
    return client;
  }

  /** A client subscribed to `tasks` holding task `a`, then dropped. */
  async function dropped(): Promise<{ session: string; count: number }> {
    const client = await open();
    await client.subscribe('s1', 'tasks');
    await client.waitFor((m) => m.msg === 'added' && m.id === 'a');
    await client.drop();
    return { session: client.session, count: client.receivedCount };
  }

  before(async () => {
    server = await createServer({
      app: app(),
      protocols: [
        ddp({
          disconnectGracePeriod: GRACE_MS,
          maxMessageQueueLength: QUEUE,
          maxMessageQueueBytes: QUEUE_BYTES,
          heartbeatInterval: 0,
        }),
      ],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: async (db) => {
        await db.query(
          `CREATE TABLE IF NOT EXISTS ${TABLE} (id text PRIMARY KEY, title text, a integer, b integer)`,
        );
      },
    });
    url = `ws://127.0.0.1:${server.port}/websocket`;
  });

  beforeEach(async () => {
    const writer = await open();
    await writer.call('resetTasks');
    await writer.call('insertTaskWithId', 'a', { title: 'A' });
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await server?.close();
  });

  it('resumes after a dropped TCP connection: same session, the missed messages exactly once, in order', async () => {
    const { session, count } = await dropped();
    const sessionsBefore = server.core.sessions.size;
    assert.ok(live(session), 'kept while the client is away');

    const writer = await open();
    await writer.call('insertTaskWithId', 'b', { title: 'B' });
    await writer.call('setField', 'a', 'title', 'A2');
    await writer.call('unsetField', 'b', 'title');

    const back = await open({ session, receivedCount: count });
    assert.equal(back.session, session, 'same session id');
    back.send({ msg: 'sub', id: 's1', name: 'tasks' }); // re-sent, as a Meteor client does: ignored
    await back.call('echo', 'barrier');
    const replay = back.messages.filter((m) => m.msg !== 'result' && m.msg !== 'updated');
    assert.deepEqual(replay, [
      { msg: 'connected', session },
      { msg: 'added', collection: 'tasks', id: 'b', fields: { title: 'B' } },
      { msg: 'changed', collection: 'tasks', id: 'a', fields: { title: 'A2' } },
      { msg: 'changed', collection: 'tasks', id: 'b', cleared: ['title'] },
    ]);
    assert.equal(server.core.sessions.size, sessionsBefore + 1, 'only the writer opened a core session');

    // Still live, and the count goes on: a second drop and resume replays nothing.
    await writer.call('setField', 'a', 'b', 1);
    await back.waitFor((m) => m.msg === 'changed' && m.id === 'a' && (m.fields as Message).b === 1);
    const total = count + back.receivedCount;
    await back.drop();
    const again = await open({ session, receivedCount: total });
    assert.equal(again.session, session);
    await again.call('echo', 'barrier');
    assert.deepEqual(
      again.messages.map((m) => m.msg),
      ['connected', 'result', 'updated'],
    );
  });

  it('a wrong receivedCount gives a new session, and the old one is gone', async () => {
    const { session, count } = await dropped();
    const wrong = await open({ session, receivedCount: count + 1 });
    assert.notEqual(wrong.session, session);
    const late = await open({ session, receivedCount: count });
    assert.notEqual(late.session, session, 'the refused session was ended');
  });

  it('a disconnect message ends the session at once: reconnecting gives a new one', async () => {
    const client = await open();
    await client.subscribe('s1', 'tasks');
    client.send({ msg: 'disconnect' });
    await sleep(50);
    assert.ok(!live(client.session), 'the core session closed');
    const back = await open({ session: client.session, receivedCount: client.receivedCount });
    assert.notEqual(back.session, client.session);
  });

  it('after the grace period the session is gone: a new session', async () => {
    const { session, count } = await dropped();
    assert.ok(live(session), 'kept during the grace period');
    await sleep(GRACE_MS + 150);
    assert.ok(!live(session), 'the parked session ended');
    const back = await open({ session, receivedCount: count });
    assert.notEqual(back.session, session);
  });

  it(`more than maxMessageQueueLength (${QUEUE}) messages while away end the session`, async () => {
    const { session, count } = await dropped();
    const writer = await open();
    for (let i = 0; i < QUEUE + 1; i += 1) await writer.call('insertTaskWithId', `x${i}`, {});
    assert.ok(!live(session), 'ended on overflow, before the grace period');
    const back = await open({ session, receivedCount: count });
    assert.notEqual(back.session, session);
  });

  it(`more than maxMessageQueueBytes (${QUEUE_BYTES}) while away end the session, even in one frame`, async () => {
    const { session, count } = await dropped();
    const writer = await open();
    await writer.call('insertTaskWithId', 'big', { title: 'x'.repeat(QUEUE_BYTES) });
    assert.ok(!live(session), 'ended on overflow, before the grace period');
    const back = await open({ session, receivedCount: count });
    assert.notEqual(back.session, session);
  });

  it('frames under maxMessageQueueBytes while away are replayed', async () => {
    const { session, count } = await dropped();
    const writer = await open();
    await writer.call('insertTaskWithId', 'big', { title: 'x'.repeat(QUEUE_BYTES / 2) });
    const back = await open({ session, receivedCount: count });
    assert.equal(back.session, session);
    await back.call('echo', 'barrier');
    assert.deepEqual(
      back.messages.filter((m) => m.msg === 'added').map((m) => m.id),
      ['big'],
    );
  });

  it(`up to maxMessageQueueLength messages while away are all replayed`, async () => {
    const { session, count } = await dropped();
    const writer = await open();
    for (let i = 0; i < QUEUE; i += 1) await writer.call('insertTaskWithId', `x${i}`, {});
    const back = await open({ session, receivedCount: count });
    assert.equal(back.session, session);
    await back.call('echo', 'barrier');
    assert.deepEqual(
      back.messages.filter((m) => m.msg === 'added').map((m) => m.id),
      ['x0', 'x1', 'x2', 'x3', 'x4'],
    );
  });
});
