/**
 * `npm run cluster` (scripts/cluster.ts): one command starts PgBouncer, three pgrt processes and HAProxy on the
 * test database (`DATABASE_URL`), prints the URLs, serves through the whole chain — a DDP client through HAProxy
 * sees a row inserted with SQL, which reached its process over the direct LISTEN connection while its queries went
 * through PgBouncer — and a Ctrl-C (SIGINT) stops everything: npm exits 0 and none of the processes is left.
 */
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run cluster', function () {
  this.timeout(180_000);
  let child: ChildProcessByStdio<null, Readable, Readable> | undefined;
  let pids: number[] = [];

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('starts PgBouncer, three pgrt processes and HAProxy, serves through them, and stops all on Ctrl-C', async () => {
    child = spawn('npm', ['run', 'cluster', '--silent', '--', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: testDatabaseUrl(), PGRT_DRAIN_DELAY_MS: '1000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = once(child, 'exit');
    let ready: { url: string; pids: number[] } | undefined;
    await waitUntil(
      () => {
        const line = stdout.split('\n').find((l) => l.startsWith('{"cluster":"ready"'));
        if (line) ready = JSON.parse(line) as { url: string; pids: number[] };
        return ready !== undefined || child?.exitCode !== null;
      },
      { timeoutMs: 150_000, intervalMs: 100, what: () => `the cluster to start: ${stdout} ${stderr}` },
    );
    assert.ok(ready, `cluster ready: ${stdout} ${stderr}`);
    pids = ready.pids;
    assert.equal(pids.length, 3);
    assert.match(stdout, /PgBouncer .*transaction pooling/);
    assert.match(stdout, /WAMP .*\/ws/);
    assert.equal((await fetch(`${ready.url}/readyz`)).status, 200);

    const client = await RawDdpClient.connect(`${ready.url.replace('http', 'ws')}/websocket`);
    await client.subscribe('presentations');
    const db = new pg.Client(testDatabaseUrl());
    await db.connect();
    const id = `cluster-${process.pid}`;
    await db.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [id, 'through the cluster']);
    await db.end();
    await waitUntil(() => client.view('presentations').has(id), { what: () => `${id} through HAProxy` });
    assert.equal(await client.apply('presentations.remove', id), true);
    await waitUntil(() => !client.view('presentations').has(id), { what: () => `${id} removed` });

    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /cluster: stopped/);
    for (const pid of pids) assert.equal(alive(pid), false, `pgrt process ${pid} is gone`);
    const after = await fetch(`${ready.url}/readyz`).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.equal(after, 'refused', 'HAProxy is gone');
    await client.closed;
  });
});
