/**
 * The per-address limit of OAuth's HTTP steps (core/accounts/oauth: `rateLimit`): `<service>/authorize` and the
 * provider's redirect `<service>` each write a row, so each is counted per client address (the server's
 * `forwardedCount` applies); past the budget the answer is a plain 429 with `Retry-After`, before anything is
 * stored. The page scripts are not counted; a core with `rateLimits: false` has no limit.
 */
import assert from 'node:assert/strict';
import { github } from '../../core/accounts/oauth/github.js';
import { oauth } from '../../core/accounts/oauth/oauth.js';
import { encodeState } from '../../core/accounts/oauth/state.js';
import { App } from '../../core/app.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import type { RateLimitOptions } from '../../core/rate-limit.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { testDatabaseUrl } from '../support/database.js';

const BUDGET = 3;

/** A server with GitHub login configured (its authorize step needs no network) and `BUDGET` requests a minute. */
async function startServer(rateLimits?: false | RateLimitOptions): Promise<PgrtServer> {
  const plugin = oauth({
    services: [github({ configuration: { clientId: 'client-id', secret: 'client-secret' } })],
    sweepIntervalMs: 0,
    rateLimit: { numRequests: BUDGET, intervalMs: 60_000 },
  });
  return await createServer({
    app: new App().use(plugin),
    protocols: [ddp()],
    port: 0,
    host: '127.0.0.1',
    databaseUrl: testDatabaseUrl(),
    forwardedCount: 1,
    ...(rateLimits === undefined ? {} : { rateLimits }),
  });
}

describe('OAuth: authorize and redirect requests limited per client address', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let base: string;
  let nextAddress = 1;
  /** A client address of its own for each case (TEST-NET-2), so cases do not share counters. */
  const newAddress = () => `198.51.100.${nextAddress++}`;

  before(async () => {
    server = await startServer();
    base = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server?.close();
  });

  const get = (path: string, address: string) =>
    fetch(`${base}${path}`, { redirect: 'manual', headers: { 'x-forwarded-for': address } });

  /** Starts a login with a fresh credential token; resolves with the response and the token. */
  async function authorize(address: string) {
    const token = cryptoRandom.secret();
    const state = encodeState({ loginStyle: 'popup', credentialToken: token });
    const response = await get(`/_oauth/github/authorize?state=${encodeURIComponent(state)}`, address);
    await response.arrayBuffer();
    return { response, token };
  }

  async function storedRequest(token: string): Promise<boolean> {
    const rows = await server.db.query('SELECT 1 FROM pgrt.oauth_requests WHERE credential_token = $1', [
      token,
    ]);
    return rows.rows.length > 0;
  }

  it('authorize: the budget passes, the next request gets 429 with Retry-After and stores nothing', async () => {
    const address = newAddress();
    for (let i = 0; i < BUDGET; i++) {
      const { response, token } = await authorize(address);
      assert.equal(response.status, 302, `request ${i + 1} of the budget`);
      assert.match(
        response.headers.get('location') ?? '',
        /^https:\/\/github\.com\/login\/oauth\/authorize\?/,
      );
      assert.equal(await storedRequest(token), true);
    }
    const { response, token } = await authorize(address);
    assert.equal(response.status, 429);
    const retryAfter = Number(response.headers.get('retry-after'));
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(await storedRequest(token), false, 'a refused request writes no row');

    // Another address has its own budget; the refused one stays refused.
    assert.equal((await authorize(newAddress())).response.status, 302);
    assert.equal((await authorize(address)).response.status, 429);
  });

  it('redirects are counted apart from authorize requests; the page scripts are not counted', async () => {
    const address = newAddress();
    for (let i = 0; i < BUDGET; i++) assert.equal((await authorize(address)).response.status, 302);
    const redirect = () => get('/_oauth/github?state=not-a-state', address);
    for (let i = 0; i < BUDGET; i++) {
      const response = await redirect();
      await response.arrayBuffer();
      assert.equal(response.status, 400, `redirect ${i + 1}: its own budget, refused only for its bad state`);
    }
    const refused = await redirect();
    assert.equal(refused.status, 429);
    assert.equal(await refused.text(), 'Too many requests\n');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const script = await get('/_oauth/end_of_popup_response.js', address);
    await script.arrayBuffer();
    assert.equal(script.status, 200);
  });

  it('a core with rateLimits: false does not limit them', async () => {
    const unlimited = await startServer(false);
    try {
      const address = newAddress();
      for (let i = 0; i < BUDGET * 2; i++) {
        const token = cryptoRandom.secret();
        const state = encodeState({ loginStyle: 'popup', credentialToken: token });
        const response = await fetch(
          `${unlimited.url}/_oauth/github/authorize?state=${encodeURIComponent(state)}`,
          { redirect: 'manual', headers: { 'x-forwarded-for': address } },
        );
        await response.arrayBuffer();
        assert.equal(response.status, 302);
      }
    } finally {
      await unlimited.close();
    }
  });
});
