/// <reference lib="dom" />
/**
 * OAuth login in real Chromium, as a Meteor web app does it (fixtures/meteor-oauth-client.js implements the client
 * side of Meteor's oauth and accounts-oauth packages): the app page, served by pgrt, starts a login with the `corp`
 * OpenID Connect service of a real provider (npm oidc-provider, test/fixtures/oidc-provider.ts), the user signs in
 * on the provider's page, and the end-of-login page hands the credential secret back — to the opener's
 * `Package.oauth.OAuth._handleCredentialSecret` in the popup style, through sessionStorage in the redirect style —
 * after which the app calls `login({oauth: {credentialToken, credentialSecret}})` over DDP.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { type Accounts, accounts } from '../../core/accounts/accounts.js';
import { type OAuth, oauth } from '../../core/accounts/oauth/oauth.js';
import { openIdConnect } from '../../core/accounts/oauth/openid-connect.js';
import { App } from '../../core/app.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { startOidcProvider, type TestProvider } from '../fixtures/oidc-provider.js';
import { testDatabaseUrl } from '../support/database.js';
import { launchChromium, requireChromium } from './support.js';

/** `window.oauthTest` of the page (see the fixture). */
interface PageState {
  readonly ready: boolean;
  readonly handed: string[];
  readonly logins: {
    readonly args: [{ oauth: { credentialToken: string; credentialSecret: string | null } }];
    readonly result?: unknown;
    readonly error?: { error: unknown; reason?: string };
    readonly gaveUp?: boolean;
  }[];
  readonly configurations: Record<string, Record<string, unknown>>;
  readonly errors: string[];
}

declare global {
  interface Window {
    oauthTest: PageState;
  }
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./fixtures/meteor-oauth-client.js', import.meta.url));
const DEADLINE_MS = 15_000;

describe('OAuth login in Chromium, popup and redirect styles (Meteor client protocol)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: PgrtServer;
  let plugin: OAuth;
  let users: Accounts;
  let provider: TestProvider;
  let browser: Browser;
  let base: string;

  before(async function () {
    requireChromium(this);
    dir = mkdtempSync(join(tmpdir(), 'pgrt-oauth-'));
    writeFileSync(
      join(dir, 'index.html'),
      `<!DOCTYPE html><html><head><title>app</title></head><body>
<button id="login-popup">Sign in (popup)</button> <button id="login-redirect">Sign in (redirect)</button>
<script src="/meteor-oauth-client.js"></script></body></html>`,
    );
    copyFileSync(CLIENT_SCRIPT, join(dir, 'meteor-oauth-client.js'));
    users = accounts({ bcryptRounds: 4 });
    plugin = oauth({
      accounts: users,
      services: [openIdConnect({ name: 'corp', allowInsecureRequests: true })],
      sweepIntervalMs: 0,
    });
    server = await createServer({
      app: new App().use(users).use(plugin),
      protocols: [ddp({ meteorClient: { staticDir: dir, watch: false } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: false,
    });
    base = `http://127.0.0.1:${server.port}`;
    provider = await startOidcProvider([`${base}/_oauth/corp`]);
    await plugin.configure('corp', {
      issuer: provider.issuer,
      clientId: provider.clientId,
      secret: provider.clientSecret,
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await provider?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openApp(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/`);
    await page.waitForFunction(() => window.oauthTest?.ready && window.oauthTest.configurations.corp, null, {
      timeout: DEADLINE_MS,
    });
    return page;
  }

  const state = (page: Page) => page.evaluate(() => window.oauthTest);

  /** The page's `login` call succeeded as Meteor's client sees it, for the user of provider account `login`. */
  async function assertLoggedInAs(
    call: PageState['logins'][number] | undefined,
    login: string,
  ): Promise<void> {
    assert.equal(call?.error, undefined, JSON.stringify(call?.error));
    const result = call?.result as { id: string; token: string; tokenExpires: unknown; type: string };
    assert.equal(result.type, 'corp');
    assert.match(result.token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(
      result.tokenExpires && typeof result.tokenExpires === 'object' && '$date' in result.tokenExpires,
    );
    const user = await users.findUserById(result.id);
    assert.equal((user?.services as Record<string, { id?: unknown }> | undefined)?.corp?.id, login);
  }

  it('popup: the secret reaches the opener through Package.oauth and the app logs in with it', async () => {
    const page = await openApp();
    assert.equal((await state(page)).configurations.corp?.secret, undefined, 'no secret is published');
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#login-popup')]);
    await popup.waitForSelector('#login', { timeout: DEADLINE_MS });
    assert.equal(new URL(popup.url()).origin, provider.issuer);
    await popup.fill('#login', 'pia');
    await Promise.all([popup.waitForEvent('close', { timeout: DEADLINE_MS }), popup.click('#signin')]);
    await page.waitForFunction(() => window.oauthTest.logins.length > 0, null, { timeout: DEADLINE_MS });
    const after = await state(page);
    const [call] = after.logins;
    assert.ok(call);
    const { credentialToken, credentialSecret } = call.args[0].oauth;
    assert.deepEqual(after.handed, [credentialToken], 'handed over by the popup page, not via localStorage');
    assert.match(credentialSecret ?? '', /^[A-Za-z0-9_-]{43}$/);
    await assertLoggedInAs(call, 'pia');
    await page.context().close();
  });

  it('popup without Package.oauth on the opener: the secret goes through localStorage', async () => {
    const page = await openApp();
    // A page that is not Meteor's (or an opener on another origin): the popup falls back to localStorage.
    await page.evaluate(() => {
      (window as unknown as { Package?: unknown }).Package = undefined;
    });
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#login-popup')]);
    await popup.waitForSelector('#login', { timeout: DEADLINE_MS });
    await popup.fill('#login', 'quinn');
    await Promise.all([popup.waitForEvent('close', { timeout: DEADLINE_MS }), popup.click('#signin')]);
    await page.waitForFunction(() => window.oauthTest.logins.length > 0, null, { timeout: DEADLINE_MS });
    const after = await state(page);
    assert.deepEqual(after.handed, []);
    const oauthArgs = after.logins[0]?.args[0].oauth;
    assert.ok(oauthArgs?.credentialSecret, 'read from localStorage');
    const left = await page.evaluate(() => Object.keys(localStorage));
    assert.deepEqual(left, [], 'Meteor removes the secret from localStorage when it reads it');
    await assertLoggedInAs(after.logins[0], 'quinn');
    await page.context().close();
  });

  it('redirect: the app window leaves, comes back to its redirectUrl and logs in from sessionStorage', async () => {
    const page = await openApp();
    await page.click('#login-redirect');
    await page.waitForSelector('#login', { timeout: DEADLINE_MS });
    await page.fill('#login', 'ravi');
    await page.click('#signin');
    await page.waitForURL(`${base}/?back=1`, { timeout: DEADLINE_MS });
    await page.waitForFunction(() => window.oauthTest?.logins.length > 0, null, { timeout: DEADLINE_MS });
    const after = await state(page);
    const oauthArgs = after.logins[0]?.args[0].oauth;
    assert.ok(oauthArgs?.credentialSecret, 'the secret came through sessionStorage');
    assert.deepEqual(await page.evaluate(() => Object.keys(sessionStorage)), []);
    await assertLoggedInAs(after.logins[0], 'ravi');
    await page.context().close();
  });
});
