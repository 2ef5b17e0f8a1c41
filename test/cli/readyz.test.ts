/**
 * `/readyz` follows the database: 200 while the LISTEN connection is up, 503 once the database is gone (the
 * server's own throwaway database is dropped WITH (FORCE), which ends its connections and refuses reconnects),
 * while `/healthz` keeps answering 200 (the process is alive). Other suites' databases are untouched.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { createServer, type PgrtServer } from '../../server.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';
import { app, migrate } from './fixtures/notes-app.js';

describe('/readyz when the database goes away', function () {
  this.timeout(30_000);
  const name = `pgrt_readyz_${process.pid}`;
  let admin: pg.Client;
  let server: PgrtServer | undefined;

  before(async () => {
    const adminUrl = new URL(testDatabaseUrl());
    adminUrl.pathname = '/postgres';
    admin = new pg.Client(adminUrl.toString());
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(testDatabaseUrl());
    url.pathname = `/${name}`;
    server = await createServer({ app, migrate, port: 0, host: '127.0.0.1', databaseUrl: url.toString() });
  });

  after(async () => {
    await server?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('answers 200, then 503 once the database is dropped; /healthz stays 200', async () => {
    assert.ok(server);
    const status = async (path: string): Promise<number> => (await fetch(`${server!.url}${path}`)).status;
    assert.equal(await status('/readyz'), 200);
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await waitUntil(async () => (await status('/readyz')) === 503, {
      timeoutMs: 10_000,
      what: () => '/readyz 503',
    });
    assert.equal(await status('/healthz'), 200);
    // It stays unready: the reconnect keeps failing while the database is gone.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await status('/readyz'), 503);
  });
});
