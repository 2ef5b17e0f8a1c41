/**
 * SockJS cases (ddp.md checklist 1–6, 8): `/sockjs/info` and its CORS preflight, the websocket transport's
 * framing (`o`, `a[…]`, client arrays of strings), heartbeats, the optional legacy welcome frame; plus the 19
 * ddptest cases run over SockJS with npm `sockjs-client`, the way ddptest itself ran (it waited for the server's
 * first frame before each test).
 *
 * The framing cases talk to the transport URL with a bare `ws` socket, so they see the SockJS frames themselves.
 */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { type CaseContext, type ConformanceCase, FAST_HEARTBEAT_MS, type SuiteOptions } from '../case.js';
import type { DdpTestClient } from '../client.js';
import { ddptestCases } from './ddptest.js';

const CONNECT = JSON.stringify({ msg: 'connect', version: '1', support: ['1', 'pre2', 'pre1'] });

/** A bare WebSocket on a SockJS websocket-transport URL that records raw frames and WebSocket pings. */
class SockJsFrames {
  readonly frames: string[] = [];
  pings = 0;
  closed = false;
  readonly #waiters: (() => void)[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      this.frames.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
      this.#wake();
    });
    ws.on('ping', () => {
      this.pings += 1;
      this.#wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    ws.on('error', () => undefined);
  }

  /** Opens `ws(s)://…/<prefix>/<server>/<session>/websocket` with a random server and session. */
  static open(sockjsUrl: string): Promise<SockJsFrames> {
    const base = sockjsUrl.replace(/^http/, 'ws');
    const session = Math.random().toString(36).slice(2, 10).padEnd(8, 'x');
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base}/123/${session}/websocket`);
      const frames = new SockJsFrames(ws);
      ws.once('open', () => resolve(frames));
      ws.once('error', (error) => reject(error));
    });
  }

  /** Sends one SockJS client frame: a JSON array of message strings. */
  send(messages: readonly string[]): void {
    this.ws.send(JSON.stringify(messages));
  }

  /** Waits until `done()` holds (checked on every frame, ping and close). */
  async until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      const left = deadline - performance.now();
      if (left <= 0 || this.closed)
        throw new Error(
          `${this.closed ? 'closed' : 'timed out'} waiting for ${what}; frames: ${JSON.stringify(this.frames)}`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** DDP messages carried by the `a[…]` frames received so far, in order. */
  messages(): Record<string, unknown>[] {
    return this.frames
      .filter((frame) => frame.startsWith('a'))
      .flatMap((frame) =>
        (JSON.parse(frame.slice(1)) as string[]).map((m) => JSON.parse(m) as Record<string, unknown>),
      );
  }

  close(): void {
    this.ws.terminate();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

async function withFrames(ctx: CaseContext, run: (socket: SockJsFrames) => Promise<void>): Promise<void> {
  const socket = await SockJsFrames.open(ctx.sockjsUrl);
  try {
    await run(socket);
  } finally {
    socket.close();
  }
}

function heartbeatMs(options: SuiteOptions): number {
  return options.sockjsHeartbeatMs ?? 45_000;
}

/** SockJS cases (checklist 1–6, 8). */
export const sockjsCases: ConformanceCase[] = [
  {
    id: 'sockjs.01',
    group: 'sockjs',
    title: 'GET /sockjs/info → 200 JSON {websocket, origins, cookie_needed, entropy}',
    checklist: [1],
    async run(ctx) {
      const response = await fetch(`${ctx.sockjsUrl}/info`, {
        headers: { origin: 'https://client.example' },
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      assert.match(response.headers.get('cache-control') ?? '', /no-store/);
      assert.equal(response.headers.get('access-control-allow-origin'), 'https://client.example');
      const info = (await response.json()) as Record<string, unknown>;
      assert.equal(info.websocket, true);
      assert.deepEqual(info.origins, ['*:*']);
      assert.equal(info.cookie_needed, false);
      assert.ok(Number.isInteger(info.entropy), `entropy ${String(info.entropy)} is an integer`);
      const bare = await fetch(`${ctx.sockjsUrl}/info`);
      assert.equal(bare.headers.get('access-control-allow-origin'), '*', 'no Origin → *');
      const again = (await bare.json()) as Record<string, unknown>;
      assert.notEqual(again.entropy, info.entropy, 'entropy is random per request');
    },
  },
  {
    id: 'sockjs.02',
    group: 'sockjs',
    title: 'OPTIONS /sockjs/info with Origin → CORS preflight allowing GET',
    checklist: [2],
    async run(ctx) {
      const response = await fetch(`${ctx.sockjsUrl}/info`, {
        method: 'OPTIONS',
        headers: { origin: 'https://client.example', 'access-control-request-method': 'GET' },
      });
      assert.ok(response.status >= 200 && response.status < 300, `status ${response.status}`);
      assert.match(response.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
      assert.equal(response.headers.get('access-control-allow-origin'), 'https://client.example');
    },
  },
  {
    id: 'sockjs.03',
    group: 'sockjs',
    title: 'WS /sockjs/123/abcdefgh/websocket → first frame "o"',
    checklist: [3],
    run: (ctx) =>
      withFrames(ctx, async (socket) => {
        await socket.until(() => socket.frames.length > 0, 'the first frame', ctx.options.waitMs);
        assert.equal(socket.frames[0], 'o');
      }),
  },
  {
    id: 'sockjs.04',
    group: 'sockjs',
    title: 'SockJS array frame with connect → a["…connected…"]',
    checklist: [4],
    run: (ctx) =>
      withFrames(ctx, async (socket) => {
        await socket.until(() => socket.frames[0] === 'o', '"o"', ctx.options.waitMs);
        socket.send([CONNECT]);
        const connected = () => socket.messages().find((m) => m.msg === 'connected');
        await socket.until(() => connected() !== undefined, 'connected', ctx.options.waitMs);
        // The a-frame is parsed, not matched: key order and whitespace are the server's (JSON objects are unordered).
        const frame = socket.frames.find((f) => {
          if (!f.startsWith('a')) return false;
          const batch: unknown = JSON.parse(f.slice(1));
          return (
            Array.isArray(batch) &&
            batch.some(
              (m) => typeof m === 'string' && (JSON.parse(m) as { msg?: unknown }).msg === 'connected',
            )
          );
        });
        assert.ok(
          frame,
          `an a-frame (a JSON array of JSON strings) carrying connected: ${JSON.stringify(socket.frames)}`,
        );
        const batch = JSON.parse(frame.slice(1)) as unknown[];
        assert.ok(
          batch.every((m) => typeof m === 'string'),
          `every element a string: ${frame}`,
        );
        assert.equal(typeof connected()?.session, 'string', 'connected carries a session id');
      }),
  },
  {
    id: 'sockjs.05',
    group: 'sockjs',
    title: 'two DDP messages in one SockJS frame → both processed in order',
    checklist: [5],
    run: (ctx) =>
      withFrames(ctx, async (socket) => {
        await socket.until(() => socket.frames[0] === 'o', '"o"', ctx.options.waitMs);
        socket.send([CONNECT, JSON.stringify({ msg: 'ping', id: 'second' })]);
        const relevant = () => socket.messages().filter((m) => m.msg === 'connected' || m.msg === 'pong');
        await socket.until(() => relevant().length >= 2, 'connected and pong', ctx.options.waitMs);
        assert.deepEqual(
          relevant().map((m) => m.msg),
          ['connected', 'pong'],
        );
        assert.equal(relevant()[1]?.id, 'second');
      }),
  },
  {
    id: 'sockjs.06',
    group: 'sockjs',
    title: 'idle SockJS session → heartbeat ("h" on xhr-polling; "h" or a WebSocket ping on websocket)',
    checklist: [6],
    skip: (options) =>
      heartbeatMs(options) > FAST_HEARTBEAT_MS && !options.slow
        ? `SockJS heartbeat ${heartbeatMs(options)} ms (run with --slow or a short sockjsHeartbeatMs)`
        : undefined,
    timeoutMs: (options) => 3 * heartbeatMs(options) + 10_000,
    async run(ctx) {
      const wait = 2 * heartbeatMs(ctx.options) + 2000;
      await withFrames(ctx, async (socket) => {
        await socket.until(() => socket.frames[0] === 'o', '"o"', ctx.options.waitMs);
        // sockjs 0.3.24 (Meteor's) heartbeats a websocket with a WebSocket ping; other servers send "h".
        await socket.until(() => socket.pings > 0 || socket.frames.includes('h'), 'a heartbeat', wait);
      });
      // xhr-polling: the first poll opens the session, the next one is held until a frame (here "h") is due.
      const session = `${ctx.sockjsUrl}/123/${Math.random().toString(36).slice(2, 10)}`;
      const open = await fetch(`${session}/xhr`, { method: 'POST' });
      assert.equal((await open.text()).trim(), 'o');
      // A welcome frame, if the server sends one, comes first; the heartbeat is the next frame after it.
      const seen: string[] = [];
      for (let poll = 0; poll < 3 && !seen.includes('h'); poll += 1) {
        const response = await fetch(`${session}/xhr`, { method: 'POST', signal: AbortSignal.timeout(wait) });
        seen.push((await response.text()).trim());
      }
      assert.ok(seen.includes('h'), `an "h" frame among the polls: ${JSON.stringify(seen)}`);
      assert.ok(
        seen.every((frame) => frame === 'h' || frame.startsWith('a[')),
        `only heartbeats or messages: ${JSON.stringify(seen)}`,
      );
    },
  },
  {
    id: 'sockjs.08',
    group: 'sockjs',
    title: 'SockJS open → server-first welcome frame without msg (ddptest option)',
    checklist: [8],
    skip: (options) =>
      options.sockjsWelcome === false ? 'the server does not send the legacy welcome frame' : undefined,
    run: (ctx) =>
      withFrames(ctx, async (socket) => {
        await socket.until(() => socket.frames.length >= 2, '"o" and a welcome frame', ctx.options.waitMs);
        assert.equal(socket.frames[0], 'o');
        const [welcome] = socket.messages();
        assert.ok(welcome && !('msg' in welcome), `welcome without msg: ${JSON.stringify(welcome)}`);
      }),
  },
];

/**
 * The context ddptest ran in: every client is a SockJS session (websocket transport), opened like ddptest's
 * `beforeEach`, which waited for the server's first frame (unless the suite says the server sends none).
 */
function overSockJs(ctx: CaseContext): CaseContext {
  const open = async (): Promise<DdpTestClient> => {
    const client = await ctx.openSockJs();
    if (ctx.options.sockjsWelcome !== false) await client.waitWelcome();
    return client;
  };
  return {
    ...ctx,
    open,
    async connected() {
      const client = await open();
      await client.connect();
      return client;
    },
  };
}

/** The 19 ddptest cases over SockJS with npm `sockjs-client` (ids `ddptest-sockjs.NN`). */
export const ddptestSockJsCases: ConformanceCase[] = ddptestCases.map((testCase) => ({
  ...testCase,
  id: testCase.id.replace(/^ddptest\./, 'ddptest-sockjs.'),
  group: 'ddptest-sockjs',
  title: `${testCase.title} (SockJS)`,
  run: (ctx: CaseContext) => testCase.run(overSockJs(ctx)),
}));
