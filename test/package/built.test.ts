/**
 * The package as users get it: `npm run build` once (tsc, then scripts/copy-assets.mjs), then the BUILT CLI (`node dist/cli/main.js`, no
 * tsx) serves a plain-JavaScript app module that imports `pgrt` by name; a raw WebSocket DDP client calls a method
 * and receives its result, its `updated` and the added document. Then publint and @arethetypeswrong/cli check the
 * package; they are skipped, with the reason, when their binaries are not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ROOT, runCli, type ServeProcess, startServe } from '../cli/fixtures/cli-process.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const exec = promisify(execFile);
const bin = (name: string): string => join(ROOT, 'node_modules', '.bin', name);

describe('package: the built output', function () {
  this.timeout(300_000); // tsc over the whole library: ~40 s quiet, past 120 s at load 20
  let server: ServeProcess | undefined;
  let client: RawDdpClient | undefined;

  before(async () => {
    await exec(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
      },
    );
    await exec(process.execPath, [join(ROOT, 'scripts/copy-assets.mjs')], { cwd: ROOT });
  });

  after(async () => {
    await client?.close();
    if (server && server.child.exitCode === null) await server.stop();
    const db = new pg.Client(testDatabaseUrl());
    await db.connect();
    await db.query('DROP TABLE IF EXISTS pkg_items');
    await db.end();
  });

  it('builds library code only, with declarations', () => {
    for (const file of [
      'index.js',
      'index.d.ts',
      'server.js',
      'cli/main.js',
      'core/realtime-core.js',
      'core/database/migrations/0001_notify.sql',
    ])
      assert.ok(existsSync(join(ROOT, 'dist', file)), file);
    assert.ok(!existsSync(join(ROOT, 'dist/test')), 'no tests in dist');
    assert.ok(!existsSync(join(ROOT, 'dist/examples')), 'no examples in dist');
    assert.ok(!existsSync(join(ROOT, 'dist/bench')), 'no bench in dist');
  });

  it('node dist/cli/main.js --version and --help run without tsx', async () => {
    const version = await runCli(['--version'], { form: 'built' });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    const help = await runCli(['serve', '--help'], { form: 'built' });
    assert.equal(help.code, 0, help.stderr);
  });

  it('serves a plain-JS app module; a raw DDP client gets result, updated and the document', async () => {
    server = await startServe(
      [
        'test/package/fixtures/app.mjs',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--database-url',
        testDatabaseUrl(),
      ],
      { form: 'built' },
    );
    client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    await client.subscribe('pkg_items');
    const outcome = await client.call('items.add', 'built');
    assert.equal(outcome.error, undefined, JSON.stringify(outcome.error));
    assert.equal(typeof outcome.result, 'string');
    await waitUntil(() => client?.view('pkg_items').get(String(outcome.result))?.name === 'built', {
      what: () => 'the added document',
    });
    await client.close();
    client = undefined;
    assert.equal(await server.stop(), 0, server.stderr());
  });

  it('publint finds no problems', async function () {
    if (!existsSync(bin('publint'))) this.skip(); // publint not installed (offline install without devDependencies)
    const { stdout } = await exec(bin('publint'), ['--strict'], { cwd: ROOT });
    assert.match(stdout, /All good!/);
  });

  it('@arethetypeswrong/cli finds no problems (ESM-only profile)', async function () {
    if (!existsSync(bin('attw'))) this.skip(); // @arethetypeswrong/cli not installed
    const dir = mkdtempSync(join(tmpdir(), 'pgrt-pack-'));
    try {
      const { stdout: packed } = await exec(
        'npm',
        ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'],
        {
          cwd: ROOT,
        },
      );
      const [info] = JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>;
      assert.ok(info);
      const paths = info.files.map((f) => f.path);
      assert.ok(paths.includes('dist/cli/main.js') && paths.includes('config/pgrt.config.schema.json'));
      assert.ok(!paths.some((p) => p.startsWith('test/') || p.endsWith('.test.ts')), 'no tests packed');
      const { stdout } = await exec(
        bin('attw'),
        [join(dir, info.filename), '--profile', 'esm-only', '--format', 'ascii'],
        {
          cwd: ROOT,
        },
      );
      // attw exits non-zero on any problem in the checked resolutions (execFile rejects then).
      assert.match(stdout, /"pgrt"\s+node16 \(from ESM\): 🟢 \(ESM\)\s+bundler: 🟢/u);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
