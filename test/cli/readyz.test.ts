/**
 * `/readyz` follows the database: 200 while it answers, 503 once the database is gone (the server's own throwaway
 * database is dropped WITH (FORCE), which ends its connections and refuses reconnects), while `/healthz` keeps
 * answering 200 (the process is alive). On the PostgreSQL bus the LISTEN connection says it; on the NATS bus, which
 * stays up, the database probe does (core/database/database-probe.ts), and the 503 names the database and why.
 * Other suites' databases are untouched.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Logger } from '../../core/logger.js';
import { createServer, type PgrtServer } from '../../server.js';
import { deleteStream, testNatsUrl, testStreamName } from '../fixtures/nats.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';
import { app, migrate } from './fixtures/notes-app.js';

/** A logger that keeps the messages of warnings (the LISTEN connection's failed reconnects). */
function warningsLogger(warnings: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (_fields: object, message?: string) => {
      warnings.push(message ?? '');
    },
    error: () => {},
    child: () => logger,
  };
  return logger;
}

for (const bus of ['postgres', 'nats'] as const) {
  describe(`/readyz when the database goes away (${bus} bus)`, function () {
    this.timeout(30_000);
    const name = `pgrt_readyz_${bus}_${process.pid}`;
    const nats = bus === 'nats' ? { url: testNatsUrl(), stream: testStreamName() } : undefined;
    let admin: pg.Client;
    let server: PgrtServer | undefined;
    const warnings: string[] = [];

    before(async () => {
      const adminUrl = new URL(testDatabaseUrl());
      adminUrl.pathname = '/postgres';
      admin = new pg.Client(adminUrl.toString());
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(testDatabaseUrl());
      url.pathname = `/${name}`;
      server = await createServer({
        app,
        migrate,
        port: 0,
        host: '127.0.0.1',
        databaseUrl: url.toString(),
        logger: warningsLogger(warnings),
        ...(nats
          ? {
              capture: 'outbox' as const,
              bus: 'nats' as const,
              natsUrl: nats.url,
              natsStream: nats.stream,
              databaseProbeIntervalMs: 200,
            }
          : {}),
      });
    });

    after(async () => {
      await server?.close();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
      if (nats) await deleteStream(nats.url, nats.stream);
    });

    it('answers 200, then 503 with the reason once the database is dropped; /healthz stays 200', async () => {
      assert.ok(server);
      const get = async (path: string): Promise<string> => {
        const response = await fetch(`${server!.url}${path}`);
        return `${response.status} ${(await response.text()).trim()}`;
      };
      assert.equal(await get('/readyz'), '200 ready');
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await waitUntil(async () => (await get('/readyz')).startsWith('503'), {
        timeoutMs: 10_000,
        what: () => '/readyz 503',
      });
      const body = await get('/readyz');
      assert.match(body, /^503 not ready: database unreachable/);
      if (nats) assert.match(body, new RegExp(`database "${name}" does not exist|terminat|connect`));
      assert.match(await get('/healthz'), /^200/);
      // It stays unready once a fresh connection was tried and refused: on the PostgreSQL bus a LISTEN reconnect
      // failed (logged); on the NATS bus a probe's new connection names the missing database.
      await waitUntil(
        async () =>
          nats
            ? (await get('/readyz')).includes(`database "${name}" does not exist`)
            : warnings.includes('LISTEN reconnect failed'),
        { timeoutMs: 10_000, what: () => `a failed reconnect (warnings: ${warnings.join('; ')})` },
      );
      assert.match(await get('/readyz'), /^503 not ready: database unreachable/);
    });
  });
}
