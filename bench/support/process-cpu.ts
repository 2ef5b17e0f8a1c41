/**
 * CPU time of other processes on this machine, from `/proc` (Linux): the ingest scenario splits the CPU spent per
 * row between the server processes, the PostgreSQL backends (found by `application_name` in `pg_stat_activity`)
 * and the rest of PostgreSQL. Where `/proc` is missing every reading is 0.
 *
 * Readings are the scheduler's exact run time of every thread (`/proc/<pid>/task/<tid>/schedstat`, ns) where the
 * kernel keeps it, else `/proc/<pid>/stat`'s utime + stime. The latter are sampled at the timer tick (this machine:
 * tick accounting, HZ 250): a process that runs often and briefly, like a pump waking on timers and on each
 * message, is charged whole ticks it did not use (or the reverse), which made per-change figures unreliable.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of the `/proc` CPU counters (`getconf CLK_TCK`, usually 100). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The fields of `/proc/<pid>/stat` after the command name, or undefined when the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU ms (user + system, all threads) `pid` has used so far; 0 when it is gone or unknown. */
export function processCpuMs(pid: number): number {
  const exact = runTimeMs(pid);
  if (exact !== undefined) return exact;
  const fields = statFields(pid);
  if (!fields) return 0;
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}

/**
 * The scheduler's run time of `pid`'s threads, in ms (exact; threads that ended are not counted), or undefined where
 * `schedstat` is missing.
 */
function runTimeMs(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
    readFileSync(`/proc/${pid}/schedstat`, 'utf8');
  } catch {
    return undefined;
  }
  let ns = 0;
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

/** The parent of `pid` (undefined when it is gone). */
export function parentPid(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : undefined;
}

/** The direct children of `pid` (empty when unknown). */
export function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text === '' ? [] : text.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}
