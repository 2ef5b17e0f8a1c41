/**
 * The GitHub and Google login services give Meteor's `serviceData` and accept both ways a login starts: from the
 * server (`/_oauth/<service>/authorize`, with PKCE) and from Meteor's stock client packages, which build the
 * provider URL in the browser (github-oauth, google-oauth: no PKCE, no nonce). Google runs against a real OpenID
 * Connect provider (npm oidc-provider, PKCE optional as at Google) named as its issuer; GitHub against a stand-in for
 * github.com with GitHub's shapes and quirks (test/fixtures/github-like-provider.ts).
 */
import assert from 'node:assert/strict';
import { github } from '../../core/accounts/oauth/github.js';
import { google } from '../../core/accounts/oauth/google.js';
import { type OAuth, oauth } from '../../core/accounts/oauth/oauth.js';
import { encodeState } from '../../core/accounts/oauth/state.js';
import { App } from '../../core/app.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { type GitHubLike, startGitHubLike } from '../fixtures/github-like-provider.js';
import { signInOverHttp, startOidcProvider, type TestProvider } from '../fixtures/oidc-provider.js';
import { testDatabaseUrl } from '../support/database.js';

/** The credential token and secret of an end-of-login page. */
async function pageCredentials(response: Response): Promise<{ token?: string; secret?: string }> {
  const html = await response.text();
  const json = /<script type="application\/json" id="config">([^<]*)<\/script>/.exec(html)?.[1] ?? '{}';
  const config = JSON.parse(json) as { credentialToken?: string; credentialSecret?: string };
  return {
    ...(config.credentialToken ? { token: config.credentialToken } : {}),
    ...(config.credentialSecret ? { secret: config.credentialSecret } : {}),
  };
}

describe('OAuth GitHub and Google services (Meteor serviceData, server- and client-started logins)', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let plugin: OAuth;
  let gh: GitHubLike;
  let provider: TestProvider;
  let base: string;

  before(async () => {
    gh = await startGitHubLike();
    plugin = oauth({
      services: [
        github({
          url: gh.url,
          apiUrl: gh.url,
          allowInsecureRequests: true,
          configuration: { clientId: gh.clientId, secret: gh.clientSecret },
        }),
        google({ allowInsecureRequests: true }),
      ],
      sweepIntervalMs: 0,
    });
    server = await createServer({
      app: new App().use(plugin),
      protocols: [ddp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      rateLimits: false,
    });
    base = `http://127.0.0.1:${server.port}`;
    provider = await startOidcProvider([`${base}/_oauth/google`], { pkceRequired: false });
    await plugin.configure('google', {
      issuer: provider.issuer,
      clientId: provider.clientId,
      secret: provider.clientSecret,
    });
  });
  after(async () => {
    await server?.close();
    await provider?.close();
    await gh?.close();
  });

  const newState = () => {
    const credentialToken = cryptoRandom.secret();
    return { credentialToken, state: encodeState({ loginStyle: 'popup', credentialToken }) };
  };

  /** Follows redirects by hand until one comes back to pgrt; returns that URL. */
  async function followToPgrt(start: string): Promise<URL> {
    let next = new URL(start);
    for (let hop = 0; hop < 5; hop++) {
      const response = await fetch(next, { redirect: 'manual' });
      const location = response.headers.get('location');
      await response.arrayBuffer();
      if (!location) throw new Error(`no redirect from ${next.href} (${response.status})`);
      next = new URL(location, next);
      if (next.origin === base) return next;
    }
    throw new Error('did not come back');
  }

  it('GitHub, server-started (PKCE): Meteor github-oauth serviceData and profile', async () => {
    const { credentialToken, state } = newState();
    const back = await followToPgrt(`${base}/_oauth/github/authorize?state=${encodeURIComponent(state)}`);
    const page = await fetch(back);
    assert.equal(page.status, 200);
    const { token, secret } = await pageCredentials(page);
    assert.equal(token, credentialToken);
    assert.equal(gh.exchanges.at(-1)?.verifier, true, 'the code exchange carried the PKCE verifier');
    const credential = await plugin.retrieveCredential(credentialToken, secret ?? '');
    assert.equal(credential?.serviceName, 'github');
    const data = credential?.serviceData ?? {};
    assert.match(String(data.accessToken), /^gho_/);
    assert.deepEqual(
      { ...data, accessToken: 'x' },
      {
        id: 583231,
        accessToken: 'x',
        email: 'octocat@example.com',
        username: 'octo',
        name: 'The Octocat',
        avatar: 'https://avatars.example/u/583231',
        company: '@github',
        blog: 'https://github.blog',
        location: 'San Francisco',
        bio: null,
        emails: [
          { email: 'octo@users.example', primary: false, verified: true, visibility: null },
          { email: 'octocat@example.com', primary: true, verified: true, visibility: 'public' },
        ],
      },
    );
    assert.deepEqual(credential?.options, { profile: { name: 'The Octocat' } });
  });

  it("GitHub, started by Meteor's github-oauth client (no PKCE); a bad code fails at the exchange", async () => {
    const { credentialToken, state } = newState();
    // What github_client.js builds.
    const loginUrl =
      `${gh.url}/login/oauth/authorize?client_id=${gh.clientId}&scope=user%3Aemail` +
      `&redirect_uri=${encodeURIComponent(`${base}/_oauth/github`)}&state=${encodeURIComponent(state)}`;
    const back = await followToPgrt(loginUrl);
    const { secret } = await pageCredentials(await fetch(back));
    assert.equal(gh.exchanges.at(-1)?.verifier, false);
    assert.equal(
      (await plugin.retrieveCredential(credentialToken, secret ?? ''))?.serviceData.username,
      'octo',
    );

    const second = newState();
    const forged = new URL(`${base}/_oauth/github`);
    forged.searchParams.set('code', 'not-a-code');
    forged.searchParams.set('state', second.state);
    const failed = await fetch(forged);
    assert.equal(failed.status, 502, "GitHub's 200 {error} answer is a failed exchange");
    assert.deepEqual(await pageCredentials(failed), {});
  });

  it("Google, started by Meteor's google-oauth client and by the server: Meteor google-oauth serviceData", async () => {
    const { credentialToken, state } = newState();
    // What google_client.js builds (against this issuer).
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: provider.clientId,
      scope: 'openid email profile',
      redirect_uri: `${base}/_oauth/google`,
      state,
    });
    const back = await signInOverHttp(`${provider.issuer}/auth?${params}`, provider.issuer, 'gus');
    const { secret } = await pageCredentials(await fetch(back));
    const credential = await plugin.retrieveCredential(credentialToken, secret ?? '');
    const data = credential?.serviceData ?? {};
    assert.equal(data.id, 'gus');
    assert.equal(data.email, 'gus@example.com');
    assert.equal(data.verified_email, true, "Meteor's name for email_verified");
    assert.equal('email_verified' in data, false);
    assert.equal(data.name, 'User gus');
    assert.ok(Array.isArray(data.scope) && data.scope.includes('email'));
    assert.equal(typeof data.expiresAt, 'number');
    assert.deepEqual(credential?.options, { profile: { name: 'User gus' } });

    const started = newState();
    const back2 = await signInOverHttp(
      `${base}/_oauth/google/authorize?state=${encodeURIComponent(started.state)}`,
      provider.issuer,
      'hal',
    );
    const { secret: secret2 } = await pageCredentials(await fetch(back2));
    const credential2 = await plugin.retrieveCredential(started.credentialToken, secret2 ?? '');
    assert.equal(credential2?.serviceData.id, 'hal');
  });
});
