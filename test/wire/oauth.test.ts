/**
 * OAuth login (core/accounts/oauth) against a real OpenID Connect provider (npm oidc-provider, started here),
 * over plain HTTP as a browser would walk it (test/fixtures/oidc-provider.ts `signInOverHttp`): the server-started
 * login (PKCE, nonce, state stored), the provider's redirect turned into a pending credential, the credential
 * taken once with its secret; and everything an attacker or a broken client would try — a tampered, unknown,
 * replayed or expired state, a wrong or replayed secret, an expired credential, a foreign redirect URL, a declined
 * consent. The service configuration publication is checked live over DDP, without secrets.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import simpleDDP from 'simpleddp';
import WebSocket from 'ws';
import { accountsAuthenticators } from '../../adapters/wamp/accounts-authentication.js';
import { openAutobahn } from '../../adapters/wamp/fixtures/router.js';
import { type Accounts, accounts } from '../../core/accounts/accounts.js';
import { LOGIN_CANCELLED_CODE } from '../../core/accounts/oauth/errors.js';
import { type OAuth, oauth } from '../../core/accounts/oauth/oauth.js';
import { openIdConnect } from '../../core/accounts/oauth/openid-connect.js';
import { encodeState } from '../../core/accounts/oauth/state.js';
import { App } from '../../core/app.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import { createServer, ddp, type PgrtServer, wamp } from '../../server.js';
import { startChildServer } from '../fixtures/child-server.js';
import { signInOverHttp, startOidcProvider, type TestProvider } from '../fixtures/oidc-provider.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

/** The end-of-login page's data (`<script type="application/json" id="config">`). */
interface PageConfig {
  readonly setCredentialToken: boolean;
  readonly credentialToken?: string;
  readonly credentialSecret?: string;
  readonly redirectUrl?: string;
  readonly storagePrefix: string;
}

function pageConfig(html: string): PageConfig {
  const json = /<script type="application\/json" id="config">([^<]*)<\/script>/.exec(html)?.[1];
  if (json === undefined) throw new Error(`no end-of-login config in: ${html.slice(0, 200)}`);
  return JSON.parse(json) as PageConfig;
}

describe('OAuth login with a real OpenID Connect provider (HTTP)', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let plugin: OAuth;
  let users: Accounts;
  let provider: TestProvider;
  let base: string;

  before(async () => {
    users = accounts({ bcryptRounds: 4 });
    plugin = oauth({
      accounts: users,
      services: [openIdConnect({ name: 'corp', allowInsecureRequests: true })],
      sweepIntervalMs: 0,
    });
    server = await createServer({
      app: new App()
        .use(users)
        .use(plugin)
        .method('whoami', (ctx) => ctx.userId),
      protocols: [
        ddp(),
        wamp({ realms: [{ name: 'realm1', authenticators: accountsAuthenticators(users) }] }),
      ],
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
      loginStyle: 'popup',
    });
  });
  after(async () => {
    await server?.close();
    await provider?.close();
  });

  const newToken = () => cryptoRandom.secret();
  const authorizeUrl = (state: string) => `${base}/_oauth/corp/authorize?state=${encodeURIComponent(state)}`;

  /** Signs `login` in through the server-started flow; resolves with the provider's redirect back to pgrt. */
  async function signIn(login: string, token = newToken(), style: 'popup' | 'redirect' = 'popup') {
    const state = encodeState({
      loginStyle: style,
      credentialToken: token,
      ...(style === 'redirect' ? { redirectUrl: `${base}/app?x=1` } : {}),
    });
    const back = await signInOverHttp(authorizeUrl(state), provider.issuer, login);
    assert.equal(back.origin, base, `the provider sent the browser to ${back.href}`);
    return { token, state, back };
  }

  it('a server-started login stores a pending credential; its secret takes it exactly once', async () => {
    const login = `ann_${randomUUID().slice(0, 6)}`;
    const { token, back } = await signIn(login);
    assert.ok(back.searchParams.get('code'), 'the provider redirect carries a code');
    const response = await fetch(back);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const config = pageConfig(await response.text());
    assert.equal(config.setCredentialToken, true);
    assert.equal(config.credentialToken, token);
    assert.match(config.credentialSecret ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(config.storagePrefix, 'Meteor.oauth.credentialSecret-');
    const stored = await server.db.query<{ hashed_secret: string }>(
      'SELECT hashed_secret FROM pgrt.oauth_pending_credentials WHERE credential_token = $1',
      [token],
    );
    assert.notEqual(
      stored.rows[0]?.hashed_secret,
      config.credentialSecret,
      'only a hash of the secret is kept',
    );

    assert.equal(await plugin.retrieveCredential(token, 'not-the-secret'), undefined);
    const credential = await plugin.retrieveCredential(token, config.credentialSecret ?? '');
    assert.equal(credential?.serviceName, 'corp');
    assert.equal(credential?.serviceData.id, login);
    assert.equal(credential?.serviceData.email, `${login}@example.com`);
    assert.equal(credential?.serviceData.email_verified, true);
    assert.equal(typeof credential?.serviceData.accessToken, 'string');
    assert.equal(typeof credential?.serviceData.idToken, 'string');
    assert.deepEqual(credential?.options, { profile: { name: `User ${login}` } });
    assert.equal(
      await plugin.retrieveCredential(token, config.credentialSecret ?? ''),
      undefined,
      'replayed',
    );
  });

  it('login({oauth}) over DDP creates the user (services.corp, type corp); the token works over WAMP and simpleddp', async () => {
    const login = `ida_${randomUUID().slice(0, 6)}`;
    const { token, back } = await signIn(login);
    const { credentialSecret } = pageConfig(await (await fetch(back)).text());
    const attempts: { type: string; allowed: boolean; userId: string | undefined }[] = [];
    const hook = users.onLogin((attempt) => {
      attempts.push({ type: attempt.type, allowed: attempt.allowed, userId: attempt.user?._id });
    });
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    const oauthLogin = { oauth: { credentialToken: token, credentialSecret } };
    const result = (await client.apply('login', oauthLogin)) as { id: string; token: string; type: string };
    assert.equal(result.type, 'corp');
    await waitUntil(() => attempts.length > 0, { what: () => 'the onLogin hook' });
    hook.stop();
    // onLogin sees the user the login just created (read in the login's own transaction, as Meteor passes it).
    assert.deepEqual(
      attempts,
      [{ type: 'corp', allowed: true, userId: result.id }],
      'the login pipeline ran (onLogin) with the new user',
    );
    assert.match(result.token, /^[A-Za-z0-9_-]{43}$/);
    const user = await users.findUserById(result.id);
    const services = user?.services as Record<string, Record<string, unknown>> | undefined;
    assert.equal(services?.corp?.id, login);
    assert.equal(services?.corp?.email, `${login}@example.com`);
    assert.deepEqual(user?.profile, { name: `User ${login}` });
    // The user's own publication never carries services (tokens from the provider stay on the server).
    await waitUntil(() => client.view('users').has(result.id));
    assert.equal(client.view('users').get(result.id)?.services, undefined);
    // Replayed: the credential is gone.
    const replay = await client.call('login', oauthLogin);
    assert.equal(replay.error?.error, LOGIN_CANCELLED_CODE);
    assert.equal(replay.error?.reason, 'No matching login attempt found');
    await client.close();

    // The same provider account again: the same user, its serviceData updated.
    const again = await signIn(login);
    const secondSecret = pageConfig(await (await fetch(again.back)).text()).credentialSecret;
    const other = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    const second = (await other.apply('login', {
      oauth: { credentialToken: again.token, credentialSecret: secondSecret },
    })) as { id: string };
    assert.equal(second.id, result.id);
    await other.close();

    // WAMP: the DDP login's resume token as ticket.
    const session = await openAutobahn(`ws://127.0.0.1:${server.port}/ws`, {
      authmethods: ['ticket'],
      authid: result.id,
      onchallenge: () => result.token,
    });
    assert.equal(await session.session.call('whoami'), result.id);
    await session.close();

    // A real third-party client resumes with the token.
    const ddpClient = new simpleDDP({
      endpoint: `ws://127.0.0.1:${server.port}/websocket`,
      SocketConstructor: WebSocket,
      autoReconnect: false,
    });
    await ddpClient.connect();
    const resumed = (await ddpClient.call('login', { resume: result.token })) as { id: string; type: string };
    assert.equal(resumed.id, result.id);
    assert.equal(resumed.type, 'resume');
    await ddpClient.disconnect();
  });

  it('a replayed provider redirect is refused and leaves the first outcome in place', async () => {
    const { token, back } = await signIn('bob');
    const first = pageConfig(await (await fetch(back)).text());
    const replay = await fetch(back);
    assert.equal(replay.status, 400);
    assert.equal(pageConfig(await replay.text()).setCredentialToken, false);
    const credential = await plugin.retrieveCredential(token, first.credentialSecret ?? '');
    assert.equal(credential?.serviceData.id, 'bob');
  });

  it('a state that differs from the one sent, or that no login started, is refused before any code exchange', async () => {
    const { token, back } = await signIn('carol');
    // Same credential token, other contents (a redirect to elsewhere smuggled in).
    const tampered = new URL(back);
    tampered.searchParams.set(
      'state',
      encodeState({ loginStyle: 'popup', credentialToken: token, redirectUrl: 'https://evil.example/' }),
    );
    const refused = await fetch(tampered);
    assert.equal(refused.status, 400);
    assert.equal(pageConfig(await refused.text()).setCredentialToken, false);
    // The genuine redirect now finds its start record taken: a state is good for one redirect.
    assert.equal((await fetch(back)).status, 400);

    const unknown = new URL(back);
    unknown.searchParams.set('state', encodeState({ loginStyle: 'popup', credentialToken: newToken() }));
    assert.equal((await fetch(unknown)).status, 400);

    for (const bad of ['not base64!', Buffer.from('{"loginStyle":"popup"}').toString('base64'), '']) {
      const url = new URL(back);
      url.searchParams.set('state', bad);
      const answer = await fetch(url);
      assert.equal(answer.status, 400, `state ${JSON.stringify(bad)}`);
      assert.equal(pageConfig(await answer.text()).setCredentialToken, false);
    }
  });

  it('an expired start record or pending credential is refused', async () => {
    const late = await signIn('dave');
    await server.db.query(
      "UPDATE pgrt.oauth_requests SET created_at = now() - interval '11 minutes' WHERE credential_token = $1",
      [late.token],
    );
    assert.equal((await fetch(late.back)).status, 400);

    const { token, back } = await signIn('erin');
    const config = pageConfig(await (await fetch(back)).text());
    await server.db.query(
      "UPDATE pgrt.oauth_pending_credentials SET created_at = now() - interval '61 seconds' WHERE credential_token = $1",
      [token],
    );
    assert.equal(await plugin.retrieveCredential(token, config.credentialSecret ?? ''), undefined);
  });

  it('a failed step is stored for the token: login with a null secret gets it, a declined consent cancels', async () => {
    const token = newToken();
    const state = encodeState({ loginStyle: 'popup', credentialToken: token });
    const declined = await fetch(
      `${base}/_oauth/corp?error=access_denied&state=${encodeURIComponent(state)}`,
    );
    assert.equal(declined.status, 200);
    assert.equal(pageConfig(await declined.text()).setCredentialToken, false);
    const stored = await server.db.query(
      'SELECT 1 FROM pgrt.oauth_pending_credentials WHERE credential_token = $1',
      [token],
    );
    assert.equal(stored.rowCount, 0, 'a declined login stores nothing (the app sees it cancelled)');

    // A provider redirect whose code the provider does not know: the exchange fails.
    const { token: token2, back } = await signIn('frank');
    const forged = new URL(back);
    forged.searchParams.set('code', 'forged-code');
    const failed = await fetch(forged);
    assert.equal(failed.status, 502);
    const failure = await server.db.query<{ hashed_secret: string | null }>(
      'SELECT hashed_secret FROM pgrt.oauth_pending_credentials WHERE credential_token = $1',
      [token2],
    );
    assert.equal(failure.rows[0]?.hashed_secret, null, 'the failure is stored without a secret');

    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    const cancelled = await client.call('login', {
      oauth: { credentialToken: token, credentialSecret: null },
    });
    assert.equal(cancelled.error?.error, LOGIN_CANCELLED_CODE);
    const failed2 = await client.call('login', {
      oauth: { credentialToken: token2, credentialSecret: null },
    });
    assert.deepEqual(
      { error: failed2.error?.error, reason: failed2.error?.reason },
      { error: 500, reason: 'Internal server error' },
      'a provider failure reaches the app as Meteor sends a non-Meteor error',
    );
    await client.close();
  });

  it('a redirect-style login returns only under the app URL', async () => {
    const { token, back } = await signIn('gina', newToken(), 'redirect');
    const page = pageConfig(await (await fetch(back)).text());
    assert.equal(page.credentialToken, token);
    assert.equal(page.redirectUrl, `${base}/app?x=1`);

    const foreign = encodeState({
      loginStyle: 'redirect',
      credentialToken: newToken(),
      redirectUrl: 'https://evil.example/steal',
    });
    const refused = await fetch(authorizeUrl(foreign), { redirect: 'manual' });
    assert.equal(refused.status, 400);
    const config = pageConfig(await refused.text());
    assert.equal(config.setCredentialToken, false);
    assert.equal(config.redirectUrl, `${base}/`);
  });

  it('serves the page scripts and refuses other paths and methods under /_oauth', async () => {
    const popup = await fetch(`${base}/_oauth/end_of_popup_response.js`);
    assert.equal(popup.status, 200);
    assert.match(popup.headers.get('content-type') ?? '', /javascript/);
    assert.match(await popup.text(), /_handleCredentialSecret/);
    assert.equal((await fetch(`${base}/_oauth/corp/other`)).status, 404);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    assert.equal(
      (await fetch(`${base}/_oauth/corp/authorize`, { method: 'POST', headers: form })).status,
      405,
    );
    assert.equal((await fetch(`${base}/_oauth/corp`, { method: 'POST', body: '{}' })).status, 415);
    const unknown = await fetch(
      `${base}/_oauth/nosuch?state=${encodeURIComponent(encodeState({ loginStyle: 'popup', credentialToken: newToken() }))}`,
    );
    assert.equal(unknown.status, 404);
    const big = await fetch(`${base}/_oauth/corp`, {
      method: 'POST',
      headers: form,
      body: `state=${'a'.repeat(20_000)}`,
    });
    assert.equal(big.status, 413);
  });

  it('a second process finishes a login begun on the first; the first takes the credential', async () => {
    const second = await startChildServer(
      fileURLToPath(new URL('../fixtures/oauth-server.ts', import.meta.url)),
      {},
      'oauth-server',
      20_000,
    );
    try {
      // Started here (PKCE verifier and nonce stored); the balancer sends the provider's redirect to the other.
      const { token, back } = await signIn('hana');
      const elsewhere = new URL(`${back.pathname}${back.search}`, `http://127.0.0.1:${second.port}`);
      const answer = await fetch(elsewhere);
      assert.equal(answer.status, 200, second.stderr());
      const config = pageConfig(await answer.text());
      const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
      const result = (await client.apply('login', {
        oauth: { credentialToken: token, credentialSecret: config.credentialSecret },
      })) as { id: string; type: string };
      assert.equal(result.type, 'corp');
      const user = await users.findUserById(result.id);
      assert.equal((user?.services as Record<string, { id?: string }> | undefined)?.corp?.id, 'hana');
      await client.close();
    } finally {
      await second.signal('SIGTERM');
    }
  });

  it('publishes each configured service without its secret, live', async () => {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    await client.subscribe('meteor.loginServiceConfiguration');
    const view = client.view('meteor_accounts_loginServiceConfiguration');
    assert.deepEqual(view.get('corp'), {
      service: 'corp',
      issuer: provider.issuer,
      clientId: provider.clientId,
      loginStyle: 'popup',
    });
    await plugin.configure('corp', { loginStyle: 'redirect', secret: 'rotated-secret' });
    await waitUntil(() => view.get('corp')?.loginStyle === 'redirect', {
      what: () => `loginStyle redirect, have ${JSON.stringify(view.get('corp'))}`,
    });
    assert.equal(view.get('corp')?.secret, undefined);
    await plugin.configure('corp', { loginStyle: 'popup', secret: provider.clientSecret });
    await waitUntil(() => view.get('corp')?.loginStyle === 'popup');
    await client.close();
  });

  it("login({oauth}) with an unknown token or secret is cancelled with Meteor's code; other shapes are 400", async () => {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    const unknown = await client.call('login', {
      oauth: { credentialToken: newToken(), credentialSecret: 'x' },
    });
    assert.deepEqual(
      { error: unknown.error?.error, reason: unknown.error?.reason },
      { error: LOGIN_CANCELLED_CODE, reason: 'No matching login attempt found' },
    );
    for (const oauthArg of [
      { credentialToken: 'a', credentialSecret: 'b', extra: 1 },
      { credentialToken: 'a' },
      { credentialToken: 1, credentialSecret: 'b' },
      { credentialToken: 'a', credentialSecret: 2 },
      'a',
      null,
    ]) {
      const bad = await client.call('login', { oauth: oauthArg });
      assert.equal(bad.error?.error, 400, JSON.stringify(oauthArg));
    }
    await client.close();
  });
});
