/**
 * A private embedded PostgreSQL for the fault and ingest scenarios: its own temp folder (chmod 0755, since
 * postgres runs as the `postgres` user when we are root) and port, so stopping and restarting it disturbs nothing
 * else on the machine. `stop()`/`start()` restart it on the same port, data folder and settings. It runs with
 * `wal_level=logical`, so every capture mode (`logical` included) runs on it.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  type EmbeddedPostgresHandle,
  freePort,
  startEmbeddedPostgres,
} from '../../core/database/embedded-postgres.js';

/** Settings of every start: logical decoding possible (capture mode `logical`; the other modes do not care). */
const SETTINGS: Readonly<Record<string, string>> = { wal_level: 'logical' };

/** A private PostgreSQL server a scenario may stop and start. */
export class FaultPostgres {
  #handle: EmbeddedPostgresHandle | undefined;

  private constructor(
    readonly dir: string,
    readonly port: number,
    /** URL of database `bench` (stable across restarts). */
    readonly url: string,
    handle: EmbeddedPostgresHandle,
  ) {
    this.#handle = handle;
  }

  /** Initialises and starts a fresh server. */
  static async create(): Promise<FaultPostgres> {
    const dir = await mkdtemp(path.join(tmpdir(), 'pgrt-bench-faults-'));
    await chmod(dir, 0o755);
    const port = await freePort();
    const handle = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'pgdata'),
      port,
      database: 'bench',
      settings: SETTINGS,
    });
    return new FaultPostgres(dir, port, handle.url, handle);
  }

  /** Fast shutdown; resolves once the postmaster exited. */
  async stop(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.stop();
  }

  /** Starts again on the same port, data folder and settings (a logical slot needs `wal_level=logical` to start). */
  async start(): Promise<void> {
    if (this.#handle) return;
    this.#handle = await startEmbeddedPostgres({
      dataDir: path.join(this.dir, 'pgdata'),
      port: this.port,
      database: 'bench',
      settings: SETTINGS,
    });
  }

  /** Stops for good and deletes the folder. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
