/**
 * Faults, long versions (the short ones are test/faults/): two server processes on a PRIVATE embedded PostgreSQL,
 * an external writer inserting, updating and deleting through its own reconnecting pool, one recording DDP client
 * per process; faults repeated for `BENCH_FAULT_SECONDS` (default 30; 8 with BENCH_QUICK=1) per kind and capture
 * mode:
 * - `pg_restart`: PostgreSQL stopped (fast shutdown) and started again, every 6 s;
 * - `pg_down_10s`: PostgreSQL unreachable (stopped) for 10 s, then started, once per 20 s;
 * - `listener_kill`: every process's LISTEN backend terminated, every 2 s;
 * - `pump_kill` (outbox and logical modes): the process holding the pump SIGKILLed every 6 s, then started again
 *   (its client is replaced by a fresh one); in logical mode its replication stream dies with it.
 * The PostgreSQL runs with `wal_level=logical` whatever the mode (bench/support/fault-postgres.ts).
 * After each kind the writer stops and every live client is compared with the table. Figures (JSON lines):
 * `<mode>_<kind>_lost|extra|stale|duplicated` (expected 0), `_crashed` (server processes that died on their own),
 * `_recovery_p50|max_ms` (fault end → every process's /readyz 200, or the pump taken over), `_converge_ms`.
 *
 * Usage: npx tsx bench/faults.ts [notify|outbox|logical] [pg_restart|pg_down_10s|listener_kill|pump_kill]
 * (no mode: all three; no kind: all four, `pump_kill` only where there is a pump)
 */
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PUMP_LOCK_KEY } from '../core/capture/outbox-pump.js';
import { ViewClient } from './support/fault-client.js';
import { FaultPostgres } from './support/fault-postgres.js';
import { now, progress, report, Samples, sleep } from './support/measure.js';
import { type Knobs, runScenario } from './support/scenario.js';
import { type ServerProcess, startServerProcess } from './support/server-process.js';

const SCENARIO = 'faults';
const MODES = ['notify', 'outbox', 'logical'] as const;
const KINDS = ['pg_restart', 'pg_down_10s', 'listener_kill', 'pump_kill'] as const;
type Mode = (typeof MODES)[number];
type Kind = (typeof KINDS)[number];
const SCRIPT = fileURLToPath(new URL('./support/fault-server.ts', import.meta.url));

/** One server process, its client, and whether the scenario killed it on purpose. */
interface Member {
  readonly name: string;
  server: ServerProcess;
  client: ViewClient;
  alive: () => boolean;
}

/** External writer on its own reconnecting pool (keeps going, counting failures, while the database is away). */
function startWriter(url: string, prefix: string): { stop: () => Promise<{ ok: number; failed: number }> } {
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2000 });
  pool.on('error', () => {});
  const stats = { ok: 0, failed: 0 };
  let stopped = false;
  const exec = async (text: string, values: unknown[]): Promise<void> => {
    try {
      await pool.query(text, values);
      stats.ok++;
    } catch {
      stats.failed++;
      await sleep(50);
    }
  };
  const loop = (async () => {
    for (let n = 1; !stopped; n++) {
      await exec('INSERT INTO bench_fault (id, n, v) VALUES ($1, $2, $3)', [`${prefix}-${n}`, n, 'sql']);
      if (n % 3 === 0) await exec('UPDATE bench_fault SET n = -n WHERE id = $1', [`${prefix}-${n - 1}`]);
      if (n % 5 === 0) await exec('DELETE FROM bench_fault WHERE id = $1', [`${prefix}-${n - 3}`]);
      await sleep(2);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await pool.end().catch(() => {});
      return stats;
    },
  };
}

async function readyz(port: number): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

async function allReady(members: readonly Member[]): Promise<boolean> {
  const codes = await Promise.all(members.map((m) => readyz(m.server.port)));
  return codes.every((c) => c === 200);
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return false;
}

async function startMember(db: FaultPostgres, mode: Mode, name: string): Promise<Member> {
  // Not registered with the scenario frame: a SIGKILLed process must not be asked to close.
  const server = await startServerProcess({
    script: SCRIPT,
    env: {
      BENCH_DATABASE_URL: db.url,
      BENCH_CAPTURE: mode,
      BENCH_PUMP_NAME: `pump-${name}`,
      BENCH_ELECTION_MS: '500',
    },
  });
  const client = await ViewClient.open(server.url, 'fault');
  const alive = () => {
    try {
      process.kill(server.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return { name, server, client, alive };
}

async function queryOne<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function pumpHolder(url: string): Promise<string | undefined> {
  const rows = await queryOne<{ name: string }>(
    url,
    `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::int8 << 32) | l.objid::int8) = $1::int8`,
    [PUMP_LOCK_KEY],
  ).catch(() => []);
  return rows[0]?.name;
}

/** Runs one fault kind in one mode; prints its figures. */
async function runKind(mode: Mode, kind: Kind, seconds: number): Promise<void> {
  const label = `${mode}_${kind}`;
  progress(SCENARIO, `${label}: ${seconds} s`);
  const db = await FaultPostgres.create();
  const members: Member[] = [];
  const killed = new Set<ServerProcess>();
  const everyone: ServerProcess[] = [];
  const recovery = new Samples();
  let faults = 0;
  try {
    for (const name of ['a', 'b']) {
      const member = await startMember(db, mode, name);
      members.push(member);
      everyone.push(member.server);
    }
    const writer = startWriter(db.url, label);
    const end = now() + seconds * 1000;
    let writes = { ok: 0, failed: 0 };
    try {
      await sleep(500);
      while (now() < end) {
        faults++;
        if (kind === 'pg_restart' || kind === 'pg_down_10s') {
          await db.stop();
          if (kind === 'pg_down_10s') await sleep(10_000);
          const started = now();
          await db.start();
          if (await until(() => allReady(members), 30_000)) recovery.add(now() - started);
          await sleep(Math.max(0, (kind === 'pg_restart' ? 6000 : 20_000) - (now() - started)));
        } else if (kind === 'listener_kill') {
          const started = now();
          await queryOne(
            db.url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgrt-listen'",
          );
          const back = await until(async () => {
            const rows = await queryOne<{ n: string }>(
              db.url,
              "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'pgrt-listen'",
            );
            return Number(rows[0]?.n) === members.length && (await allReady(members));
          }, 30_000);
          if (back) recovery.add(now() - started);
          await sleep(2000);
        } else {
          const holder = await pumpHolder(db.url);
          const victim = members.find((m) => `pump-${m.name}` === holder);
          if (!victim) {
            await sleep(500);
            continue;
          }
          const started = now();
          killed.add(victim.server);
          process.kill(victim.server.pid, 'SIGKILL');
          const taken = await until(async () => {
            const next = await pumpHolder(db.url);
            return next !== undefined && next !== holder;
          }, 30_000);
          if (taken) recovery.add(now() - started);
          // Bring the killed process back (a supervisor would), with a fresh client.
          victim.client.ddp.close();
          const fresh = await startMember(db, mode, victim.name);
          everyone.push(fresh.server);
          members[members.indexOf(victim)] = fresh;
          await sleep(Math.max(0, 6000 - (now() - started)));
        }
      }
    } finally {
      writes = await writer.stop();
    }
    // Convergence: every live client equals the table.
    const started = now();
    let audit = { lost: 0, extra: 0, stale: 0 };
    await until(async () => {
      const rows = await queryOne<{ id: string; n: number; v: string }>(
        db.url,
        'SELECT id, n, v FROM bench_fault',
      );
      const table = new Map(rows.map((r) => [r.id, r]));
      audit = { lost: 0, extra: 0, stale: 0 };
      for (const member of members) {
        for (const [id, row] of table) {
          const doc = member.client.view.get(id);
          if (!doc) audit.lost++;
          else if (doc.n !== row.n || doc.v !== row.v) audit.stale++;
        }
        for (const id of member.client.view.keys()) if (!table.has(id)) audit.extra++;
      }
      return audit.lost + audit.extra + audit.stale === 0;
    }, 30_000);
    const convergeMs = now() - started;
    const duplicated = members.reduce((sum, m) => sum + m.client.duplicates + m.client.unknown, 0);
    const crashed = everyone.filter(
      (s) => !killed.has(s) && !members.some((m) => m.server === s && m.alive()),
    ).length;
    const note = `${faults} faults in ${seconds} s, ${writes.ok} writes ok / ${writes.failed} failed, 2 processes`;
    const figure = (metric: string, value: number, unit: string, target: number | null) =>
      report({
        scenario: SCENARIO,
        metric: `${label}_${metric}`,
        value,
        unit,
        target,
        better: 'lower',
        note,
      });
    figure('lost', audit.lost, 'changes', 0);
    figure('extra', audit.extra, 'docs', 0);
    figure('stale', audit.stale, 'docs', 0);
    figure('duplicated', duplicated, 'messages', 0);
    figure('crashed', crashed, 'processes', 0);
    const [p50, max] = recovery.quantiles(0.5, 1);
    figure('recovery_p50_ms', p50 ?? Number.NaN, 'ms', null);
    figure('recovery_max_ms', max ?? Number.NaN, 'ms', null);
    figure('converge_ms', convergeMs, 'ms', null);
    for (const member of members) member.client.ddp.close();
  } finally {
    for (const member of members) if (member.alive()) await member.server.close().catch(() => {});
    await db.destroy();
  }
}

async function main(knobs: Knobs): Promise<void> {
  const args = process.argv.slice(2);
  const modes = MODES.filter(
    (m) => args.length === 0 || args.includes(m) || !args.some((a) => MODES.includes(a as Mode)),
  );
  const kinds = KINDS.filter((k) => !args.some((a) => KINDS.includes(a as Kind)) || args.includes(k));
  const seconds = Number(process.env.BENCH_FAULT_SECONDS ?? (knobs.quick ? 8 : 30));
  for (const mode of modes) {
    for (const kind of kinds) {
      if (kind === 'pump_kill' && mode === 'notify') continue; // notify mode has no pump
      await runKind(mode, kind, seconds);
    }
  }
}

runScenario(SCENARIO, main);
