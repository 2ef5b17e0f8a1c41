/**
 * Where the benchmarks run: the database (env `DATABASE_URL`, else `pgrt_bench` on the local PostgreSQL,
 * created if missing) and CPU pinning (perf.md §5: the server on one core, load generators on the other).
 *
 * Pinning uses `taskset` when it exists and the machine has at least 2 CPUs; `BENCH_PIN=0` turns it off.
 * The server process goes to the last CPU, the scenario (clients, writer) to CPU 0. PostgreSQL is not
 * pinned (it is not ours), so it floats, mostly onto the less busy core.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import pg from 'pg';

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const BENCH_DATABASE = 'pgrt_bench';

/** The database URL the server and the scenario's writer share. */
export function databaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const url = new URL(process.env.BENCH_ADMIN_URL ?? DEFAULT_ADMIN_URL);
  url.pathname = `/${BENCH_DATABASE}`;
  return url.toString();
}

/** Creates `pgrt_bench` when `DATABASE_URL` is unset and it does not exist yet. */
export async function ensureDatabase(): Promise<void> {
  if (process.env.DATABASE_URL) return;
  const admin = new pg.Client(process.env.BENCH_ADMIN_URL ?? DEFAULT_ADMIN_URL);
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [BENCH_DATABASE]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  } catch (error) {
    // Two scenarios racing to create it: the loser sees a duplicate; anything else is real.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await admin.end();
  }
}

let tasksetChecked: boolean | undefined;

/** True when processes are pinned (taskset present, ≥ 2 CPUs, BENCH_PIN not 0). */
export function pinningEnabled(): boolean {
  if (process.env.BENCH_PIN === '0' || cpuCount() < 2) return false;
  if (tasksetChecked === undefined) {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' });
      tasksetChecked = true;
    } catch {
      tasksetChecked = false;
    }
  }
  return tasksetChecked;
}

/** The CPU the server under test is pinned to. */
export function serverCpu(): number {
  return cpuCount() - 1;
}

// The machine's CPUs, not this process's affinity (availableParallelism() shrinks once we pin ourselves).
function cpuCount(): number {
  return cpus().length;
}

/** Pins every thread of `pid` to `cpu` (no-op when pinning is off). Returns whether it did. */
export function pin(pid: number, cpu: number): boolean {
  if (!pinningEnabled()) return false;
  try {
    execFileSync('taskset', ['-a', '-c', '-p', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins the calling process (clients, writer) to CPU 0. */
export function pinSelf(): boolean {
  return pin(process.pid, 0);
}
