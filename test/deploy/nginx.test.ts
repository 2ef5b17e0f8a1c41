/**
 * pgrt behind a real nginx running the shipped examples/deploy/nginx.conf (scripts/support/nginx.ts), three pgrt
 * processes (test/fixtures/deploy-cluster.ts): SockJS xhr-polling sessions stay on the process that holds them
 * (`hash` on the session id in the path), and a SIGTERM'd process leaves without any new connection through nginx
 * failing — nginx (open source) cannot see `/readyz`, so what hides the drain is its retry: a closing process's 503
 * to upgrades and an exited process's refusal are passed on to the next process (`proxy_next_upstream`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { freePort } from '../../core/database/embedded-postgres.js';
import { NGINX_CONFIG, Nginx, rewriteNginxConfig } from '../../scripts/support/nginx.js';
import {
  assertMovedAndConverged,
  assertUntroubled,
  ddpConnect,
  drainWhileProbing,
  pollingClientsUnderWrites,
} from '../fixtures/balancer-checks.js';
import { type DeployClient, openDeployClient } from '../fixtures/deploy-clients.js';
import { DeployCluster } from '../fixtures/deploy-cluster.js';
import { runRollingDeploy } from '../fixtures/rolling-deploy.js';
import { testDatabaseUrl } from '../support/database.js';

/** nginx does not wait it out (it cannot see /readyz): long enough to watch the order of the drain's steps. */
const DRAIN_DELAY_MS = 1500;

describe('nginx.conf as shipped', () => {
  const shipped = readFileSync(NGINX_CONFIG, 'utf8');
  const places = { port: 18080, servers: [13001, 13002, 13003], accessLog: '/tmp/x/access.log' };

  it('is rewritten on its listen, server and access_log lines only', () => {
    const before = shipped.split('\n');
    const after = rewriteNginxConfig(shipped, places).split('\n');
    assert.equal(after.length, before.length);
    const changed = before.flatMap((line, i) =>
      line === after[i] ? [] : [`${line.trim()} → ${after[i]?.trim()}`],
    );
    assert.deepEqual(changed, [
      ...[1, 2, 3].map(
        (n) =>
          `server 127.0.0.1:300${n} max_fails=1 fail_timeout=5s; → server 127.0.0.1:1300${n} max_fails=1 fail_timeout=5s;`,
      ),
      ...[1, 2, 3].map(
        (n) =>
          `server 127.0.0.1:300${n} max_fails=1 fail_timeout=5s; → server 127.0.0.1:1300${n} max_fails=1 fail_timeout=5s;`,
      ),
      'listen 8080; → listen 127.0.0.1:18080;',
      'access_log /var/log/nginx/pgrt.access.log pgrt; → access_log /tmp/x/access.log pgrt;',
    ]);
  });

  it('is refused when its shape no longer matches the tests', () => {
    const cases: Record<string, string> = {
      'no listen': shipped.replace(/listen 8080;/, ''),
      'a fourth server': shipped.replace(
        /(server 127\.0\.0\.1:3003[^\n]*\n)/,
        '$1    server 127.0.0.1:3004;\n',
      ),
      'a server missing': shipped.replace(/\n\s*server 127\.0\.0\.1:3002[^\n]*/, ''),
      'the access log in another format': shipped.replace(/ pgrt;/, ' combined;'),
      'one upstream only': shipped.replace(/upstream pgrt_sockjs \{[^}]*\}/, ''),
    };
    for (const [what, text] of Object.entries(cases)) {
      assert.notEqual(text, shipped, `${what}: the case changes the file`);
      assert.throws(() => rewriteNginxConfig(text, places), /nginx\.conf/, what);
    }
  });
});

describe('behind nginx (examples/deploy/nginx.conf)', function () {
  this.timeout(90_000);
  let cluster: DeployCluster<Nginx> | undefined;
  let db: pg.Client | undefined;
  const clients: DeployClient[] = [];

  before(async () => {
    cluster = await DeployCluster.start(
      { databaseUrl: testDatabaseUrl(), drainDelayMs: DRAIN_DELAY_MS },
      Nginx.start,
    );
    db = new pg.Client(testDatabaseUrl());
    await db.connect();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
    await db?.end();
  });

  it('keeps each SockJS xhr-polling session on one process (hash on the session id)', async () => {
    const nginx = cluster!.proxy;
    const polling = await pollingClientsUnderWrites(db!, nginx, 8, `nginx-sticky-${process.pid}`);
    clients.push(...polling);
    const processes = new Map<string, Set<number>>();
    for (const entry of nginx.accessLog()) {
      const served = entry.upstreams[entry.upstreams.length - 1];
      if (entry.session === '' || served === undefined) continue;
      const of = processes.get(entry.session) ?? new Set();
      processes.set(entry.session, of.add(served));
    }
    assert.ok(processes.size >= polling.length, `sessions in the log: ${[...processes.keys()].join(', ')}`);
    for (const [session, served] of processes)
      assert.equal(served.size, 1, `session ${session} reached processes ${[...served].join(', ')}`);
    const spread = new Set([...processes.values()].flatMap((served) => [...served]));
    assert.ok(spread.size >= 2, `sessions spread over several processes: ${[...spread].join(', ')}`);
    assertUntroubled(polling);
    await Promise.all(polling.map((c) => c.close()));
  });

  it('on SIGTERM: no new connection through nginx fails; what the leaving process refuses is retried', async () => {
    const nginx = cluster!.proxy;
    const connected = await Promise.all(
      Array.from({ length: 6 }, () => openDeployClient('ddp', nginx.url())),
    );
    clients.push(...connected);
    // least_conn with no other connections spreads six clients two per process: any process has some.
    const draining = cluster!.members[0]!;
    const retriedAway = () =>
      nginx
        .accessLog()
        .some((e) => e.upstreams.length > 1 && e.upstreams.slice(0, -1).includes(draining.port));
    const { events, failures, probes } = await drainWhileProbing({
      balancer: nginx,
      member: draining,
      clients: connected,
      // nginx meets the exited process at the next request it sends there: probe until it did.
      probeAfterExitUntil: retriedAway,
    });
    assert.deepEqual(failures, [], `new connections through nginx during the drain (${probes} probes)`);
    assert.deepEqual(events, ['readyz 503', 'clients closed', 'exited']);
    assert.ok(retriedAway(), `nginx passed a request on from the stopped process: ${nginx.log}`);
    await assertMovedAndConverged(db!, connected, `nginx-drained-${process.pid}`);
  });

  it('passes a refused connection and a 503 on to the next process (proxy_next_upstream)', async () => {
    // In front of: a process that answers 503 to everything (as a closing pgrt answers upgrades), a closed port
    // (an exited one), and a live pgrt process.
    const closing = await refusingServer();
    const live = cluster!.members[1]!; // the drain above stopped members[0]
    const closed = await freePort();
    const nginx = await Nginx.start([closing.port, closed, live.port]);
    try {
      const outcomes: string[] = [];
      for (let n = 0; n < 6; n++) {
        outcomes.push(await ddpConnect(nginx.wsUrl('/websocket')));
        outcomes.push(await fetch(nginx.url('/sockjs/info')).then((r) => `info ${r.status}`));
      }
      assert.deepEqual(outcomes, Array.from({ length: 6 }, () => ['connected', 'info 200']).flat());
      const log = nginx.accessLog();
      const tried = (port: number, status: string, path: string) =>
        log.some(
          (e) =>
            e.path === path &&
            e.upstreams.at(-1) === live.port &&
            e.upstreams.some((p, i) => p === port && e.upstreamStatuses[i] === status),
        );
      for (const path of ['/websocket', '/sockjs/info']) {
        assert.ok(tried(closing.port, '503', path), `${path}: a 503 passed on: ${JSON.stringify(log)}`);
        assert.ok(tried(closed, '502', path), `${path}: a refusal passed on: ${JSON.stringify(log)}`);
      }
    } finally {
      await nginx.stop();
      closing.server.close();
    }
  });
});

describe('rolling deploy behind nginx', function () {
  this.timeout(180_000);

  it('restarts three processes one at a time with no drain delay: every client back, holding exactly the table', async () => {
    // drainDelayMs 0: nginx cannot see /readyz, its retries are what hide a drain (docs/deployment.md "nginx").
    const report = await runRollingDeploy({
      databaseUrl: testDatabaseUrl(),
      clientsPerKind: 3,
      drainDelayMs: 0,
      writeIntervalMs: 20,
      balancer: Nginx.start,
    });
    const context = JSON.stringify(report, null, 1);
    assert.equal(report.writes.failed, 0, context);
    for (const [kind, figures] of Object.entries(report.kinds)) {
      const { lost, extra, stale, duplicated } = figures;
      assert.deepEqual(
        { lost, extra, stale, duplicated },
        { lost: 0, extra: 0, stale: 0, duplicated: 0 },
        kind,
      );
      assert.equal(figures.disconnected, figures.clients, `${kind}: every client was moved: ${context}`);
      assert.equal(figures.reconnected, figures.clients, `${kind}: every client is back: ${context}`);
    }
  });
});

/** An HTTP server on 127.0.0.1 that answers 503 to every request and every upgrade. */
async function refusingServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_request, response) => {
    response.writeHead(503, { connection: 'close' }).end();
  });
  server.on('upgrade', (_request, socket) => {
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}
