/// <reference lib="dom" />
/**
 * DDP session resumption (Meteor 3.5, reference/ddp.md §1.12; docs/reference.md "Session resumption") in real
 * Chromium over SockJS: a page whose connection drops comes back to the same session and gets exactly what it
 * missed — no initial data re-sent — and a page that comes back after the grace period gets a new session.
 *
 * No client on npm implements Meteor 3.5 resumption, so the page runs a small Meteor-3.5-style DDP client
 * ({@link pageClient}) on npm sockjs-client with Meteor's transport whitelist: it counts what it receives except
 * `ping`/`pong` (`receivedCount`), resumes with `connect {session, receivedCount}`, re-sends its subscriptions on
 * reconnect as Meteor does, and keeps its documents in a store that, like minimongo, throws on a duplicate
 * `added` and on `changed`/`removed` for an unknown id.
 *
 * The drop: the page reaches the server through a {@link DroppableProxy}, which resets the TCP connection at both
 * ends — no WebSocket close frame, no SockJS close frame, no DDP `disconnect`; the server sees ECONNRESET, the page
 * WebSocket code 1006. That is what a network failure looks like to the server (a NAT or load balancer losing its
 * state, a Wi-Fi/mobile switch). Chromium's own offline emulation (`context.setOffline(true)`) is no substitute:
 * it leaves an established WebSocket open at both ends, so nothing drops at all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type SockJSClient from 'sockjs-client';
import type { DdpProtocol } from '../../adapters/ddp/ddp-protocol.js';
import type { Session } from '../../core/session.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer, type Protocol } from '../../index.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';
import { bundleForBrowser, DroppableProxy, launchChromium, requireChromium } from './support.js';

const TAG = `resume-${process.pid}`;
const SHORT_GRACE_MS = 500;
/** Longest wait for anything the server or the page should do promptly (a busy 2-core machine included). */
const DEADLINE_MS = 8000;

type Message = { readonly msg?: string } & Record<string, unknown>;
/** Published fields as they arrive on the wire (EJSON, e.g. dates as `{$date}`). */
type WireFields = Record<string, unknown>;

/** What the page exposes to the test as `window.resumption` (see {@link pageClient}). */
interface PageClient {
  /** Every message received, in order, `ping`/`pong` included. */
  readonly messages: Message[];
  /** Every message sent, in order. */
  readonly sent: Message[];
  /** Messages received on the current session except `ping`/`pong`, `connected` included (Meteor 3.5). */
  readonly receivedCount: number;
  readonly session: string | undefined;
  /** Subscriptions that got `ready` on the current session. */
  readonly ready: string[];
  /** What the store refused (each would be an exception in minimongo). */
  readonly storeErrors: string[];
  /** SockJS close events seen. */
  readonly closes: { readonly code: number; readonly reason: string }[];
  /** The SockJS transport of the open socket (`websocket`, `xhr-polling`, …), if any. */
  transport(): string | undefined;
  /** The store's `presentations`, id → fields. */
  view(): Record<string, WireFields>;
  /**
   * Opens a SockJS socket and sends `connect`; with `resume`, names the last session and its `receivedCount`
   * and re-sends every subscription at once, as Meteor's client does. Resolves with the `connected` session id.
   */
  connect(resume: boolean): Promise<string>;
  /** Subscribes; resolves on `ready`. */
  subscribe(id: string, name: string): Promise<void>;
  /** Calls a method; resolves once its `result` and `updated` arrived. */
  call(id: string, method: string, params: unknown[]): Promise<void>;
}

declare global {
  interface Window {
    resumption: PageClient;
  }
}

/**
 * The page's DDP client. Runs in Chromium: serialized with `toString()` into the page bundle, so it must use
 * nothing from this module's scope (sockjs-client is passed in).
 */
function pageClient(SockJS: typeof SockJSClient, deadlineMs: number): void {
  /** Meteor's browser client whitelist (`socket-stream-client/browser.js`). */
  const transports = ['websocket', 'xdr-polling', 'xhr-polling', 'iframe-xhr-polling', 'jsonp-polling'];
  const messages: Message[] = [];
  const sent: Message[] = [];
  const storeErrors: string[] = [];
  const closes: { code: number; reason: string }[] = [];
  const subs = new Map<string, string>();
  const store = new Map<string, Map<string, WireFields>>();
  let ready: string[] = [];
  let receivedCount = 0;
  let session: string | undefined;
  let socket: (WebSocket & { transport?: string }) | undefined;
  const waiters = new Set<() => void>();

  /** Resolves when `test()` returns a value other than undefined; rejects after the deadline. */
  const until = <T>(what: string, test: () => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        let value: T | undefined;
        try {
          value = test();
        } catch (error) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(error);
          return;
        }
        if (value === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`page: no ${what} within ${deadlineMs} ms; received ${JSON.stringify(messages)}`));
      }, deadlineMs);
      waiters.add(check);
      check();
    });

  const send = (message: Message) => {
    if (!socket) throw new Error('page: not connected');
    sent.push(message);
    socket.send(JSON.stringify(message));
  };

  /** minimongo's contract: no duplicate `added`, no `changed`/`removed` for an id it does not hold. */
  const apply = (message: Message) => {
    const collection = String(message.collection);
    const id = String(message.id);
    let documents = store.get(collection);
    if (!documents) {
      documents = new Map();
      store.set(collection, documents);
    }
    const current = documents.get(id);
    switch (message.msg) {
      case 'added':
        if (current) throw new Error(`duplicate added ${collection}/${id}`);
        documents.set(id, { ...(message.fields as WireFields | undefined) });
        return;
      case 'changed': {
        if (!current) throw new Error(`changed for unknown ${collection}/${id}`);
        Object.assign(current, message.fields as WireFields | undefined);
        for (const name of (message.cleared as string[] | undefined) ?? []) delete current[name];
        return;
      }
      case 'removed':
        if (!current) throw new Error(`removed for unknown ${collection}/${id}`);
        documents.delete(id);
        return;
      default:
        throw new Error(`not a data message: ${String(message.msg)}`);
    }
  };

  const receive = (data: string) => {
    const message = JSON.parse(data) as Message;
    messages.push(message);
    if (message.msg === 'ping') {
      send(message.id === undefined ? { msg: 'pong' } : { msg: 'pong', id: message.id });
    } else if (message.msg !== 'pong') {
      if (message.msg === 'connected' && message.session !== session) {
        // A new session: Meteor's client starts counting again and replaces its data.
        session = String(message.session);
        receivedCount = 0;
        store.clear();
        ready = [];
      }
      receivedCount += 1;
      if (message.msg === 'added' || message.msg === 'changed' || message.msg === 'removed') {
        try {
          apply(message);
        } catch (error) {
          storeErrors.push(String(error));
        }
      }
      if (message.msg === 'ready') ready.push(...(message.subs as string[]));
    }
    for (const waiter of [...waiters]) waiter();
  };

  const client: PageClient = {
    messages,
    sent,
    storeErrors,
    closes,
    get receivedCount() {
      return receivedCount;
    },
    get session() {
      return session;
    },
    get ready() {
      return ready;
    },
    transport: () => socket?.transport,
    view: () => Object.fromEntries(store.get('presentations') ?? []),
    connect(resume) {
      if (socket) throw new Error('page: already connected');
      const from = messages.length;
      const opened = new SockJS('/sockjs', undefined, { transports }) as WebSocket & { transport?: string };
      socket = opened;
      let closed = false;
      opened.onmessage = (event) => receive(String(event.data));
      opened.onclose = (event) => {
        closes.push({ code: event.code, reason: event.reason });
        closed = true;
        if (socket === opened) socket = undefined;
        for (const waiter of [...waiters]) waiter();
      };
      opened.onopen = () => {
        const previous = session;
        send({
          msg: 'connect',
          version: '1',
          support: ['1', 'pre2', 'pre1'],
          ...(resume && previous !== undefined ? { session: previous, receivedCount } : {}),
        });
        if (resume) for (const [id, name] of subs) send({ msg: 'sub', id, name });
      };
      return until('connected', () => {
        const connected = messages.slice(from).find((m) => m.msg === 'connected');
        if (connected) return String(connected.session);
        if (closed) throw new Error(`page: socket closed before connected: ${JSON.stringify(closes)}`);
        return undefined;
      });
    },
    async subscribe(id, name) {
      subs.set(id, name);
      send({ msg: 'sub', id, name });
      await until(`ready for ${id}`, () => (ready.includes(id) ? true : undefined));
    },
    async call(id, method, params) {
      const from = messages.length;
      send({ msg: 'method', id, method, params });
      await until(`result and updated for ${id}`, () => {
        const later = messages.slice(from);
        const result = later.some((m) => m.msg === 'result' && m.id === id);
        const updated = later.some((m) => m.msg === 'updated' && (m.methods as string[]).includes(id));
        return result && updated ? true : undefined;
      });
    },
  };
  window.resumption = client;
}

/** Polls `test` until it holds; fails with `what` after the deadline. */
async function until(what: string, test: () => boolean | Promise<boolean>): Promise<void> {
  await waitUntil(test, { timeoutMs: DEADLINE_MS, what: () => what });
}

/** A row of `presentations` as its document's published fields on the wire (NULL → absent, dates as EJSON). */
function wireFields(row: Record<string, unknown>): WireFields {
  const fields: WireFields = {};
  for (const name of ['title', 'subtitle', 'created_at']) {
    const value = row[name];
    if (value === null || value === undefined) continue;
    fields[name] = value instanceof Date ? { $date: value.getTime() } : value;
  }
  return fields;
}

/** DDP on a server, with access to the adapter (to see sessions waiting for their client). */
function observedDdp(options: Parameters<typeof ddp>[0]): { protocol: Protocol; adapter: () => DdpProtocol } {
  const inner = ddp(options);
  let adapter: DdpProtocol | undefined;
  return {
    protocol: {
      name: inner.name,
      attach(...args) {
        const handle = inner.attach(...args);
        adapter = handle as DdpProtocol;
        return handle;
      },
    },
    adapter: () => {
      if (!adapter) throw new Error('DDP not attached');
      return adapter;
    },
  };
}

/** A server of the presentations app, reached through its own droppable proxy. */
interface Target {
  readonly server: PgrtServer;
  readonly proxy: DroppableProxy;
  readonly adapter: () => DdpProtocol;
}

describe('DDP session resumption in Chromium (SockJS, dropped connection)', function () {
  this.timeout(20_000);
  let dir: string;
  let db: pg.Client;
  let browser: Browser | undefined;
  /** The default grace period (15 s). */
  let resumable: Target;
  /** A grace period of {@link SHORT_GRACE_MS}. */
  let shortGrace: Target;
  const targets: Target[] = [];
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  async function start(options: Parameters<typeof ddp>[0]): Promise<Target> {
    const { protocol, adapter } = observedDdp({ ...options, meteorClient: { staticDir: dir, watch: false } });
    const server = await createServer({
      app: presentationsApp(),
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migratePresentations,
      protocols: [protocol],
    });
    const target = { server, proxy: await DroppableProxy.start(server.port), adapter };
    targets.push(target);
    return target;
  }

  before(async function () {
    requireChromium(this);
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'pgrt-resumption-web-'));
    // tsx compiles this file with esbuild's keepNames, which wraps named functions in `__name(fn, "name")`:
    // give the serialized client a no-op `__name`.
    const script = await bundleForBrowser(
      `import SockJS from 'sockjs-client';\nconst __name = (fn) => fn;\n(${pageClient.toString()})(SockJS, ${DEADLINE_MS});\n`,
    );
    writeFileSync(join(dir, 'client.js'), script);
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html>\n<html><head><meta charset="utf-8"><title>pgrt resumption</title></head>\n' +
        '<body><script src="/client.js"></script></body></html>\n',
    );
    db = new pg.Client(testDatabaseUrl());
    await db.connect();
    resumable = await start({});
    shortGrace = await start({ disconnectGracePeriod: SHORT_GRACE_MS });
    browser = await launchChromium();
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close();
    await db?.query('DELETE FROM presentations WHERE id LIKE $1', [`${TAG}-%`]).catch(() => undefined);
    await db?.end().catch(() => undefined);
    for (const { proxy, server } of targets.splice(0)) {
      await proxy.close();
      await server.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await db.query('DELETE FROM presentations WHERE id LIKE $1', [`${TAG}-%`]);
    for (const [suffix, title, subtitle] of [
      ['a', 'Alpha', 'first'],
      ['b', 'Bravo', 'second'],
      ['c', 'Charlie', 'third'],
    ] as const) {
      await db.query('INSERT INTO presentations (id, title, subtitle, created_at) VALUES ($1, $2, $3, $4)', [
        `${TAG}-${suffix}`,
        `${title} ${TAG}`,
        subtitle,
        new Date(Date.UTC(2026, 2, 6, 12, 0, 0, suffix.charCodeAt(0))),
      ]);
    }
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    assert.deepEqual(pageErrors.splice(0), [], 'no uncaught errors in the pages');
  });

  /** The whole table as the page should hold it. */
  async function table(): Promise<Record<string, WireFields>> {
    const { rows } = await db.query('SELECT id, title, subtitle, created_at FROM presentations ORDER BY id');
    return Object.fromEntries(rows.map((row: Record<string, unknown>) => [String(row.id), wireFields(row)]));
  }

  /** The server's core session with this id, if it is still open. */
  function coreSession(target: Target, id: string): Session | undefined {
    return [...target.server.core.sessions].find((session) => session.connection.id === id);
  }

  /** A page of the test client, connected through the target's proxy and subscribed to `presentations`. */
  async function openSubscribed(target: Target): Promise<{ page: Page; session: string }> {
    if (!browser) throw new Error('no browser');
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(DEADLINE_MS);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${target.proxy.port}/`);
    const session = await page.evaluate(() => window.resumption.connect(false));
    await page.evaluate(() => window.resumption.subscribe('s1', 'presentations'));
    assert.equal(await page.evaluate(() => window.resumption.transport()), 'websocket');
    assert.deepEqual(await page.evaluate(() => window.resumption.view()), await table(), 'initial documents');
    return { page, session };
  }

  /** Cuts the page's connection in the proxy; resolves once the page and the server both noticed. */
  async function dropConnection(target: Target, page: Page): Promise<void> {
    const closesBefore = await page.evaluate(() => window.resumption.closes.length);
    assert.ok(target.proxy.drop() >= 1, 'the page had a connection through the proxy');
    await page.waitForFunction((n) => window.resumption.closes.length > n, closesBefore);
    assert.equal(
      await page.evaluate(() => window.resumption.transport()),
      undefined,
      'the page lost its socket',
    );
    await until('the server to park the session', () => target.adapter().parkedSessionCount === 1);
  }

  it('resumes a dropped connection: same session, exactly the missed changes in order, nothing re-sent', async () => {
    const { page, session } = await openSubscribed(resumable);
    const countBefore = await page.evaluate(() => window.resumption.receivedCount);
    const received = await page.evaluate(() => window.resumption.messages.length);

    await dropConnection(resumable, page);
    const sessionsWhileAway = resumable.server.core.sessions.size;
    assert.ok(coreSession(resumable, session), 'the session is kept while the page is away');

    // Written by someone else while the page is away, one statement (one notification) at a time.
    await db.query('INSERT INTO presentations (id, title, created_at) VALUES ($1, $2, $3)', [
      `${TAG}-d`,
      `Delta ${TAG}`,
      new Date(Date.UTC(2026, 2, 6, 13, 0, 0, 0)),
    ]);
    await db.query('UPDATE presentations SET title = $2 WHERE id = $1', [`${TAG}-a`, `Alpha 2 ${TAG}`]);
    await db.query('DELETE FROM presentations WHERE id = $1', [`${TAG}-b`]);
    await db.query('UPDATE presentations SET subtitle = NULL WHERE id = $1', [`${TAG}-c`]);
    const expected = await table();

    // Let the parked session publish (and buffer) all of it before the page comes back, so it must be replayed.
    await until('the parked session to hold the new state', () => {
      const documents = coreSession(resumable, session)?.mergeBox.snapshot().get('presentations');
      const held = Object.fromEntries([...(documents ?? [])].map(([id, fields]) => [id, wireFields(fields)]));
      return JSON.stringify(held) === JSON.stringify(expected);
    });
    assert.equal(resumable.adapter().parkedSessionCount, 1, 'still waiting for its client');

    const resumed = await page.evaluate(() => window.resumption.connect(true));
    const connect = (await page.evaluate(() => window.resumption.sent)).findLast((m) => m.msg === 'connect');
    assert.deepEqual(connect, {
      msg: 'connect',
      version: '1',
      support: ['1', 'pre2', 'pre1'],
      session,
      receivedCount: countBefore,
    });
    assert.equal(resumed, session, 'connected carries the same session id');
    assert.equal(await page.evaluate(() => window.resumption.transport()), 'websocket');
    // The re-sent `sub` is queued before this call, so once it is answered the server has dealt with both.
    await page.evaluate(
      (id) => window.resumption.call('barrier', 'presentations.remove', [id]),
      `${TAG}-none`,
    );

    const after = (await page.evaluate(() => window.resumption.messages))
      .slice(received)
      .filter((m) => m.msg !== 'ping' && m.msg !== 'pong');
    const barrier = after.filter(
      (m) =>
        (m.msg === 'result' && m.id === 'barrier') ||
        (m.msg === 'updated' && String(m.methods) === 'barrier'),
    );
    assert.equal(barrier.length, 2, 'the barrier call was answered');
    const collection = 'presentations';
    assert.deepEqual(
      after.filter((m) => !barrier.includes(m)),
      [
        { msg: 'connected', session },
        {
          msg: 'added',
          collection,
          id: `${TAG}-d`,
          fields: { title: `Delta ${TAG}`, created_at: { $date: Date.UTC(2026, 2, 6, 13, 0, 0, 0) } },
        },
        { msg: 'changed', collection, id: `${TAG}-a`, fields: { title: `Alpha 2 ${TAG}` } },
        { msg: 'removed', collection, id: `${TAG}-b` },
        { msg: 'changed', collection, id: `${TAG}-c`, cleared: ['subtitle'] },
      ],
      'connected, then exactly the missed changes, in order, and nothing re-sent',
    );
    assert.deepEqual(await page.evaluate(() => window.resumption.storeErrors), []);
    assert.deepEqual(
      await page.evaluate(() => window.resumption.view()),
      expected,
      'the page holds the table',
    );
    assert.equal(
      await page.evaluate(() => window.resumption.receivedCount),
      countBefore + after.length,
      'the count continues from the old one',
    );
    assert.equal(resumable.adapter().parkedSessionCount, 0);
    assert.equal(resumable.server.core.sessions.size, sessionsWhileAway, 'no new session was opened');
  });

  it('after the grace period the page gets a new session and starts over', async () => {
    const { page, session } = await openSubscribed(shortGrace);
    const countBefore = await page.evaluate(() => window.resumption.receivedCount);

    await dropConnection(shortGrace, page);
    await db.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [`${TAG}-e`, `Echo ${TAG}`]);
    // The grace period (SHORT_GRACE_MS) runs out: the server ends the session.
    await until('the grace period to end the session', () => shortGrace.adapter().parkedSessionCount === 0);
    assert.equal(coreSession(shortGrace, session), undefined, 'the old session ended');

    const renewed = await page.evaluate(() => window.resumption.connect(true));
    const connect = (await page.evaluate(() => window.resumption.sent)).findLast((m) => m.msg === 'connect');
    assert.deepEqual(connect, {
      msg: 'connect',
      version: '1',
      support: ['1', 'pre2', 'pre1'],
      session,
      receivedCount: countBefore,
    });
    assert.notEqual(renewed, session, 'a new session id');
    // The re-sent subscription starts over on the new session.
    await page.waitForFunction(() => window.resumption.ready.includes('s1'));
    assert.deepEqual(await page.evaluate(() => window.resumption.storeErrors), []);
    assert.deepEqual(
      await page.evaluate(() => window.resumption.view()),
      await table(),
      'the page holds the table',
    );
    assert.ok(coreSession(shortGrace, renewed), 'the new session is open');
  });
});
