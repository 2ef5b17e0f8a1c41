/**
 * The side-by-side page (examples/presentations/web/side-by-side.html) in real Chromium: one page, three clients of
 * three protocols on one pgrt server — DDP (simpleddp on SockJS), WAMP (Autobahn|JS) and Supabase Realtime
 * (supabase-js `postgres_changes`). A row added in each pane, a row inserted with plain SQL, and an edit made in
 * each pane show in all three panes; no page errors. Leaves a screenshot at /tmp/pgrt-side-by-side.png.
 *
 * Needs /usr/bin/chromium (or PGRT_CHROMIUM); without it the suite is skipped, or fails under
 * PGRT_REQUIRE_BROWSER=1 (as in CI).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { buildWebClient } from '../../examples/presentations/web-client.js';
import { createServer, ddp, type PgrtServer, supabase, wamp } from '../../index.js';
import { testDatabaseUrl } from '../support/database.js';
import { launchChromium, requireChromium } from './support.js';

const SCREENSHOT = '/tmp/pgrt-side-by-side.png';
const TAG = `side-by-side-${process.pid}`;
const PANES = ['ddp', 'wamp', 'supabase'] as const;
type PaneId = (typeof PANES)[number];

describe('side-by-side page in Chromium (DDP, WAMP and supabase-js on the same presentations)', function () {
  this.timeout(20_000);
  let dir: string;
  let server: PgrtServer;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];

  before(async function () {
    requireChromium(this);
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'pgrt-side-by-side-'));
    await buildWebClient(dir);
    server = await createServer({
      app: presentationsApp(),
      protocols: [
        ddp({ meteorClient: { staticDir: dir, watch: false } }),
        wamp(),
        supabase({ access: { tables: { presentations: true } } }),
      ],
      migrate: migratePresentations,
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
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
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(): Promise<Page> {
    if (!browser) throw new Error('no browser');
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(8000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/side-by-side.html`);
    await page.evaluate(() => window.pgrtSideBySide.ready);
    return page;
  }

  const row = (page: Page, pane: PaneId, title: string) =>
    page.locator(`#${pane} ul.list li`, { hasText: title });

  /** Waits until a row with `title` is listed in every pane. */
  async function inEveryPane(page: Page, title: string): Promise<void> {
    for (const pane of PANES) await row(page, pane, title).waitFor();
  }

  async function add(page: Page, pane: PaneId, title: string): Promise<void> {
    await page.fill(`#${pane} form.add input[name=title]`, title);
    await page.fill(`#${pane} form.add input[name=subtitle]`, `added in the ${pane} pane`);
    await page.click(`#${pane} form.add button[type=submit]`);
  }

  async function edit(page: Page, pane: PaneId, from: string, to: string): Promise<void> {
    await row(page, pane, from).getByRole('button', { name: 'Edit' }).click();
    const form = page.locator(`#${pane} ul.list li form`);
    await form.locator('input[name=title]').fill(to);
    await form.locator('button[type=submit]').click();
  }

  it('an add and an edit in each pane, and a plain SQL insert, show in all three panes', async () => {
    const page = await open();
    for (const pane of PANES)
      assert.equal(await page.locator(`#${pane} .status`).getAttribute('data-state'), 'connected', pane);

    const added = (pane: PaneId) => `Added in ${pane} ${TAG}`;
    for (const pane of PANES) {
      await add(page, pane, added(pane));
      await inEveryPane(page, added(pane));
    }

    const bySql = `Inserted by SQL ${TAG}`;
    await server.db.query('INSERT INTO presentations (id, title, subtitle) VALUES ($1, $2, $3)', [
      `${TAG}-sql`,
      bySql,
      'no method, no server code',
    ]);
    await inEveryPane(page, bySql);

    // Each pane edits a row another pane added; the new title replaces the old one everywhere.
    for (const [index, pane] of PANES.entries()) {
      const from = added(PANES[(index + 1) % PANES.length] ?? pane);
      const to = `Edited in ${pane} ${TAG}`;
      await edit(page, pane, from, to);
      await inEveryPane(page, to);
      for (const other of PANES) await row(page, other, from).waitFor({ state: 'detached' });
    }
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(
      await page.locator('.pane .error:not([hidden])').allTextContents(),
      [],
      'no error shown in any pane',
    );
    assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  });
});
