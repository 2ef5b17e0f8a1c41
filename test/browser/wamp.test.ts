/// <reference lib="dom" />
/**
 * WAMP in real Chromium with plain Autobahn|JS (the `autobahn-browser` 22.11.1 bundle loaded by a script tag; no
 * pgrt helper in the page): a session on `realm1` subscribes to its private topic `pgrt.session.<id>`, calls
 * `pgrt.subscribe ['presentations']` and gets the snapshot and `ready`; a `presentations.add` call's `added`
 * arrives before its RESULT; a row inserted with plain SQL arrives as `added`; and a second page's publication on
 * an ordinary topic reaches the first page through the router.
 *
 * Nothing comes from the network: the page and `autobahn.min.js` (from node_modules) are served by a tiny request
 * handler added to the server under test, so the page and its WebSocket share one origin, as a deployed page's
 * would. (Not `page.route`: Chromium's Local Network Access checks treat a document fulfilled by Playwright as
 * public and block its WebSocket to 127.0.0.1 with `ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS`.)
 * Needs /usr/bin/chromium (or PGRT_CHROMIUM); without it the suite is skipped, or fails under
 * PGRT_REQUIRE_BROWSER=1 (as in CI).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type autobahn from 'autobahn';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../index.js';
import { testDatabaseUrl } from '../support/database.js';
import { launchChromium, requireChromium } from './support.js';

const TAG = `wamp-browser-${process.pid}`;
/** Longest wait for anything the server or a page should do promptly (a busy 2-core machine included). */
const DEADLINE_MS = 5000;
const AUTOBAHN_JS = readFileSync(createRequire(import.meta.url).resolve('autobahn-browser/autobahn.min.js'));

/** A message on the private topic: the EVENT's kwargs (`{msg: 'added', collection, id, fields}`, …). */
type DataMessage = { readonly msg: string } & Readonly<Record<string, unknown>>;

/** The `fields` of an `added`/`changed` message (EJSON values as on the wire). */
function fieldsOf(message: DataMessage | undefined): Readonly<Record<string, unknown>> {
  const fields = message?.fields;
  assert.ok(fields !== null && typeof fields === 'object', `fields in ${JSON.stringify(message)}`);
  return fields as Record<string, unknown>;
}

/** What a page exposes to the test as `window.wampPage` (see {@link pageHarness}). */
interface PageHarness {
  /** Everything received on the private topic, in order. */
  readonly data: DataMessage[];
  /** Event arguments received per ordinary topic subscribed with {@link listen}. */
  readonly received: Record<string, unknown[][]>;
  /** Opens a session on `realm1` at `ws://<page host>/ws`; resolves with the session id. */
  open(): Promise<number>;
  /** Subscribes (exact) to `pgrt.session.<own id>`, collecting into {@link data}. */
  openDataChannel(): Promise<void>;
  /** CALL; resolves with `Arguments[0]` (Autobahn's single-result form), rejects with `{error, kwargs}`. */
  call(procedure: string, args: unknown[]): Promise<unknown>;
  /** Subscribes to an ordinary topic, collecting each event's Arguments into {@link received}. */
  listen(topic: string): Promise<void>;
  /** Acknowledged PUBLISH; resolves when the router acknowledged it. */
  publish(topic: string, args: unknown[]): Promise<void>;
  /** Resolves with the index in {@link data} of the first message with these fields; rejects after a deadline. */
  waitData(match: Readonly<Record<string, unknown>>): Promise<number>;
  /** Resolves when `count` events arrived on `topic`; rejects after a deadline. */
  waitReceived(topic: string, count: number): Promise<void>;
}

declare global {
  interface Window {
    /** The bundle's namespace; it also carries `version` (not in @types/autobahn). */
    autobahn: typeof autobahn & { readonly version: string };
    wampPage: PageHarness;
  }
}

/**
 * The page's side, plain Autobahn|JS on the global `autobahn`. Runs in Chromium: serialized with `toString()`
 * into the page, so it must use nothing from this module's scope.
 */
function pageHarness(deadlineMs: number): void {
  const data: DataMessage[] = [];
  const received: Record<string, unknown[][]> = {};
  const waiters = new Set<() => void>();
  let session: autobahn.Session | undefined;

  const wake = () => {
    for (const check of [...waiters]) check();
  };
  /** Resolves when `test()` returns a value other than undefined; rejects after the deadline. */
  const until = <T>(what: string, test: () => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = test();
        if (value === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`page: no ${what} within ${deadlineMs} ms; data ${JSON.stringify(data)}`));
      }, deadlineMs);
      waiters.add(check);
      check();
    });
  const current = (): autobahn.Session => {
    if (!session) throw new Error('page: no session');
    return session;
  };
  /** Autobahn rejects with an `autobahn.Error`; give the test its URI and kwargs. */
  const plain = (error: unknown): Error => {
    const e = error as { error?: string; kwargs?: unknown };
    return new Error(`${e.error ?? String(error)} ${JSON.stringify(e.kwargs ?? {})}`);
  };

  window.wampPage = {
    data,
    received,
    open: () =>
      new Promise<number>((resolve, reject) => {
        const connection = new window.autobahn.Connection({
          url: `ws://${location.host}/ws`,
          realm: 'realm1',
          max_retries: 0,
        });
        connection.onopen = (opened) => {
          session = opened;
          resolve(opened.id);
        };
        connection.onclose = (reason, details) => {
          reject(new Error(`page: connection closed: ${reason} ${JSON.stringify(details)}`));
          return false;
        };
        connection.open();
      }),
    async openDataChannel() {
      const s = current();
      await s.subscribe(`pgrt.session.${s.id}`, (_args, kwargs) => {
        data.push(kwargs as DataMessage);
        wake();
      });
    },
    async call(procedure, args) {
      try {
        return await current().call(procedure, args);
      } catch (error) {
        throw plain(error);
      }
    },
    async listen(topic) {
      const events: unknown[][] = [];
      received[topic] = events;
      await current().subscribe(topic, (args) => {
        events.push(args ?? []);
        wake();
      });
    },
    async publish(topic, args) {
      try {
        await current().publish(topic, args, {}, { acknowledge: true });
      } catch (error) {
        throw plain(error);
      }
    },
    waitData: (match) =>
      until(`message ${JSON.stringify(match)}`, () => {
        const index = data.findIndex((m) => Object.entries(match).every(([k, v]) => m[k] === v));
        return index >= 0 ? index : undefined;
      }),
    waitReceived: (topic, count) =>
      until(`${count} events on ${topic}`, () =>
        (received[topic]?.length ?? 0) >= count ? true : undefined,
      ).then(() => undefined),
  };
}

const PAGE_HTML =
  '<!doctype html>\n<html><head><meta charset="utf-8"><title>pgrt WAMP</title></head><body>\n' +
  '<script src="/autobahn.min.js"></script>\n' +
  // tsx compiles this file with esbuild's keepNames, which wraps named functions in `__name(fn, "name")`.
  `<script>const __name = (fn) => fn;\n(${pageHarness.toString()})(${DEADLINE_MS});</script>\n` +
  '</body></html>\n';

/** What the test adds to the server's HTTP routes, by path. */
const STATIC_FILES: Readonly<Record<string, { readonly type: string; readonly body: string | Buffer }>> = {
  '/wamp-test.html': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
  '/autobahn.min.js': { type: 'text/javascript; charset=utf-8', body: AUTOBAHN_JS },
};

describe('WAMP in Chromium with Autobahn|JS (realm1, private topic, methods, SQL writes, pub/sub)', function () {
  this.timeout(15_000);
  let server: PgrtServer;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    this.timeout(60_000);
    server = await createServer({
      app: presentationsApp(),
      protocols: [ddp(), wamp()],
      migrate: migratePresentations,
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    server.host.addRequestHandler((_request, response, pathname) => {
      const file = STATIC_FILES[pathname];
      if (!file) return false;
      response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
      response.end(file.body);
      return true;
    });
    await server.db.query('DELETE FROM presentations WHERE id LIKE $1', [`${TAG}-%`]);
    await server.db.query('INSERT INTO presentations (id, title, subtitle) VALUES ($1, $2, $3)', [
      `${TAG}-before`,
      `Before the page ${TAG}`,
      'in the snapshot',
    ]);
    browser = await launchChromium();
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close();
    await server?.db
      .query('DELETE FROM presentations WHERE id LIKE $1 OR title LIKE $2', [`${TAG}-%`, `%${TAG}%`])
      .catch(() => undefined);
    await server?.close();
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    assert.deepEqual(pageErrors.splice(0), [], 'no uncaught errors in the pages');
  });

  /** A fresh page on the server's origin with Autobahn loaded and a WAMP session open. */
  async function open(): Promise<{ page: Page; sessionId: number }> {
    if (!browser) throw new Error('no browser');
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(DEADLINE_MS + 2000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/wamp-test.html`);
    const sessionId = await page.evaluate(() => window.wampPage.open());
    return { page, sessionId };
  }

  /** Opens the data channel and subscribes to `presentations`; resolves with the sub id once `ready` arrived. */
  async function subscribePresentations(page: Page): Promise<string> {
    await page.evaluate(() => window.wampPage.openDataChannel());
    const subId = await page.evaluate(() => window.wampPage.call('pgrt.subscribe', ['presentations']));
    assert.equal(typeof subId, 'string', 'pgrt.subscribe returns the sub id');
    const readyAt = await page.evaluate(() => window.wampPage.waitData({ msg: 'ready' }));
    const ready = await page.evaluate((i) => window.wampPage.data[i], readyAt);
    assert.deepEqual(ready, { msg: 'ready', subs: [subId] });
    return subId as string;
  }

  it('loads Autobahn|JS 22.11.1 from a script tag and joins realm1', async () => {
    const { page, sessionId } = await open();
    assert.equal(await page.evaluate(() => window.autobahn.version), '22.11.1');
    assert.ok(Number.isSafeInteger(sessionId) && sessionId > 0, `session id ${sessionId}`);
  });

  it('subscribes through pgrt.session.<id> and pgrt.subscribe: the snapshot, then ready', async () => {
    const { page } = await open();
    await subscribePresentations(page);
    const data = await page.evaluate(() => window.wampPage.data);
    const readyAt = data.findIndex((m) => m.msg === 'ready');
    const before = data.findIndex((m) => m.msg === 'added' && m.id === `${TAG}-before`);
    assert.ok(before >= 0 && before < readyAt, 'the existing row is added before ready');
    assert.equal(data[before]?.collection, 'presentations');
    const fields = fieldsOf(data[before]);
    assert.deepEqual(Object.keys(fields).sort(), ['created_at', 'subtitle', 'title']);
    assert.equal(fields.title, `Before the page ${TAG}`);
    assert.equal(fields.subtitle, 'in the snapshot');
    const createdAt = fields.created_at as { $date?: unknown };
    assert.equal(typeof createdAt.$date, 'number', 'timestamps arrive EJSON-encoded ({$date})');
    assert.ok(
      data.slice(0, readyAt).every((m) => m.msg === 'added' && m.collection === 'presentations'),
      'only added before ready',
    );
  });

  it('calls presentations.add: its added arrives before its RESULT; a bad title is pgrt.error.validation_error', async () => {
    const { page } = await open();
    await subscribePresentations(page);
    const title = `Added over WAMP ${TAG}`;
    const { id, seen } = await page.evaluate(async (t) => {
      const added = await window.wampPage.call('presentations.add', [
        { title: t, subtitle: 'from Chromium' },
      ]);
      // RESULT follows the method's write fence: the row's added is already in.
      const seenAtResult = window.wampPage.data.some((m) => m.msg === 'added' && m.id === added);
      return { id: added, seen: seenAtResult };
    }, title);
    assert.equal(typeof id, 'string');
    assert.equal(seen, true, 'added before RESULT');
    const at = await page.evaluate((i) => window.wampPage.waitData({ msg: 'added', id: i }), id as string);
    const message = await page.evaluate((i) => window.wampPage.data[i], at);
    assert.equal(fieldsOf(message).title, title);

    const refused = await page.evaluate(() =>
      window.wampPage.call('presentations.add', [{ title: '' }]).then(
        () => 'accepted',
        (error: Error) => error.message,
      ),
    );
    assert.match(refused, /^pgrt\.error\.validation_error .*"error":"validation-error"/);
  });

  it('a row inserted with plain SQL arrives as added', async () => {
    const { page } = await open();
    await subscribePresentations(page);
    const id = `${TAG}-sql`;
    await server.db.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [id, `By SQL ${TAG}`]);
    const at = await page.evaluate((i) => window.wampPage.waitData({ msg: 'added', id: i }), id);
    const message = await page.evaluate((i) => window.wampPage.data[i], at);
    assert.equal(message?.collection, 'presentations');
    assert.equal(fieldsOf(message).title, `By SQL ${TAG}`);
  });

  it("a second page's publication reaches the first page", async () => {
    const first = await open();
    const second = await open();
    assert.notEqual(first.sessionId, second.sessionId);
    const topic = 'com.example.chat';
    await first.page.evaluate((t) => window.wampPage.listen(t), topic);
    await second.page.evaluate((t) => window.wampPage.listen(t), topic);
    const payload = { text: `hello ${TAG}`, n: 1 };
    await second.page.evaluate(([t, p]) => window.wampPage.publish(t, [p]), [topic, payload] as const);
    await first.page.evaluate((t) => window.wampPage.waitReceived(t, 1), topic);
    assert.deepEqual(await first.page.evaluate((t) => window.wampPage.received[t], topic), [[payload]]);
    // Publisher exclusion is on by default: the publisher's own subscription got nothing.
    assert.deepEqual(await second.page.evaluate((t) => window.wampPage.received[t], topic), []);
  });
});
