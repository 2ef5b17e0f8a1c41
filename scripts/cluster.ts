/**
 * `npm run cluster`: the deployment of docs/deployment.md on one machine, for people evaluating scale-out.
 * PostgreSQL (`DATABASE_URL`, else an embedded one under .pgrt/cluster/pgdata), PgBouncer in transaction pooling
 * mode in front of it (Debian's `pgbouncer`), three pgrt processes (`npm start`'s program, the presentations demo
 * with DDP and WAMP) whose queries go through PgBouncer and whose LISTEN connection goes direct
 * (`PGRT_LISTEN_DATABASE_URL`), and HAProxy (Debian's `haproxy`) running examples/deploy/haproxy.cfg in front of
 * them. Prints the URLs; Ctrl-C (or SIGTERM) stops everything — the pgrt processes drain first (`/readyz` 503 for
 * `PGRT_DRAIN_DELAY_MS`, default 5000), then HAProxy, PgBouncer and PostgreSQL; a second Ctrl-C kills at once.
 *
 * Flags: `--port <n>` HAProxy's port (default 8080; 0 = a free one). The pgrt processes take every other
 * `PGRT_*` variable as `npm start` does (docs/configuration.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import {
  APP_EMBEDDED_SETTINGS,
  type EmbeddedPostgresHandle,
  freePort,
  startEmbeddedPostgres,
} from '../core/database/embedded-postgres.js';
import { HAProxy } from './support/haproxy.js';
import { PgBouncer } from './support/pgbouncer.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MAIN = join(ROOT, 'examples/presentations/main.ts');
const PROCESSES = 3;

/** A pgrt process of the cluster. */
interface Member {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
}

/** What is running, in start order; stopped in reverse. */
interface Running {
  postgres?: EmbeddedPostgresHandle;
  bouncer?: PgBouncer;
  members: Member[];
  proxy?: HAProxy;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function start(port: number, running: Running): Promise<void> {
  let direct = process.env.DATABASE_URL;
  if (!direct) {
    say('cluster: starting an embedded PostgreSQL (.pgrt/cluster/pgdata)');
    running.postgres = await startEmbeddedPostgres({
      dataDir: join(ROOT, '.pgrt/cluster/pgdata'),
      settings: APP_EMBEDDED_SETTINGS,
    });
    direct = running.postgres.url;
  }
  const database = new URL(direct).pathname.slice(1) || 'postgres';
  running.bouncer = await PgBouncer.start({ upstream: direct, mode: 'transaction', poolSize: 10 });
  const pooled = running.bouncer.url(database);
  for (let i = 1; i <= PROCESSES; i++) {
    const memberPort = await freePort();
    const web = join(ROOT, `.pgrt/cluster/web-${i}`);
    mkdirSync(web, { recursive: true });
    const log = openSync(join(ROOT, `.pgrt/cluster/pgrt${i}.log`), 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      cwd: ROOT,
      // Its own process group: a Ctrl-C reaches this script only, which drains the processes in order.
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        PORT: String(memberPort),
        HOST: '127.0.0.1',
        DATABASE_URL: pooled,
        PGRT_LISTEN_DATABASE_URL: direct,
        PGRT_DRAIN_DELAY_MS: process.env.PGRT_DRAIN_DELAY_MS ?? '5000',
        PGRT_METEOR_CLIENT_STATIC_DIR: web,
        PGRT_LOG_FORMAT: 'json',
        // HAProxy adds X-Forwarded-For (option forwardfor): the client's address is one hop back.
        HTTP_FORWARDED_COUNT: process.env.HTTP_FORWARDED_COUNT ?? '1',
      },
    });
    closeSync(log);
    running.members.push({ name: `pgrt${i}`, port: memberPort, child });
  }
  running.proxy = await HAProxy.start(
    running.members.map((m) => m.port),
    port === 0 ? undefined : port,
  );
  await Promise.race([
    running.proxy.waitUp(undefined, 120_000),
    ...running.members.map(async ({ name, child }) => {
      const [code] = await once(child, 'exit');
      throw new Error(`${name} exited (${String(code)}) while starting: see .pgrt/cluster/${name}.log`);
    }),
  ]);
  const base = running.proxy.url().replace('127.0.0.1', 'localhost');
  const ws = base.replace(/^http/, 'ws');
  say('cluster: ready');
  say(`  app (HAProxy)   ${base}/`);
  say(`  DDP             ${ws}/websocket   SockJS ${base}/sockjs`);
  say(`  WAMP            ${ws}/ws   realm realm1`);
  for (const m of running.members)
    say(
      `  ${m.name}           http://localhost:${m.port}/readyz   pid ${m.child.pid}   log .pgrt/cluster/${m.name}.log`,
    );
  say(`  PgBouncer       ${redact(pooled)}   (transaction pooling; queries)`);
  say(`  PostgreSQL      ${redact(direct)}   (direct; LISTEN, pump lock)`);
  say(`  HAProxy stats   echo "show stat" | socat stdio ${join(running.proxy.dir, 'haproxy.sock')}`);
  say('Ctrl-C stops everything.');
  process.stdout.write(
    `${JSON.stringify({ cluster: 'ready', url: running.proxy.url(), pids: running.members.map((m) => m.child.pid) })}\n`,
  );
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function stop(running: Running): Promise<void> {
  say('cluster: stopping (the pgrt processes drain first)');
  await Promise.all(
    running.members.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }),
  );
  await running.proxy?.stop();
  await running.bouncer?.stop();
  await running.postgres?.stop();
  say('cluster: stopped');
}

async function main(): Promise<void> {
  const command = new Command('npm run cluster')
    .description('PostgreSQL, PgBouncer, three pgrt processes and HAProxy on this machine')
    .option('--port <n>', "HAProxy's port (0: a free one)", '8080')
    .parse(process.argv);
  const port = Number(command.opts<{ port: string }>().port);
  if (!Number.isInteger(port) || port < 0) throw new Error('--port must be a port number');
  const running: Running = { members: [] };
  let requestStop: (why: string) => void = () => {};
  const stopRequested = new Promise<string>((resolve) => {
    requestStop = resolve;
  });
  let signals = 0;
  const onSignal = (): void => {
    if (++signals > 1) {
      for (const { child } of running.members) child.kill('SIGKILL');
      process.exit(1);
    }
    requestStop('signal');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code = 0;
  try {
    // A signal during start-up waits for the start to finish (every step is bounded), then stops.
    await start(port, running);
    const died = running.members.map(async ({ name, child }) => {
      const [exitCode] = await once(child, 'exit');
      return `${name} exited (${String(exitCode)})`;
    });
    const why = await Promise.race([stopRequested, ...died]);
    if (why !== 'signal') {
      process.stderr.write(`cluster: ${why}; stopping\n`);
      code = 1;
    }
  } catch (error) {
    process.stderr.write(`cluster: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 1;
  }
  await stop(running);
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `cluster: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
