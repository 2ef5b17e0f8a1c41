/**
 * First deploy: three servers started at once on an EMPTY database (a scratch one) all come up. The app's
 * `migrate(db)` (`CREATE TABLE IF NOT EXISTS`, racy on its own: two concurrent runs fail with a unique violation on
 * `pg_type_typname_nsp_index`) and an app migration set run under the start-up advisory lock, one process after
 * another (issue 17: "three processes started at once on an empty database must not crash").
 */
import assert from 'node:assert/strict';
import type { App } from '../../core/app.js';
import { migratePresentations, presentationsApp } from '../../examples/presentations/app.js';
import { createServer, ddp, type PgrtServer } from '../../server.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/database.js';

describe('first deploy: servers started at once on an empty database', function () {
  this.timeout(30_000);
  let scratch: ScratchDatabase;
  const servers: PgrtServer[] = [];

  before(async () => {
    scratch = await createScratchDatabase('first_deploy');
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    await scratch.drop();
  });

  it('three servers all start; the app migrate and its migration set run once', async () => {
    const app = (): App =>
      presentationsApp().migrations('app', [
        { version: 1, name: 'notes', sql: 'CREATE TABLE deploy_notes (id text PRIMARY KEY, body text)' },
        { version: 2, name: 'seed', sql: "INSERT INTO deploy_notes VALUES ('first', 'seeded once')" },
      ]);
    const results = await Promise.allSettled(
      [0, 1, 2].map(() =>
        createServer({
          app: app(),
          protocols: [ddp()],
          port: 0,
          host: '127.0.0.1',
          databaseUrl: scratch.url,
          migrate: migratePresentations,
        }),
      ),
    );
    for (const result of results) if (result.status === 'fulfilled') servers.push(result.value);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    assert.deepEqual(failures, [], 'no server failed to start');
    assert.ok(servers.every((server) => server.core.ready));
    const seeded = await servers[0]!.db.query('SELECT id FROM deploy_notes');
    assert.equal(seeded.rowCount, 1, 'the seed migration ran once');
    const versions = await servers[0]!.db.query<{ version: number }>(
      "SELECT version FROM pgrt.migrations WHERE set_name = 'app' ORDER BY version",
    );
    assert.deepEqual(
      versions.rows.map((r) => r.version),
      [1, 2],
    );
  });
});
