/**
 * The presentations demo page in real Chromium (Debian's, driven by playwright-core; never downloaded): pages see
 * each other's edits, a row written with plain SQL appears, a page whose WebSocket upgrades are refused works over
 * xhr-polling, and a changed bundle reloads open pages (hot code push). Leaves a screenshot at /tmp/pgrt-demo.png.
 *
 * Needs /usr/bin/chromium (`.ci/run` installs it; elsewhere `apt-get install chromium`, or set PGRT_CHROMIUM);
 * without it the suite is skipped, or fails under PGRT_REQUIRE_BROWSER=1 (as in CI).
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { buildWebClient } from '../../examples/presentations/web-client.js';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { testDatabaseUrl } from '../support/database.js';
import { launchChromium, requireChromium } from './support.js';

const SCREENSHOT = '/tmp/pgrt-demo.png';
const TAG = `browser-${process.pid}`;

describe('demo page in Chromium (SockJS, live edits, xhr-polling fallback, hot code push)', function () {
  this.timeout(20_000);
  let dir: string;
  let server: PgrtServer;
  /** The same app with SockJS's websocket transport refused (Meteor's DISABLE_WEBSOCKETS). */
  let noWebSocket: PgrtServer;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'pgrt-demo-web-'));
    await buildWebClient(dir);
    const common = {
      app: presentationsApp(),
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      migrate: migratePresentations,
    } as const;
    server = await createServer({
      ...common,
      protocols: [ddp({ meteorClient: { staticDir: dir, watchDebounceMs: 50 } })],
    });
    noWebSocket = await createServer({
      ...common,
      app: presentationsApp(),
      protocols: [ddp({ sockjs: { websocket: false }, meteorClient: { staticDir: dir, watch: false } })],
    });
    browser = await launchChromium();
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close();
    await server?.db
      .query('DELETE FROM presentations WHERE title LIKE $1', [`%${TAG}%`])
      .catch(() => undefined);
    await server?.close();
    await noWebSocket?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    assert.deepEqual(pageErrors.splice(0), [], 'no uncaught errors in the pages');
  });

  async function open(target: PgrtServer): Promise<Page> {
    if (!browser) throw new Error('no browser');
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(8000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${target.port}/`);
    await page.evaluate(() => window.pgrtDemo.ready);
    return page;
  }

  async function add(page: Page, title: string, subtitle = ''): Promise<void> {
    await page.fill('#add input[name=title]', title);
    await page.fill('#add input[name=subtitle]', subtitle);
    await page.click('#add button[type=submit]');
  }

  const row = (page: Page, title: string) => page.locator('#list li', { hasText: title });

  it('two pages see each other’s adds, edits and deletes', async () => {
    const [first, second] = [await open(server), await open(server)];
    assert.equal(await first.evaluate(() => window.pgrtDemo.transport()), 'websocket');
    const title = `Realtime with PostgreSQL ${TAG}`;
    await add(first, title, 'LISTEN/NOTIFY all the way down');
    await row(second, title).waitFor();
    assert.match((await row(second, title).textContent()) ?? '', /LISTEN\/NOTIFY/);

    await row(second, title).getByRole('button', { name: 'Edit' }).click();
    await row(second, '').locator('input[name=title]').first().waitFor();
    const edited = `DDP in the browser ${TAG}`;
    await second.locator('#list li form input[name=title]').fill(edited);
    await second.locator('#list li form button[type=submit]').click();
    await row(first, edited).waitFor();
    assert.equal(await row(first, title).count(), 0, 'the old title is gone');

    await add(first, `Meteor clients, no Meteor server ${TAG}`, 'SockJS, autoupdate, hot code push');
    await row(second, 'Meteor clients, no Meteor server').waitFor();
    await first.screenshot({ path: SCREENSHOT });

    await row(first, edited)
      .getByRole('button', { name: /^Delete/ })
      .click();
    await row(second, edited).waitFor({ state: 'detached' });
  });

  it('a row inserted with plain SQL appears on the page', async () => {
    const page = await open(server);
    const title = `Inserted by SQL ${TAG}`;
    await server.db.query('INSERT INTO presentations (id, title, subtitle) VALUES ($1, $2, $3)', [
      `sql-${TAG}`,
      title,
      'no method, no server code',
    ]);
    await row(page, title).waitFor();
  });

  it('a page whose WebSocket upgrade is refused works over xhr-polling', async () => {
    const info = (await (await fetch(`http://127.0.0.1:${noWebSocket.port}/sockjs/info`)).json()) as {
      websocket: boolean;
    };
    assert.equal(info.websocket, false);
    const polling = await open(noWebSocket);
    assert.equal(await polling.evaluate(() => window.pgrtDemo.transport()), 'xhr-polling');
    await polling.locator('#status', { hasText: 'xhr-polling' }).waitFor();
    const live = await open(server);

    const fromPolling = `Sent over xhr-polling ${TAG}`;
    await add(polling, fromPolling);
    await row(live, fromPolling).waitFor();
    const fromWebSocket = `Received over xhr-polling ${TAG}`;
    await add(live, fromWebSocket);
    await row(polling, fromWebSocket).waitFor();
  });

  it('hot code push: a changed bundle reloads the open page', async () => {
    const page = await open(server);
    await page.evaluate(() => Object.assign(window, { beforePush: true }));
    const reloaded = page.waitForEvent('load');
    appendFileSync(join(dir, 'client.js'), `\n/* ${Date.now()} */\n`);
    await reloaded;
    await page.evaluate(() => window.pgrtDemo.ready);
    assert.equal(await page.evaluate(() => 'beforePush' in window), false, 'a fresh page');
  });
});
