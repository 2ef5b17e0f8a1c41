/**
 * One drain's DDP session hand-off (adapters/ddp/handoff.ts), alone: two deploy-server processes
 * (test/fixtures/deploy-server.ts) on a scratch database `pgrt_handoff_bench`, `BENCH_ROWS` presentations (default
 * 4,000), `BENCH_CLIENTS` raw DDP clients (default 70) subscribed on the first, an UPDATE every 10 ms; then SIGTERM to
 * the first, and each client reconnects to the second with `connect {session, receivedCount}` as soon as its socket
 * closes. Prints the clients resumed / given a new session and the draining process's hand-off log line (total,
 * capture, announce, encode and write ms). `BENCH_CPU_PROF=<dir>`: a V8 CPU profile of the draining process.
 *
 * Usage: npx tsx bench/handoff-drain.ts   (PostgreSQL at 127.0.0.1:5432, user postgres)
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import WebSocket from 'ws';

const ROWS = Number(process.env.BENCH_ROWS ?? 4000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 70);
const BASE = 'postgres://postgres@127.0.0.1:5432';
const URL = `${BASE}/pgrt_handoff_bench`;
const LOG = join(tmpdir(), `handoff-drain-${process.pid}.jsonl`);
const profile = process.env.BENCH_CPU_PROF;

type Child = ReturnType<typeof spawn>;

/** A port free now (the fixture takes a fixed port). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

async function startServer(port: number, profiled: boolean): Promise<Child> {
  const flags = profiled && profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', 'test/fixtures/deploy-server.ts'], {
    env: {
      ...process.env,
      PGRT_DEPLOY_DATABASE_URL: URL,
      PGRT_DEPLOY_PORT: String(port),
      PGRT_DEPLOY_LOG_FILE: LOG,
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout?.once('data', resolve);
    child.once('exit', (code) =>
      reject(new Error(`server on port ${port} exited (${code}) before listening`)),
    );
  });
  return child;
}

/** Resolves once `child` has exited (it may have already). */
async function exited(child: Child): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

/** A raw DDP client subscribed to the presentations, counting as a Meteor 3.5 client does. */
class Client {
  count = 0;
  session = '';
  readonly ready: Promise<void>;
  readonly ws: WebSocket;

  constructor(port: number) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/websocket`);
    this.ws.on('error', () => {});
    this.ready = new Promise((resolve) => {
      this.ws.on('message', (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { msg: string; session?: string };
        if (message.msg !== 'ping' && message.msg !== 'pong') this.count++;
        if (message.msg === 'connected') this.session = String(message.session);
        if (message.msg === 'ready') resolve();
      });
    });
    this.ws.once('open', () => {
      this.ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
      this.ws.send(JSON.stringify({ msg: 'sub', id: 's', name: 'presentations', params: [] }));
    });
  }

  /** Once closed, reconnects to `port` with its session; resolves whether it got that session back. */
  async comeBack(port: number): Promise<boolean> {
    await new Promise((resolve) => this.ws.once('close', resolve));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket`);
    return await new Promise((resolve) => {
      ws.on('error', () => resolve(false));
      ws.once('close', () => resolve(false));
      ws.once('open', () =>
        ws.send(
          JSON.stringify({
            msg: 'connect',
            version: '1',
            support: ['1'],
            session: this.session,
            receivedCount: this.count,
          }),
        ),
      );
      ws.on('message', (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { msg: string; session?: string };
        if (message.msg !== 'connected') return;
        ws.terminate();
        resolve(message.session === this.session);
      });
    });
  }
}

const admin = new pg.Client(`${BASE}/postgres`);
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS pgrt_handoff_bench WITH (FORCE)');
await admin.query('CREATE DATABASE pgrt_handoff_bench');
await admin.end();
rmSync(LOG, { force: true });
const [drainingPort, takerPort] = [await freePort(), await freePort()];
const draining = await startServer(drainingPort, true);
const taker = await startServer(takerPort, false);
const db = new pg.Client(URL);
await db.connect();
await db.query(
  `INSERT INTO presentations (id, title, subtitle, created_at)
   SELECT 'p' || i, 'title ' || i, 'subtitle ' || i, now() FROM generate_series(1, $1::int) i`,
  [ROWS],
);
const clients = Array.from({ length: CLIENTS }, () => new Client(drainingPort));
await Promise.all(clients.map((client) => client.ready));
let writing = true;
const writer = (async () => {
  for (let i = 0; writing; i++) {
    await db.query(`UPDATE presentations SET title = title || '.' WHERE id = $1`, [`p${(i % ROWS) + 1}`]);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
})();
const outcomes = clients.map((client) => client.comeBack(takerPort));
draining.kill('SIGTERM');
const resumed = (await Promise.all(outcomes)).filter(Boolean).length;
writing = false;
await writer;
await exited(draining);
taker.kill('SIGTERM');
await exited(taker);
await db.end();
console.log(`${CLIENTS} clients, ${ROWS} rows: resumed ${resumed}, new session ${CLIENTS - resumed}`);
for (const line of readFileSync(LOG, 'utf8').split('\n'))
  if (line.includes('hand-off') || line.includes('handed off')) console.log(line);
rmSync(LOG, { force: true });
process.exit(0);
