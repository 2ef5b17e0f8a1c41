/**
 * bench/writer-overhead.ts's view of where time goes during a case: `pg_stat_activity` wait events of the writers
 * (pgbench) and the pump's backend, sampled every {@link WAIT_SAMPLE_MS} ms, the WAL written per insert and the
 * machine's CPU utilisation (/proc/stat) over the case.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { sleep } from './measure.js';

/**
 * Busy, stolen and total jiffies of the whole machine (/proc/stat), for its CPU use during a case. Busy excludes
 * steal (time the hypervisor gave to other guests: on this shared machine up to a third).
 */
function machineCpu(): { busy: number; steal: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const steal = fields[7] ?? 0;
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0) - steal, steal, total };
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
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
  #walBytes = 0;
  #cpu = { busy: 0, steal: 0, total: 0 };

  constructor(url: string) {
    this.#client = new pg.Client(url);
  }

  async start(): Promise<void> {
    await this.#client.connect();
    this.#walBytes = await this.#wal();
    this.#cpu = machineCpu();
    this.#running = true;
    this.#loop = this.#sample();
  }

  async #wal(): Promise<number> {
    const result = await this.#client.query<{ bytes: string }>(
      'SELECT wal_bytes::text AS bytes FROM pg_stat_wal',
    );
    return Number(result.rows[0]?.bytes ?? 0);
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
    const walPerInsert = ((await this.#wal()) - this.#walBytes) / Math.max(1, inserts);
    await this.#client.end();
    const parts = [...this.#counts].map(([who, counts]) => {
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
      const top = [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([event, n]) => `${event} ${Math.round((100 * n) / total)}%`);
      return `${who} [${top.join(', ')}]`;
    });
    const span = cpu.total - this.#cpu.total;
    const busy = span > 0 ? (cpu.busy - this.#cpu.busy) / span : 0;
    const steal = span > 0 ? (cpu.steal - this.#cpu.steal) / span : 0;
    // jiffies → µs: /proc/stat counts USER_HZ (100/s on Linux).
    const perInsert = ((cpu.busy - this.#cpu.busy) * 10_000) / Math.max(1, inserts);
    return (
      `waits ${parts.join('; ')}; WAL ${Math.round(walPerInsert)} B/insert; machine CPU busy ${Math.round(100 * busy)}% ` +
      `(stolen ${Math.round(100 * steal)}%), ${Math.round(perInsert)} µs per insert`
    );
  }
}

/** Interval of {@link WaitSampler}'s samples, ms. */
const WAIT_SAMPLE_MS = 20;
