import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres.js';

describe('embedded PostgreSQL (the default when no DATABASE_URL is given)', function () {
  this.timeout(60_000);

  it('initialises a data folder, serves a real server with LISTEN/NOTIFY across connections, and stops', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pgrt-embedded-'));
    await chmod(dir, 0o755); // postgres runs as its own user when we are root: it must reach the folder
    const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pgdata'), database: 'demo' });
    const listener = new pg.Client(server.url);
    const writer = new pg.Client(server.url);
    try {
      await listener.connect();
      await writer.connect();
      const received = new Promise<string | undefined>((resolve) =>
        listener.on('notification', (n) => resolve(n.payload)),
      );
      await listener.query('LISTEN demo_channel');
      await writer.query("SELECT pg_notify('demo_channel', 'hello from another connection')");
      assert.equal(await received, 'hello from another connection');
      const { rows } = await writer.query<{ db: string }>('SELECT current_database() AS db');
      assert.equal(rows[0]?.db, 'demo');
    } finally {
      await listener.end().catch(() => {});
      await writer.end().catch(() => {});
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
    // Stopped means stopped: nothing answers on the port any more.
    const probe = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 1000 });
    await assert.rejects(probe.connect());
  });
});
