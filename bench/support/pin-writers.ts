/**
 * "Writers as if the database had its own host" (issue 16 item 3), for bench/writer-overhead.ts: the writers'
 * PostgreSQL backends run on one core, everything else on the other — the postmaster and its other children
 * (walwriter, checkpointer, the walsender, the pump's backend), the pump process, the load generator (pgbench) and
 * the bench process. Backends inherit the postmaster's affinity, so the postmaster, its children and this process
 * (hence pgbench and the forked pump) go to the "rest" core first; while writers run, their backends
 * (`application_name` pgbench, found in `pg_stat_activity`) are moved to the writers' core as they appear
 * (`taskset -p`). No-op when pinning is off (`BENCH_PIN=0`, no taskset, one CPU).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { pin, pinningEnabled, serverCpu } from './environment.js';

/** The writers' core (0) and everything else's (the last). */
export const WRITERS_CPU = 0;
export const REST_CPU = serverCpu();

/** Pins a private server's postmaster and every process it has forked so far to the "rest" core. */
export function pinServerRest(dataDir: string): boolean {
  if (!pinningEnabled()) return false;
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);
  for (const pid of [postmaster, ...children]) pin(pid, REST_CPU);
  return true;
}

/** Pins this process (and so what it spawns from now on: pgbench, the pump) to the "rest" core. */
export function pinSelfRest(): boolean {
  return pin(process.pid, REST_CPU);
}

/**
 * While the writers run: moves each new pgbench backend of `url`'s server to the writers' core, polling every
 * 10 ms. `stop()` resolves how many backends were moved.
 */
export function pinWriterBackends(url: string): { stop(): Promise<number> } {
  if (!pinningEnabled()) return { stop: async () => 0 };
  const client = new pg.Client({ connectionString: url, application_name: 'pgrt-bench-pinner' });
  const moved = new Set<number>();
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      const rows = await client.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'",
      );
      for (const { pid } of rows.rows) {
        if (moved.has(pid)) continue;
        if (pin(pid, WRITERS_CPU)) moved.add(pid);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => {});
      await client.end().catch(() => {});
      return moved.size;
    },
  };
}
