/**
 * Serving a Meteor web client (`ddp({ meteorClient })`): the bundle with a generated
 * `__meteor_runtime_config__`, the stock publications, and hot code push over DDP when the bundle changes on disk.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashBundle, injectRuntimeConfig } from '../../adapters/ddp/meteor-client.js';
import { App } from '../../core/app.js';
import { createServer, type DdpHandle, ddp, type PgrtServer } from '../../index.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../support/database.js';

const INDEX =
  '<!doctype html><html><head><title>app</title></head><body><script src="/app.js"></script></body></html>';

/** The config a served page carries. */
function runtimeConfigOf(html: string): Record<string, unknown> {
  const match = /__meteor_runtime_config__ = JSON\.parse\(decodeURIComponent\(("[^"]*")\)\)/.exec(html);
  assert.ok(match?.[1], `runtime config in ${html}`);
  return JSON.parse(decodeURIComponent(JSON.parse(match[1]) as string)) as Record<string, unknown>;
}

describe('Meteor web client: static bundle, runtime config, stock publications, hot code push', () => {
  let dir: string;
  let server: PgrtServer;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgrt-meteor-client-'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'app.js'), 'console.log("v1");\n');
    writeFileSync(join(dir, 'app.css'), 'body { color: black }\n');
    server = await createServer({
      app: new App(),
      protocols: [ddp({ heartbeatInterval: 0, meteorClient: { staticDir: dir, watchDebounceMs: 50 } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and for client routes, with __meteor_runtime_config__ injected', async () => {
    for (const path of ['/', '/posts/42']) {
      const response = await fetch(`${base}${path}`, { headers: { accept: 'text/html' } });
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
      const config = runtimeConfigOf(await response.text());
      assert.equal(config.ROOT_URL, base);
      assert.equal(config.DDP_DEFAULT_CONNECTION_URL, base);
      assert.equal(config.ROOT_URL_PATH_PREFIX, '');
      assert.deepEqual((config.meteorEnv as Record<string, unknown>).TEST_METADATA, '{}');
      const versions = (config.autoupdate as { versions: Record<string, Record<string, unknown>> }).versions;
      assert.equal(
        versions['web.browser']?.versionNonRefreshable,
        (server.protocols.get('ddp') as DdpHandle).meteorClient?.versions?.versionNonRefreshable,
      );
    }
  });

  it('serves assets with content types and ETags, answers 304, and never leaves the folder', async () => {
    const js = await fetch(`${base}/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(await js.text(), 'console.log("v1");\n');
    const etag = js.headers.get('etag') ?? '';
    const again = await fetch(`${base}/app.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/missing.js']) {
      assert.equal((await fetch(`${base}${path}`)).status, 404, path);
    }
    assert.equal((await fetch(`${base}/healthz`, { headers: { accept: 'text/html' } })).status, 200);
    assert.equal(
      ((await (await fetch(`${base}/sockjs/info`)).json()) as { websocket: boolean }).websocket,
      true,
    );
  });

  it('publishes the client versions and a ready loginServiceConfiguration', async () => {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    try {
      await client.subscribe('meteor.loginServiceConfiguration');
      await client.subscribe('meteor_autoupdate_clientVersions');
      const doc = client.view('meteor_autoupdate_clientVersions').get('web.browser');
      const versions = hashBundle(dir);
      assert.equal(doc?.version, versions.version);
      assert.equal(doc?.versionRefreshable, versions.versionRefreshable);
      assert.equal(doc?.versionNonRefreshable, versions.versionNonRefreshable);
      assert.deepEqual(doc?.assets, [{ url: '/app.css' }]);
    } finally {
      await client.close();
    }
  });

  it('hot code push: a changed JS file changes versionNonRefreshable, a changed CSS only versionRefreshable', async () => {
    const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    try {
      await client.subscribe('meteor_autoupdate_clientVersions');
      const view = () => client.view('meteor_autoupdate_clientVersions').get('web.browser') ?? {};
      const first = { ...view() };

      let from = client.messages.length;
      writeFileSync(join(dir, 'app.js'), 'console.log("v2");\n');
      await client.waitFor(
        (m) => m.msg === 'changed' && m.collection === 'meteor_autoupdate_clientVersions',
        5000,
        from,
      );
      const second = { ...view() };
      assert.notEqual(second.versionNonRefreshable, first.versionNonRefreshable);
      assert.equal(second.versionRefreshable, first.versionRefreshable);

      from = client.messages.length;
      writeFileSync(join(dir, 'app.css'), 'body { color: navy }\n');
      await client.waitFor(
        (m) => m.msg === 'changed' && m.collection === 'meteor_autoupdate_clientVersions',
        5000,
        from,
      );
      const third = { ...view() };
      assert.notEqual(third.versionRefreshable, second.versionRefreshable);
      assert.equal(third.versionNonRefreshable, second.versionNonRefreshable);

      const page = await (await fetch(`${base}/`)).text();
      const versions = (
        runtimeConfigOf(page).autoupdate as { versions: Record<string, Record<string, unknown>> }
      ).versions;
      assert.equal(versions['web.browser']?.version, third.version, 'a reloaded page gets the new versions');
    } finally {
      await client.close();
    }
  });
});

describe('injectRuntimeConfig', () => {
  it('replaces a built bundle’s config script, or goes first in <head>', () => {
    const built =
      '<html><head><script type="text/javascript">__meteor_runtime_config__ = {"old":1};</script></head></html>';
    const replaced = injectRuntimeConfig(built, { fresh: '</script>' });
    assert.doesNotMatch(replaced, /"old"/);
    assert.equal(replaced.match(/__meteor_runtime_config__/g)?.length, 1);
    assert.doesNotMatch(
      replaced.replace(/<\/script><\/head>/, ''),
      /<\/script>.*<\/script>/s,
      'no early </script>',
    );
    assert.match(
      injectRuntimeConfig('<html><head lang="x"><title>t</title></head></html>', {}),
      /<head lang="x">\n<script/,
    );
  });
});
