/**
 * bench/writer-overhead.ts's view of where time goes during a case: `pg_stat_activity` wait events of the writers
 * (pgbench) and the pump's backend, sampled every {@link WAIT_SAMPLE_MS} ms, the WAL written per insert, the WAL
 * flushes (fsyncs: how many inserts each commit flush carried) and the CPU utilisation (/proc/stat) of the machine and
 * of each core (the writers' and the rest's, when pinned) over the case.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { sleep } from './measure.js';

/** Jiffies of one /proc/stat line: busy (user + nice + system + irq + softirq), system alone, stolen, total. */
interface CpuJiffies {
  busy: number;
  system: number;
  steal: number;
  total: number;
}

const NO_JIFFIES: CpuJiffies = { busy: 0, system: 0, steal: 0, total: 0 };

/**
 * The machine's CPU use (/proc/stat): the whole machine (`cpu`) and each CPU (`cpu0`, `cpu1`, …), so that a case
 * shows whether the writers' core or the rest's is the one saturated. Busy excludes steal (time the hypervisor gave
 * to other guests: on this shared machine up to a third) and iowait.
 */
function machineCpu(): Map<string, CpuJiffies> {
  const cpus = new Map<string, CpuJiffies>();
  try {
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      if (!line.startsWith('cpu')) continue;
      const [name, ...rest] = line.trim().split(/\s+/);
      const fields = rest.map(Number);
      const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
      const steal = fields[7] ?? 0;
      const system = (fields[2] ?? 0) + (fields[5] ?? 0) + (fields[6] ?? 0);
      cpus.set(name!, { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0) - steal, system, steal, total });
    }
  } catch {
    // no /proc: every reading stays 0
  }
  return cpus;
}

/** One CPU's (or the machine's) shares of its time busy, in the kernel and stolen between two readings. */
function cpuShare(before: CpuJiffies, after: CpuJiffies): { busy: number; system: number; steal: number } {
  const span = after.total - before.total;
  if (span <= 0) return { busy: 0, system: 0, steal: 0 };
  return {
    busy: (after.busy - before.busy) / span,
    system: (after.system - before.system) / span,
    steal: (after.steal - before.steal) / span,
  };
}

/**
 * Where the writers and the pump spend their time while the writers run: samples `pg_stat_activity` every
 * {@link WAIT_SAMPLE_MS} (wait event, or `CPU` when active and not waiting), plus the WAL written per insert
 * (`pg_stat_wal`) and the machine's CPU utilisation. Diagnostics for splitting the capture's cost.
 */
export class WaitSampler {
  readonly #client: pg.Client;
  readonly #counts = new Map<string, Map<string, number>>();
  readonly #samples = new Map<string, number>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wal0: WalCounters = { bytes: 0, syncs: 0 };
  /** The server's `server_version_num`. */
  #version = 0;
  #cpu = new Map<string, CpuJiffies>();

  constructor(url: string) {
    this.#client = new pg.Client(url);
  }

  async start(): Promise<void> {
    await this.#client.connect();
    const version = await this.#client.query<{ v: string }>(
      "SELECT current_setting('server_version_num') AS v",
    );
    this.#version = Number(version.rows[0]?.v ?? 0);
    this.#wal0 = await this.#wal();
    this.#cpu = machineCpu();
    this.#running = true;
    this.#loop = this.#sample();
  }

  /**
   * WAL bytes written and WAL flushes (fsyncs) so far, cluster-wide: `pg_stat_wal`, and the flushes from `pg_stat_io`
   * (PostgreSQL 18, the embedded servers) or `pg_stat_wal.wal_sync` (before).
   */
  async #wal(): Promise<WalCounters> {
    const result = await this.#client.query<{ bytes: string; syncs: string }>(
      this.#version >= 180000
        ? `SELECT w.wal_bytes::text AS bytes,
                  (SELECT coalesce(sum(fsyncs), 0) FROM pg_stat_io WHERE object = 'wal')::text AS syncs FROM pg_stat_wal w`
        : 'SELECT wal_bytes::text AS bytes, wal_sync::text AS syncs FROM pg_stat_wal',
    );
    return { bytes: Number(result.rows[0]?.bytes ?? 0), syncs: Number(result.rows[0]?.syncs ?? 0) };
  }

  async #sample(): Promise<void> {
    while (this.#running) {
      const result = await this.#client.query<{ who: string; event: string }>(
        `SELECT CASE WHEN application_name = 'pgbench' THEN 'writers' ELSE application_name END AS who,
                coalesce(wait_event_type || ':' || wait_event, CASE WHEN state = 'active' THEN 'CPU' ELSE state END) AS event
           FROM pg_stat_activity WHERE application_name IN ('pgbench', 'pgrt-pump') AND pid <> pg_backend_pid()`,
      );
      const seen = new Set<string>();
      for (const { who, event } of result.rows) {
        const counts = this.#counts.get(who) ?? new Map<string, number>();
        this.#counts.set(who, counts);
        counts.set(event, (counts.get(event) ?? 0) + 1);
        if (!seen.has(who)) this.#samples.set(who, (this.#samples.get(who) ?? 0) + 1);
        seen.add(who);
      }
      await sleep(WAIT_SAMPLE_MS);
    }
  }

  /** Stops sampling; a one-line summary (`inserts` = inserts made while sampling, for the WAL per insert). */
  async stop(inserts: number): Promise<string> {
    this.#running = false;
    await this.#loop;
    const cpu = machineCpu();
    const wal = await this.#wal();
    const walPerInsert = (wal.bytes - this.#wal0.bytes) / Math.max(1, inserts);
    const syncs = wal.syncs - this.#wal0.syncs;
    await this.#client.end();
    const parts = [...this.#counts].map(([who, counts]) => {
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      const top = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([event, n]) => `${event} ${Math.round((100 * n) / total)}%`);
      return `${who} [${top.join(', ')}]`;
    });
    const all = cpuShare(this.#cpu.get('cpu') ?? NO_JIFFIES, cpu.get('cpu') ?? NO_JIFFIES);
    const perCpu = [...cpu]
      .filter(([name]) => name !== 'cpu')
      .map(([name, after]) => {
        const share = cpuShare(this.#cpu.get(name) ?? NO_JIFFIES, after);
        return `${name} ${Math.round(100 * share.busy)}% (sys ${Math.round(100 * share.system)}%)`;
      });
    // jiffies → µs: /proc/stat counts USER_HZ (100/s on Linux).
    const busyJiffies = (cpu.get('cpu')?.busy ?? 0) - (this.#cpu.get('cpu')?.busy ?? 0);
    const perInsert = (busyJiffies * 10_000) / Math.max(1, inserts);
    return (
      `waits ${parts.join('; ')}; WAL ${Math.round(walPerInsert)} B/insert, ${syncs} flushes ` +
      `(${(inserts / Math.max(1, syncs)).toFixed(1)} inserts each); machine CPU busy ${Math.round(100 * all.busy)}% ` +
      `(stolen ${Math.round(100 * all.steal)}%; ${perCpu.join(', ')}), ${Math.round(perInsert)} µs per insert`
    );
  }
}

/** Cluster-wide WAL counters (`pg_stat_wal`). */
interface WalCounters {
  bytes: number;
  syncs: number;
}

/** Interval of {@link WaitSampler}'s samples, ms. */
const WAIT_SAMPLE_MS = 20;
