/**
 * A private embedded PostgreSQL with `wal_level=logical`, for the `logical` capture mode's suites (the machine's
 * shared server runs with the default `replica`, and changing it needs a restart). Its own temp folder and port;
 * `destroy()` stops it and deletes the folder.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../core/database/embedded-postgres.js';

/** A running logical-decoding-capable server and its database's URL. */
export interface LogicalPostgres {
  readonly url: string;
  destroy(): Promise<void>;
}

/** Initialises and starts a fresh server (a few seconds). */
export async function startLogicalPostgres(database = 'logical'): Promise<LogicalPostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pgrt-logical-'));
  await chmod(dir, 0o755); // postgres runs as the `postgres` user when we are root
  const handle = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'pgdata'),
    database,
    settings: { wal_level: 'logical', max_wal_senders: '10', max_replication_slots: '10' },
  });
  return {
    url: handle.url,
    async destroy() {
      await handle.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
