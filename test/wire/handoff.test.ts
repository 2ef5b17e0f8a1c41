/**
 * DDP session resumption across processes (adapters/ddp/handoff.ts): two servers on one database; server A drains
 * (its `close()`, as on SIGTERM) with a raw DDP client subscribed, rows change while the client is away, and the
 * client comes back to server B with `connect {session, receivedCount}`. It must get the same session and only the
 * difference: `changed` for the updated row, `removed` for the deleted one, `added` for the new one, nothing for
 * the unchanged one, then `ready`; its count must then be B's (a later in-process resumption on B works). A wrong
 * count, or a second client presenting the same session, gets a new session and the whole publication. A
 * logged-in session keeps its user while its login token is valid, and starts over once the token is gone.
 */
import assert from 'node:assert/strict';
import pino, { type Logger } from 'pino';
import WebSocket from 'ws';
import { hashSessionId } from '../../adapters/ddp/handoff-view.js';
import { type Accounts, accounts } from '../../core/accounts/accounts.js';
import { App } from '../../core/app.js';
import { migrateTodos, todosApp } from '../../examples/todos/app.js';
import { createServer, type DdpHandle, ddp, type PgrtServer } from '../../index.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const TABLE = 'handoff_tasks';
type Message = Record<string, unknown>;

function app(): App {
  return new App()
    .collection('tasks', { table: TABLE })
    .publish('tasks', (ctx) => ctx.find('tasks'))
    .method('echo', (_ctx, ...args) => args);
}

/** A raw DDP socket that counts like a Meteor 3.5 client (everything but ping and pong). */
class Client {
  readonly messages: Message[] = [];
  readonly closed: Promise<number>;
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.on('message', (data: WebSocket.RawData) => this.messages.push(JSON.parse(String(data)) as Message));
    ws.on('error', () => {});
  }

  /** Connects; `early` messages are sent right after `connect`, without waiting for `connected`. */
  static async open(url: string, connect: Message = {}, early: readonly Message[] = []): Promise<Client> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const client = new Client(ws);
    client.send({ msg: 'connect', version: '1', support: ['1'], ...connect });
    for (const message of early) client.send(message);
    await client.waitFor((m) => m.msg === 'connected');
    return client;
  }

  get session(): string {
    return String(this.messages.find((m) => m.msg === 'connected')?.session);
  }

  get receivedCount(): number {
    return this.messages.filter((m) => m.msg !== 'ping' && m.msg !== 'pong').length;
  }

  send(message: Message): void {
    this.#ws.send(JSON.stringify(message));
  }

  async waitFor(test: (m: Message) => boolean, from = 0): Promise<Message> {
    let found: Message | undefined;
    await waitUntil(
      () => {
        found = this.messages.slice(from).find(test);
        return found !== undefined;
      },
      { timeoutMs: 10_000, what: () => `a message; got ${JSON.stringify(this.messages)}` },
    );
    return found as Message;
  }

  close(): void {
    this.#ws.terminate();
  }
}

async function startServer(
  options: { logger?: Logger; shutdownTimeoutMs?: number } = {},
): Promise<PgrtServer> {
  return await createServer({
    ...options,
    app: app(),
    protocols: [ddp({ disconnectGracePeriod: 5000, heartbeatInterval: 0 })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl: testDatabaseUrl(),
    migrate: async (db) => {
      await db.query(`CREATE TABLE IF NOT EXISTS ${TABLE} (id text PRIMARY KEY, title text, n integer)`);
    },
  });
}

const urlOf = (server: PgrtServer) => `ws://127.0.0.1:${server.port}/websocket`;

describe('DDP session hand-off across processes (wire)', function () {
  this.timeout(60_000);
  let a: PgrtServer | undefined;
  let b: PgrtServer;
  const clients: Client[] = [];

  async function open(
    server: PgrtServer,
    connect: Message = {},
    early: readonly Message[] = [],
  ): Promise<Client> {
    const client = await Client.open(urlOf(server), connect, early);
    clients.push(client);
    return client;
  }

  /** A client on a fresh server A, subscribed to tasks x, y, z; A then drains. Returns the client's state. */
  async function handedOff(): Promise<{ session: string; count: number; held: Message[] }> {
    a = await startServer();
    const client = await open(a);
    client.send({ msg: 'sub', id: 's1', name: 'tasks' });
    await client.waitFor((m) => m.msg === 'ready');
    await a.close();
    a = undefined;
    assert.equal(await client.closed, 1001);
    return { session: client.session, count: client.receivedCount, held: client.messages };
  }

  before(async () => {
    b = await startServer();
  });

  beforeEach(async () => {
    await b.db.query(`DELETE FROM ${TABLE}`);
    await b.db.query(`INSERT INTO ${TABLE} VALUES ('x', 'X', 1), ('y', 'Y', 2), ('z', 'Z', 3)`);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await a?.close();
    a = undefined;
  });

  after(async () => {
    await b?.close();
  });

  it('resumes on another process with the same session and only the difference, then counts on as the server', async () => {
    const { session, count, held } = await handedOff();
    assert.equal(held.filter((m) => m.msg === 'added').length, 3);
    await b.db.query(`UPDATE ${TABLE} SET title = 'X2' WHERE id = 'x'`);
    await b.db.query(`DELETE FROM ${TABLE} WHERE id = 'y'`);
    await b.db.query(`INSERT INTO ${TABLE} VALUES ('w', 'W', 4)`);

    const back = await open(b, { session, receivedCount: count });
    back.send({ msg: 'sub', id: 's1', name: 'tasks' }); // re-sent, as a Meteor client does: ignored (live id)
    back.send({ msg: 'method', id: 'm1', method: 'echo', params: ['after'] }); // outstanding methods run
    await back.waitFor((m) => m.msg === 'updated');
    const frames = back.messages.filter((m) => m.msg !== 'result' && m.msg !== 'updated');
    assert.deepEqual(frames, [
      { msg: 'connected', session },
      { msg: 'changed', collection: 'tasks', id: 'x', fields: { title: 'X2' } },
      { msg: 'removed', collection: 'tasks', id: 'y' },
      { msg: 'added', collection: 'tasks', id: 'w', fields: { title: 'W', n: 4 } },
      { msg: 'ready', subs: ['s1'] },
    ]);
    assert.deepEqual(
      back.messages.find((m) => m.msg === 'result'),
      { msg: 'result', id: 'm1', result: ['after'] },
    );

    // The count went on from the client's: a dropped socket now resumes in process on B.
    const total = count + back.receivedCount;
    back.close();
    await waitUntil(() => (b.protocols.get('ddp') as DdpHandle).parkedSessionCount > 0, {
      timeoutMs: 5000,
    });
    const again = await open(b, { session, receivedCount: total });
    assert.equal(again.session, session);
    await b.db.query(`UPDATE ${TABLE} SET n = 30 WHERE id = 'z'`);
    await again.waitFor((m) => m.msg === 'changed' && m.id === 'z');
    assert.deepEqual(again.messages.slice(0, 2), [
      { msg: 'connected', session },
      { msg: 'changed', collection: 'tasks', id: 'z', fields: { n: 30 } },
    ]);
  });

  it('resumes a client that comes back while its session is still being written, once it is', async () => {
    // B's log says when its taker waits for a pending session.
    const logged: string[] = [];
    const c = await startServer({ logger: pino({ level: 'debug' }, { write: (line) => logged.push(line) }) });
    // A drains with 3 s for its hand-off (half its budget); the documents' insert waits for this lock past that.
    a = await startServer({ shutdownTimeoutMs: 6000 });
    const client = await open(a);
    client.send({ msg: 'sub', id: 's1', name: 'tasks' });
    await client.waitFor((m) => m.msg === 'ready');
    const count = client.receivedCount;
    const lock = await b.db.begin();
    let locked = true;
    let draining: Promise<void> | undefined;
    try {
      await lock.query('LOCK TABLE pgrt.ddp_handoff_documents IN EXCLUSIVE MODE');
      draining = a.close();
      assert.equal(
        await client.closed,
        1001,
        'the drain closes its clients once its hand-off budget is spent',
      );
      await b.db.query(`UPDATE ${TABLE} SET title = 'X2' WHERE id = 'x'`);
      const ws = new WebSocket(urlOf(c));
      const back: Message[] = [];
      ws.on('message', (data: WebSocket.RawData) => back.push(JSON.parse(String(data)) as Message));
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(
        JSON.stringify({
          msg: 'connect',
          version: '1',
          support: ['1'],
          session: client.session,
          receivedCount: count,
        }),
      );
      // The client got an answer (a new session, before this change) or C waits for the hand-off being written.
      await waitUntil(() => back.length > 0 || logged.some((line) => line.includes('DDP hand-off pending')));
      locked = false;
      await lock.commit();
      const startedOver = () => back.some((m) => m.msg === 'connected' && m.session !== client.session);
      await waitUntil(() => startedOver() || back.some((m) => m.msg === 'ready'), {
        what: () => JSON.stringify(back),
      });
      ws.terminate();
      assert.deepEqual(back, [
        { msg: 'connected', session: client.session },
        { msg: 'changed', collection: 'tasks', id: 'x', fields: { title: 'X2' } },
        { msg: 'ready', subs: ['s1'] },
      ]);
    } finally {
      if (locked) await lock.rollback();
      await draining;
      a = undefined;
      await c.close();
    }
  });

  it('processes what the client sent while its session was being taken over, in order, after connected', async () => {
    const { session, count } = await handedOff();
    // Sent with the connect, as a reconnecting Meteor client does: they arrive while B restores the session.
    const back = await open(b, { session, receivedCount: count }, [
      { msg: 'sub', id: 's1', name: 'tasks' },
      { msg: 'method', id: 'm1', method: 'echo', params: ['first'] },
      { msg: 'method', id: 'm2', method: 'echo', params: ['second'] },
    ]);
    await back.waitFor((m) => m.msg === 'result' && m.id === 'm2');
    assert.deepEqual(back.messages[0], { msg: 'connected', session });
    assert.deepEqual(
      back.messages.filter((m) => m.msg === 'result'),
      [
        { msg: 'result', id: 'm1', result: ['first'] },
        { msg: 'result', id: 'm2', result: ['second'] },
      ],
    );
  });

  it('starts a client whose count does not match over with a new session and the whole publication', async () => {
    const { session, count } = await handedOff();
    const back = await open(b, { session, receivedCount: count - 1 });
    assert.notEqual(back.session, session);
    back.send({ msg: 'sub', id: 's1', name: 'tasks' });
    await back.waitFor((m) => m.msg === 'ready');
    assert.deepEqual(
      back.messages
        .filter((m) => m.msg === 'added')
        .map((m) => m.id)
        .sort(),
      ['x', 'y', 'z'],
    );
  });

  it('gives a session back to the store when its client leaves while it is being taken over', async () => {
    const { session, count } = await handedOff();
    const hash = hashSessionId(session);
    let firstHandoff: string | undefined;
    const lock = await b.db.begin();
    try {
      // Holds the take (its DELETE waits for this row lock) until the client has gone.
      const held = await lock.query<{ handoff_id: string }>(
        'SELECT handoff_id FROM pgrt.ddp_handoff_sessions WHERE session_hash = $1 FOR UPDATE',
        [hash],
      );
      firstHandoff = held.rows[0]?.handoff_id;
      const ws = new WebSocket(urlOf(b));
      await new Promise((resolve) => ws.once('open', resolve));
      const handle = b.protocols.get('ddp') as DdpHandle;
      ws.send(
        JSON.stringify({ msg: 'connect', version: '1', support: ['1'], session, receivedCount: count }),
      );
      // The take is waiting for the row lock.
      await waitUntil(async () => {
        const waiting = await b.db.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND query LIKE '%DELETE FROM pgrt.ddp_handoff_sessions%'`,
        );
        return (waiting.rowCount ?? 0) > 0;
      });
      ws.terminate();
      await waitUntil(() => handle.connectionCount === 0);
    } finally {
      await lock.commit();
    }
    // Given back: written again, in a hand-off of its own (not the row the take was waiting for).
    await waitUntil(async () => {
      const rows = await b.db.query<{ handoff_id: string }>(
        'SELECT handoff_id FROM pgrt.ddp_handoff_sessions WHERE session_hash = $1',
        [hash],
      );
      return rows.rowCount === 1 && rows.rows[0]?.handoff_id !== firstHandoff;
    });
    const back = await open(b, { session, receivedCount: count });
    await back.waitFor((m) => m.msg === 'ready');
    assert.deepEqual(back.messages, [
      { msg: 'connected', session },
      { msg: 'ready', subs: ['s1'] },
    ]);
  });

  it('keeps a handed-off session for handOffGracePeriod (60 s by default), not the 5-s disconnectGracePeriod', async () => {
    const { session } = await handedOff();
    const rows = await b.db.query<{ left: number }>(
      `SELECT extract(epoch FROM h.expires_at - now())::float8 AS left
         FROM pgrt.ddp_handoff_sessions s JOIN pgrt.ddp_handoffs h ON h.id = s.handoff_id
        WHERE s.session_hash = $1`,
      [hashSessionId(session)],
    );
    const left = rows.rows[0]?.left;
    assert.ok(left !== undefined && left > 50 && left <= 60, `expires in ${left} s`);
  });

  it('gives a handed-off session to one taker only', async () => {
    const { session, count } = await handedOff();
    const first = await open(b, { session, receivedCount: count });
    await first.waitFor((m) => m.msg === 'ready');
    assert.equal(first.session, session);
    const second = await open(b, { session, receivedCount: count });
    assert.notEqual(second.session, session);
    const rows = await b.db.query(
      'SELECT count(*)::int AS n FROM pgrt.ddp_handoff_sessions WHERE session_hash = $1',
      [hashSessionId(session)],
    );
    assert.equal(rows.rows[0]?.n, 0, 'taken sessions are deleted');
  });
});

describe('DDP session hand-off of a logged-in session (wire)', function () {
  this.timeout(60_000);
  const tag = `${process.pid}_${Date.now()}`;
  const alice = `alice_handoff_${tag}`;
  const secretList = `secret_handoff_${tag}`;
  let b: PgrtServer;
  let aliceId: string;
  const clients: Client[] = [];

  async function startTodos(): Promise<{ server: PgrtServer; store: Accounts }> {
    const store = accounts({ bcryptRounds: 4 });
    const server = await createServer({
      app: todosApp(store),
      accounts: store,
      protocols: [ddp({ disconnectGracePeriod: 5000, heartbeatInterval: 0 })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migrateTodos,
      rateLimits: false,
    });
    return { server, store };
  }

  /** Alice logged in on a fresh server A, subscribed to the lists (her secret one included); A then drains. */
  async function handedOff(): Promise<{ session: string; count: number }> {
    const { server: a } = await startTodos();
    try {
      const client = await Client.open(urlOf(a));
      clients.push(client);
      client.send({
        msg: 'method',
        id: 'login',
        method: 'login',
        params: [{ user: { username: alice }, password: 'pw' }],
      });
      const login = await client.waitFor((m) => m.msg === 'result' && m.id === 'login');
      assert.equal(login.error, undefined, JSON.stringify(login));
      await client.waitFor((m) => m.msg === 'updated');
      client.send({ msg: 'sub', id: 'l', name: 'lists' });
      await client.waitFor((m) => m.msg === 'ready');
      assert.ok(client.messages.some((m) => m.msg === 'added' && m.id === secretList));
      await a.close();
      await client.closed;
      return { session: client.session, count: client.receivedCount };
    } finally {
      await a.close();
    }
  }

  before(async () => {
    const started = await startTodos();
    b = started.server;
    aliceId = await started.store.createUser({ username: alice, password: 'pw' });
    await b.db.query('INSERT INTO todo_lists (id, name, owner_id) VALUES ($1, $2, $3)', [
      secretList,
      'S',
      aliceId,
    ]);
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  after(async () => {
    await b?.close();
  });

  it('keeps the user: nothing changed, so the client gets only connected and ready', async () => {
    const { session, count } = await handedOff();
    const back = await open(b, { session, receivedCount: count });
    await back.waitFor((m) => m.msg === 'ready');
    assert.deepEqual(back.messages, [
      { msg: 'connected', session },
      { msg: 'ready', subs: ['l'] },
    ]);
  });

  it('starts over when the login token was removed while the client was away', async () => {
    const { session, count } = await handedOff();
    await b.db.query('DELETE FROM pgrt.login_tokens WHERE user_id = $1', [aliceId]);
    const back = await open(b, { session, receivedCount: count });
    assert.notEqual(back.session, session);
  });

  async function open(server: PgrtServer, connect: Message = {}): Promise<Client> {
    const client = await Client.open(urlOf(server), connect);
    clients.push(client);
    return client;
  }
});
