/**
 * First deploy: several processes started at once on an EMPTY database all come up. The app's migration
 * (`CREATE TABLE IF NOT EXISTS presentations …`) runs under pgrt's DDL advisory lock, as pgrt's own schema does;
 * outside it, two racing `CREATE TABLE IF NOT EXISTS` fail with a unique violation on `pg_type` and the
 * process exits (issue 17).
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { createTestDatabase } from '../support/database.js';

const PROCESSES = 3;
const ROUNDS = 3;

describe('first deploy on an empty database', function () {
  this.timeout(60_000);

  it(`${PROCESSES} servers started at once all come up (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const database = await createTestDatabase(`pgrt_test_${process.pid}_first_${round}`);
      try {
        const started = await Promise.allSettled(
          Array.from({ length: PROCESSES }, () =>
            createServer({
              app: presentationsApp(),
              protocols: [ddp()],
              port: 0,
              host: '127.0.0.1',
              databaseUrl: database.url,
              migrate: migratePresentations,
            }),
          ),
        );
        const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const failures = started.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
        await Promise.all(servers.map((s: PgrtServer) => s.close()));
        assert.deepEqual(failures, [], `round ${round}: every server starts`);
        const client = new pg.Client(database.url);
        await client.connect();
        const triggers = await client.query(
          "SELECT tgname FROM pg_trigger WHERE tgrelid = 'presentations'::regclass AND NOT tgisinternal",
        );
        await client.end();
        assert.equal(triggers.rowCount, 2, 'the table is created once and captured');
      } finally {
        await database.drop();
      }
    }
  });
});
