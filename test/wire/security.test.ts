/**
 * Attacks over the wire, on DDP (raw WebSocket) and WAMP (`wamp.2.json`) against one server: exceeding the login
 * rate limit and custom rules on a method and on a subscription, oversized, deeply nested and malformed frames,
 * and a client that stops reading while data streams. Each gets the documented error (docs/reference.md "Rate
 * limiting", "Limits") and a well-behaved client on the same server keeps being served throughout.
 *
 * `login` here is a dummy method: the rate limit applies to the name, whoever implements it.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { subscribe } from '../../adapters/wamp/client.js';
import { type AutobahnHandle, openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { StalledWebSocket } from '../fixtures/stalled-websocket.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_BUFFERED_BYTES = 256 * 1024;
/** Each flood change carries this much: 8 per 2 ms tick is 32 KiB per write window, well under the cap. */
const FLOOD_BLOB_BYTES = 4 * 1024;
const WAIT_REASON =
  /^Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying again\.$/;

/** The test app: a dummy login, a rule-limited method, a rule-limited feed, and a publication that floods. */
function securityApp(): App {
  return new App()
    .method('login', () => ({ id: 'u1', token: 'not-a-real-token' }))
    .method('echo', (_ctx, value: unknown) => value)
    .method('limited', () => 'ok')
    .method('big', () => ({ blob: 'x'.repeat(128 * 1024) }))
    .publish('feed', (ctx) => {
      ctx.ready();
    })
    .publish('flood', (ctx) => {
      for (let i = 0; i < 8; i++) ctx.added('flood', `d${i}`, { n: 0 });
      ctx.ready();
      let n = 0;
      const timer = setInterval(() => {
        for (let i = 0; i < 8; i++)
          ctx.changed('flood', `d${i}`, { n: ++n, blob: `${n}`.padEnd(FLOOD_BLOB_BYTES, '.') });
      }, 2);
      ctx.onStop(() => clearInterval(timer));
    });
}

/** A raw WAMP client on `wamp.2.json`, recording every message. */
class RawWamp {
  readonly messages: unknown[][] = [];
  readonly closed: Promise<number>;
  #request = 0;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.on('error', () => {});
    ws.on('message', (data: WebSocket.RawData) => this.messages.push(JSON.parse(String(data)) as unknown[]));
  }

  static async open(url: string): Promise<RawWamp> {
    const ws = new WebSocket(url, ['wamp.2.json'], { perMessageDeflate: false });
    const client = new RawWamp(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    client.send([1, 'realm1', { roles: { caller: {}, subscriber: {} } }]);
    await client.waitFor((m) => m[0] === 2);
    return client;
  }

  send(message: unknown[]): void {
    this.ws.send(JSON.stringify(message));
  }

  async waitFor(test: (m: unknown[]) => boolean, from = 0): Promise<unknown[]> {
    let found: unknown[] | undefined;
    await waitUntil(
      () => {
        found = this.messages.slice(from).find(test);
        return found !== undefined;
      },
      {
        what: () => `a WAMP message (last: ${JSON.stringify(this.messages.at(-1))?.slice(0, 200)})`,
      },
    );
    return found!;
  }

  /** CALL; resolves with RESULT `[50, …]` or ERROR `[8, 48, …]`. */
  async call(procedure: string, args: unknown[] = []): Promise<unknown[]> {
    const request = ++this.#request;
    const from = this.messages.length;
    this.send([48, request, {}, procedure, args]);
    return this.waitFor((m) => (m[0] === 50 && m[1] === request) || (m[0] === 8 && m[2] === request), from);
  }

  close(): void {
    this.ws.terminate();
  }
}

function nested(levels: number): string {
  return `${'['.repeat(levels)}1${']'.repeat(levels)}`;
}

function assertTooManyRequests(error: unknown): void {
  const e = error as { error?: unknown; reason?: unknown; details?: { timeToReset?: unknown } };
  assert.equal(e.error, 'too-many-requests');
  assert.match(String(e.reason), WAIT_REASON);
  const timeToReset = e.details?.timeToReset;
  assert.equal(typeof timeToReset, 'number');
  assert.ok((timeToReset as number) > 0 && (timeToReset as number) <= 10_000, `timeToReset ${timeToReset}`);
}

describe('security: attacks over DDP and WAMP', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let ddpUrl = '';
  let wampUrl = '';
  /** A well-behaved client of each protocol that must keep being served. */
  let bystander: RawDdpClient;
  let wampBystander: RawWamp;
  const open: Array<{ close(): unknown }> = [];

  before(async () => {
    server = await createServer({
      app: securityApp(),
      protocols: [ddp({ maxMessageBytes: MAX_MESSAGE_BYTES }), wamp({ maxMessageBytes: MAX_MESSAGE_BYTES })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: {
        rules: [
          {
            matcher: { type: 'method', name: 'limited', connectionId: () => true },
            numRequests: 3,
            intervalMs: 10_000,
          },
          {
            matcher: { type: 'subscription', name: 'feed', connectionId: () => true },
            numRequests: 2,
            intervalMs: 10_000,
          },
        ],
      },
      // Connections are counted per address only when a limit is set; the slow-consumer tests watch that count.
      limits: { maxBufferedBytes: MAX_BUFFERED_BYTES, maxConnectionsPerAddress: 1000 },
    });
    ddpUrl = `ws://127.0.0.1:${server.port}/websocket`;
    wampUrl = `ws://127.0.0.1:${server.port}/ws`;
    bystander = await RawDdpClient.connect(ddpUrl);
    wampBystander = await RawWamp.open(wampUrl);
  });

  afterEach(async () => {
    // Other clients keep being served after every attack.
    assert.deepEqual((await bystander.call('echo', 'still here')).result, 'still here');
    const reply = await wampBystander.call('echo', ['still here']);
    assert.deepEqual(reply.slice(0, 4), [50, reply[1], {}, ['still here']]);
  });

  after(async () => {
    for (const client of open) await client.close();
    await bystander?.close();
    wampBystander?.close();
    await server?.close();
  });

  async function ddpClient(): Promise<RawDdpClient> {
    const client = await RawDdpClient.connect(ddpUrl);
    open.push(client);
    return client;
  }

  async function wampClient(): Promise<RawWamp> {
    const client = await RawWamp.open(wampUrl);
    open.push(client);
    return client;
  }

  describe('rate limits', () => {
    it('DDP: the 6th login in 10 s on one connection gets too-many-requests with timeToReset', async () => {
      const client = await ddpClient();
      for (let i = 0; i < 5; i++)
        assert.equal((await client.call('login', {})).error, undefined, `login ${i + 1}`);
      const sixth = await client.call('login', {});
      assertTooManyRequests(sixth.error);
      assert.equal(sixth.error?.errorType, 'Meteor.Error');
      // Per connection: a fresh connection may log in.
      const other = await ddpClient();
      assert.equal((await other.call('login', {})).error, undefined);
    });

    it('WAMP: the 6th login CALL gets ERROR pgrt.error.too_many_requests with the same kwargs', async () => {
      const client = await wampClient();
      for (let i = 0; i < 5; i++) assert.equal((await client.call('login', [{}]))[0], 50, `login ${i + 1}`);
      const sixth = await client.call('login', [{}]);
      assert.equal(sixth[0], 8);
      assert.equal(sixth[4], 'pgrt.error.too_many_requests');
      assertTooManyRequests(sixth[6]);
    });

    it('a custom method rule (3 per 10 s per connection) on both protocols', async () => {
      const client = await ddpClient();
      for (let i = 0; i < 3; i++) assert.equal((await client.call('limited')).result, 'ok');
      assertTooManyRequests((await client.call('limited')).error);
      const w = await wampClient();
      for (let i = 0; i < 3; i++) assert.equal((await w.call('limited'))[0], 50);
      const refused = await w.call('limited');
      assert.equal(refused[4], 'pgrt.error.too_many_requests');
      assertTooManyRequests(refused[6]);
    });

    it('a custom subscription rule: DDP nosub and WAMP nosub event carry too-many-requests', async () => {
      const client = await ddpClient();
      await client.subscribe('feed');
      await client.subscribe('feed');
      const id = client.nextId();
      client.send({ msg: 'sub', id, name: 'feed', params: [] });
      const nosub = await client.waitFor((m) => m.msg === 'nosub' && m.id === id);
      assertTooManyRequests(nosub.error);
      let autobahn: AutobahnHandle | undefined;
      try {
        autobahn = await openAutobahn(wampUrl);
        await (await subscribe(autobahn.session, 'feed')).ready;
        await (await subscribe(autobahn.session, 'feed')).ready;
        const third = await subscribe(autobahn.session, 'feed');
        const error = await third.ready.then(
          () => assert.fail('third subscription was accepted'),
          (e: unknown) => e,
        );
        assertTooManyRequests((error as { publicationError: unknown }).publicationError);
      } finally {
        await autobahn?.close();
      }
    });
  });

  describe('hostile frames', () => {
    it('DDP: 10,000 levels of nesting → error "Message too deeply nested"; the connection stays usable', async () => {
      const client = await ddpClient();
      const from = client.messages.length;
      client.sendRaw(`{"msg":"method","id":"x","method":"echo","params":[${nested(10_000)}]}`);
      const error = await client.waitFor((m) => m.msg === 'error', undefined, from);
      assert.deepEqual(error, { msg: 'error', reason: 'Message too deeply nested' });
      assert.equal(
        client.messages.slice(from).find((m) => m.msg === 'result' && m.id === 'x'),
        undefined,
      );
      // 64 levels (the default limit, counting the message and params) still pass.
      assert.equal((await client.call('echo', JSON.parse(nested(61)))).error, undefined);
      assert.equal(client.open, true);
    });

    it('DDP: oversized and malformed frames get "Message too large" and "Bad request"; still usable', async () => {
      const client = await ddpClient();
      const from = client.messages.length;
      client.sendRaw(
        JSON.stringify({ msg: 'method', id: 'y', method: 'echo', params: ['x'.repeat(MAX_MESSAGE_BYTES)] }),
      );
      client.sendRaw('{"msg":"method",');
      await client.waitFor((m) => m.msg === 'error' && m.reason === 'Bad request', undefined, from);
      assert.ok(
        client.messages.slice(from).some((m) => m.msg === 'error' && m.reason === 'Message too large'),
      );
      await client.ping();
    });

    it('WAMP: 10,000 levels of nesting → ABORT wamp.error.protocol_violation and the transport closes', async () => {
      const client = await wampClient();
      client.ws.send(`[48,1,{},"echo",[${nested(10_000)}]]`);
      const abort = await client.waitFor((m) => m[0] === 3);
      assert.equal(abort[2], 'wamp.error.protocol_violation');
      assert.match(String((abort[1] as { message?: unknown }).message), /nested deeper than 64 levels/);
      await client.closed;
    });

    it('WAMP: oversized and malformed frames → ABORT wamp.error.protocol_violation, transport closed', async () => {
      for (const frame of [
        JSON.stringify([48, 1, {}, 'echo', ['x'.repeat(MAX_MESSAGE_BYTES)]]),
        '[48,1,{},',
      ]) {
        const client = await wampClient();
        client.ws.send(frame);
        const abort = await client.waitFor((m) => m[0] === 3);
        assert.equal(abort[2], 'wamp.error.protocol_violation');
        await client.closed;
      }
    });
  });

  describe('slow consumers', () => {
    /** Waits until the server has one connection fewer from 127.0.0.1 than `count` (it dropped one). */
    async function terminatedOne(count: number, what: string): Promise<void> {
      await waitUntil(() => server.host.guard.connectionsFrom('127.0.0.1') < count, {
        timeoutMs: 15_000,
        what: () => what,
      });
    }

    it('DDP: a client that stops reading while a publication streams is terminated at maxBufferedBytes', async () => {
      // A reader that keeps up gets the same stream and stays: no single write window reaches the cap.
      const reader = await ddpClient();
      reader.send({ msg: 'sub', id: 'f', name: 'flood', params: [] });
      const stalled = await StalledWebSocket.open(ddpUrl);
      stalled.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
      await waitUntil(() => stalled.received > 0, { what: () => '`connected` on the raw socket' });
      const before = server.host.guard.connectionsFrom('127.0.0.1');
      stalled.stopReading();
      stalled.send(JSON.stringify({ msg: 'sub', id: 'f', name: 'flood', params: [] }));
      await terminatedOne(before, 'the stalled DDP connection to be terminated');
      stalled.drain();
      await stalled.closed;
      const streamed = reader.messages.filter((m) => m.msg === 'changed').length;
      assert.ok(
        streamed > MAX_BUFFERED_BYTES / FLOOD_BLOB_BYTES,
        `the reader got ${streamed} changes and stayed`,
      );
      assert.deepEqual((await reader.call('echo', 'alive')).result, 'alive');
    });

    it('WAMP: a caller that stops reading its results is terminated (no GOODBYE) at maxBufferedBytes', async () => {
      const stalled = await StalledWebSocket.open(wampUrl, 'wamp.2.json');
      stalled.send(JSON.stringify([1, 'realm1', { roles: { caller: {} } }]));
      await waitUntil(() => stalled.received > 0, { what: () => 'WELCOME on the raw socket' });
      const before = server.host.guard.connectionsFrom('127.0.0.1');
      stalled.stopReading();
      // One call at a time, each result (128 KiB) under the cap: only what piles up unread can exceed it.
      let request = 0;
      const calls = setInterval(() => stalled.send(JSON.stringify([48, ++request, {}, 'big', []])), 5);
      try {
        await terminatedOne(before, 'the stalled WAMP connection to be terminated');
      } finally {
        clearInterval(calls);
      }
      assert.ok(
        request > MAX_BUFFERED_BYTES / (128 * 1024),
        `${request} calls were made before the cap was hit`,
      );
      stalled.drain();
      await stalled.closed;
      // The same calls from a caller that reads its results never hit the cap.
      const reader = await RawWamp.open(wampUrl);
      for (let i = 0; i < 40; i++) assert.equal((await reader.call('big', [])).at(0), 50);
      reader.close();
    });
  });
});
