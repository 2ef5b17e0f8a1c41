/**
 * `npm start` goes through the same configuration layer as `pgrt serve` (issue 14 item 8): a pgrt.config.json
 * (`PGRT_CONFIG`), `PGRT_*` variables and flags after `--` all apply to the demo; and on SIGTERM npm waits for the
 * drain: `/readyz` answers 503 "draining" while npm is still running, the server logs `stopped`, npm exits 0.
 * (npm used to exit at once and leave the server running without its parent: `sh -c tsx …` died on the signal.)
 */
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('npm start', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcessByStdio<null, Readable, Readable> | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgrt-npm-start-'));
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies pgrt.config.json, PGRT_* and flags, and waits for the drain on SIGTERM', async () => {
    const config = join(dir, 'pgrt.config.json');
    writeFileSync(config, JSON.stringify({ wamp: { path: '/from-file' }, logFormat: 'json' }));
    child = spawn('npm', ['start', '--silent', '--', '--metrics'], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: testDatabaseUrl(),
        PORT: '0',
        PGRT_CONFIG: config,
        PGRT_DRAIN_DELAY_MS: '1500',
        PGRT_METEOR_CLIENT_STATIC_DIR: join(dir, 'web'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Array<Record<string, unknown>> = [];
    let stderr = '';
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts)
        if (part.startsWith('{')) lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = once(child, 'exit');
    const logged = (msg: string) =>
      lines.find((line) => typeof line.msg === 'string' && line.msg.startsWith(msg));
    await waitUntil(() => logged('pgrt presentations demo') !== undefined || child?.exitCode !== null, {
      timeoutMs: 45_000,
      what: () => `the demo to start: ${stderr}`,
    });
    const started = logged('pgrt presentations demo');
    assert.ok(started, `started: ${stderr}`);
    const port = Number(started.port);
    const urls = lines.filter((line) => line.endpoint !== undefined).map((line) => String(line.url));
    assert.ok(
      urls.includes(`ws://localhost:${port}/from-file`),
      `WAMP path from the file: ${urls.join(', ')}`,
    );
    assert.ok(urls.includes(`http://localhost:${port}/metrics`), `--metrics flag: ${urls.join(', ')}`);
    assert.ok(
      urls.includes(`ws://localhost:${port}/realtime/v1/websocket`),
      `Supabase Realtime by default: ${urls.join(', ')}`,
    );
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);

    child.kill('SIGTERM');
    const readyz = async (): Promise<string> => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      return `${response.status} ${(await response.text()).trim()}`;
    };
    await waitUntil(async () => (await readyz()) === '503 draining', { what: () => '/readyz 503 draining' });
    assert.equal(child.exitCode, null, 'npm is still running while the server drains');
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    const shutdown = logged('shutting down');
    assert.equal(shutdown?.drainDelayMs, 1500, 'PGRT_DRAIN_DELAY_MS applies');
    assert.ok(logged('stopped'), 'the server finished closing before npm exited');
  });
});
