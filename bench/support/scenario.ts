/**
 * The frame of a scenario script: parse the shared knobs, prepare the database, pin this process, start the
 * server under test, run, and always stop the server, even on failure or SIGINT/SIGTERM.
 *
 * Knobs (env): `BENCH_SECONDS` (length of each timed phase, default 5), `BENCH_QUICK=1` (shorter phases and
 * smaller counts, for trying the scripts out), `BENCH_PIN=0` (no CPU pinning).
 */
import pg from 'pg';
import { BENCH_TABLES_SQL } from './bench-app.js';
import { databaseUrl, ensureDatabase, pinSelf } from './environment.js';
import { progress } from './measure.js';
import { type ServerProcess, type ServerProcessOptions, startServerProcess } from './server-process.js';

/** Shared knobs of every scenario. */
export interface Knobs {
  /** Length of a timed phase, seconds. */
  readonly seconds: number;
  /** Shorter runs, smaller counts. */
  readonly quick: boolean;
}

/** The knobs from the environment. */
export function knobs(): Knobs {
  const quick = process.env.BENCH_QUICK === '1';
  const seconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 5));
  return { seconds: Number.isFinite(seconds) && seconds > 0 ? seconds : 5, quick };
}

const servers = new Set<ServerProcess>();

/** Starts a server under test that {@link runScenario} stops at the end. */
export async function startServer(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const server = await startServerProcess(options);
  servers.add(server);
  return server;
}

/** Stops a server started with {@link startServer}. */
export async function stopServer(server: ServerProcess): Promise<void> {
  servers.delete(server);
  await server.close();
}

/**
 * A `pg` client on the bench database: the external writer (like psql). The bench tables exist once it
 * resolves, so it may empty them before the server starts. The caller ends it.
 */
export async function connectWriter(): Promise<pg.Client> {
  const client = new pg.Client(databaseUrl());
  await client.connect();
  await client.query(BENCH_TABLES_SQL);
  return client;
}

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  /**
   * Pin this process (and so the processes it starts) to CPU 0, away from the server under test (default true).
   * False for scenarios without a server under test, whose processes share the machine like a database's clients.
   */
  readonly pin?: boolean;
}

/** Runs a scenario body with the database ready and this process pinned; exits the process when done. */
export function runScenario(
  name: string,
  body: (knobs: Knobs) => Promise<void>,
  options: ScenarioOptions = {},
): void {
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled([...servers].map((server) => server.close()));
    servers.clear();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      const exit = () => process.exit(130);
      stopAll().then(exit, exit);
    });
  }
  const run = async (): Promise<void> => {
    await ensureDatabase();
    const pinned = options.pin !== false && pinSelf();
    progress(name, `start (clients pinned to CPU 0: ${pinned})`);
    await body(knobs());
  };
  run().then(
    async () => {
      await stopAll();
      process.exit(0);
    },
    async (error: unknown) => {
      progress(name, `FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      await stopAll();
      process.exit(1);
    },
  );
}
