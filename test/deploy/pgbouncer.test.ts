/**
 * pgrt behind a real PgBouncer (Debian's binary, scripts/support/pgbouncer.ts). In transaction pooling mode the query
 * pool works — parameterised statements, method transactions, the outbox pump's batches — as long as the
 * connections that need a backend of their own (LISTEN, the pump's advisory lock) take `listenDatabaseUrl`, a
 * direct URL. Without it LISTEN "succeeds" through the pooler and notifications go astray, so the server's start-up
 * probe keeps `/readyz` at 503 saying what to change, and `pgrt doctor` fails the same check. A session-mode pooler
 * on the listen URL is fine.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { runChecks } from '../../cli/commands/doctor.js';
import { TRANSACTION_POOLER_ADVICE } from '../../core/database/pooler-probe.js';
import type { Logger } from '../../core/logger.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { PgBouncer } from '../../scripts/support/pgbouncer.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { ddpUrl } from '../fixtures/presentations-servers.js';
import { diffStates, selectPresentations } from '../fixtures/presentations-table.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** A logger that keeps error lines (the probe's advice). */
function recordingLogger(errors: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (_fields: object, message?: string) => {
      errors.push(message ?? '');
    },
    child: () => logger,
  };
  return logger;
}

describe('behind PgBouncer', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let transaction: PgBouncer;
  let session: PgBouncer;
  const servers: PgrtServer[] = [];
  const clients: RawDdpClient[] = [];

  before(async () => {
    database = await createTestDatabase(`pgrt_test_${process.pid}_pgbouncer`);
    transaction = await PgBouncer.start({ upstream: database.url, mode: 'transaction', poolSize: 3 });
    session = await PgBouncer.start({ upstream: database.url, mode: 'session', poolSize: 3 });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const server of servers.splice(0)) await server.close();
  });

  after(async () => {
    await transaction?.stop();
    await session?.stop();
    await database?.drop();
  });

  const start = async (databaseUrl: string, listenDatabaseUrl?: string, logger?: Logger) => {
    const server = await createServer({
      app: presentationsApp(),
      protocols: [ddp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl,
      ...(listenDatabaseUrl ? { listenDatabaseUrl } : {}),
      migrate: migratePresentations,
      capture: 'outbox',
      poolSize: 6,
      ...(logger ? { logger } : {}),
    });
    servers.push(server);
    return server;
  };
  const readyz = async (server: PgrtServer): Promise<string> => {
    const response = await fetch(`${server.url}/readyz`);
    return `${response.status} ${(await response.text()).trim()}`;
  };

  it('serves through a transaction-mode pooler when listenDatabaseUrl is direct', async () => {
    const server = await start(transaction.url(dbName(database)), database.url);
    assert.equal(await readyz(server), '200 ready');
    const client = await RawDdpClient.connect(ddpUrl(server.port));
    clients.push(client);
    await client.subscribe('presentations');
    // More concurrent method transactions than the pooler has server connections (3): each gets result and updated.
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => client.call('presentations.add', { title: `pooled ${i}` })),
    );
    assert.deepEqual(
      outcomes.filter((o) => o.error),
      [],
    );
    const writer = new pg.Client(transaction.url(dbName(database)));
    await writer.connect();
    await writer.query('INSERT INTO presentations (id, title) VALUES ($1, $2)', [
      `psql-${process.pid}`,
      'from psql',
    ]);
    const table = await selectPresentations(writer);
    await writer.end();
    await waitUntil(() => diffStates(client.view('presentations'), table).length === 0, {
      what: () => diffStates(client.view('presentations'), table).join('; '),
    });
    assert.deepEqual(client.violations, []);
    assert.ok(server.core.outboxPump?.leading, 'the pump leads, its lock held on the direct connection');
  });

  it('stays unready, saying what to change, when LISTEN would go through the transaction pooler', async () => {
    const errors: string[] = [];
    const server = await start(transaction.url(dbName(database)), undefined, recordingLogger(errors));
    assert.equal(await readyz(server), `503 not ready: ${TRANSACTION_POOLER_ADVICE}`);
    assert.ok(errors.includes(TRANSACTION_POOLER_ADVICE), `logged: ${errors.join(' | ')}`);
  });

  it('is ready with a session-mode pooler on the listen URL', async () => {
    const server = await start(transaction.url(dbName(database)), session.url(dbName(database)));
    assert.equal(await readyz(server), '200 ready');
    const client = await RawDdpClient.connect(ddpUrl(server.port));
    clients.push(client);
    await client.subscribe('presentations');
    const outcome = await client.call('presentations.add', { title: 'via session pooler' });
    assert.equal(outcome.error, undefined);
    assert.ok([...client.view('presentations').values()].some((d) => d.title === 'via session pooler'));
  });

  it('pgrt doctor fails a transaction-mode pooler on the listen URL and passes a direct one', async () => {
    const url = transaction.url(dbName(database));
    const target = { channel: 'pgrt_changes', capture: 'outbox' } as const;
    const wrong = await runChecks(url, undefined, target, () => {});
    const listen = wrong.find((c) => c.name === 'listen connection');
    assert.equal(listen?.verdict, 'FAIL');
    assert.match(listen?.detail ?? '', /listenDatabaseUrl/);

    const right = await runChecks(url, undefined, { ...target, listenUrl: database.url }, () => {});
    const byName = new Map(right.map((c) => [c.name, c]));
    assert.equal(byName.get('listen connection')?.verdict, 'ok');
    assert.match(byName.get('query connection')?.detail ?? '', /transaction-mode pooler/);
    assert.equal(byName.get('LISTEN/NOTIFY')?.verdict, 'ok', byName.get('LISTEN/NOTIFY')?.detail);
    assert.deepEqual(
      right.filter((c) => c.verdict === 'FAIL'),
      [],
    );
  });
});

function dbName(database: TestDatabase): string {
  return new URL(database.url).pathname.slice(1);
}
