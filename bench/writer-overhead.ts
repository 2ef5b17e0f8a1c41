/**
 * Writer overhead of change capture (DESIGN.md: the outbox mode keeps ≥ 85% of the baseline insert rate;
 * perf.md §4.2: NOTIFY in the trigger keeps 23–32% with 8 writers, because every notifying commit takes
 * PostgreSQL's cluster-wide notify lock through its WAL flush).
 *
 * pgbench-style single-row INSERTs (autocommit, one row per transaction) into a 5-column table (~180-B
 * payload, as in perf.md §4.2) with 1 and 8 concurrent writers, each for BENCH_SECONDS, under three captures:
 * - `off`: no trigger (the baseline);
 * - `notify`: pgrt's `notify`-mode triggers (pg_notify in the writer's transaction);
 * - `outbox`: pgrt's `outbox`-mode triggers, with an OutboxPump draining the outbox into batched NOTIFYs during
 *   the run (so the pump's cost on the database is included).
 * In both capture modes a LISTEN connection consumes the notifications (as a server's bus would); its count is
 * printed in the progress lines. The writers are `pgbench` (`-n -M prepared`, script `INSERT …`) when it is on
 * PATH, else a pool of Node `pg` clients doing the same. No pgrt server runs: only the database is measured.
 *
 * The three captures run interleaved (off, notify, outbox, off, …) for `BENCH_ROUNDS` rounds (default 3; 1 with
 * BENCH_QUICK=1), so that drift of the shared machine hits all three alike; each figure is the median round.
 *
 * Figures: `inserts_<capture>_<writers>w` (inserts/s) and `<capture>_vs_off_<writers>w` (ratio of the medians; target
 * 0.85 for outbox). Usage: npx tsx bench/writer-overhead.ts [1] [8]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { OutboxPump } from '../core/bus/outbox-pump.js';
import { PgDatabase } from '../core/database/database.js';
import { introspectTable } from '../core/database/introspect.js';
import { type CaptureMode, ensureSchema, installCapture, removeCapture } from '../core/database/schema.js';
import { databaseUrl } from './support/environment.js';
import { progress, report, sleep } from './support/measure.js';
import { type Knobs, runScenario } from './support/scenario.js';

const SCENARIO = 'writer_overhead';
const TABLE = 'bench_writer';
const CHANNEL = 'pgrt_bench_writer';
const INSERT = `INSERT INTO ${TABLE} (a, b, c, d) VALUES (42, 4242, 'the quick brown fox jumps over the lazy dog', now())`;

type Capture = 'off' | CaptureMode;
const CAPTURES: readonly Capture[] = ['off', 'notify', 'outbox'];

const run = promisify(execFile);

async function hasPgbench(): Promise<boolean> {
  try {
    await run('pgbench', ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Inserts/s of `writers` pgbench clients for `seconds`. */
async function pgbenchRate(url: string, writers: number, seconds: number, script: string): Promise<number> {
  const { stdout } = await run(
    'pgbench',
    [
      '-n',
      '-M',
      'prepared',
      '-c',
      String(writers),
      '-j',
      String(writers),
      '-T',
      String(seconds),
      '-f',
      script,
      url,
    ],
    { maxBuffer: 1 << 20 },
  );
  const match =
    /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(stdout);
  if (!match) throw new Error(`cannot read pgbench's tps from: ${stdout}`);
  return Number(match[1]);
}

/** Inserts/s of `writers` Node clients for `seconds` (when pgbench is missing). */
async function nodeRate(url: string, writers: number, seconds: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: writers }, async () => {
      const client = new pg.Client(url);
      await client.connect();
      return client;
    }),
  );
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        await client.query({ name: 'bench_writer_insert', text: INSERT });
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return count / elapsed;
}

async function measure(knobs: Knobs, writersList: readonly number[]): Promise<void> {
  const url = databaseUrl();
  const db = new PgDatabase(url, { poolSize: 2 });
  const usePgbench = await hasPgbench();
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const script = join(mkdtempSync(join(tmpdir(), 'pgrt-bench-')), 'insert.sql');
  writeFileSync(script, `${INSERT};\n`);
  const listener = new pg.Client(url);
  try {
    await ensureSchema(db);
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${TABLE} (id bigserial PRIMARY KEY, a int, b int, c text, d timestamptz)`,
    );
    const table = await introspectTable(db, TABLE);
    await listener.connect();
    let heard = 0;
    listener.on('notification', () => {
      heard++;
    });
    await listener.query(`LISTEN ${CHANNEL}`);
    const seconds = knobs.seconds;
    progress(SCENARIO, `writers: ${usePgbench ? 'pgbench' : 'node pg pool'}, ${seconds} s per case`);
    const rounds = Number(process.env.BENCH_ROUNDS ?? (knobs.quick ? 1 : 3));
    for (const writers of writersList) {
      const samples = new Map<Capture, number[]>(CAPTURES.map((c) => [c, []]));
      for (let round = 0; round < rounds; round++) {
        for (const capture of CAPTURES) {
          await db.query(`TRUNCATE ${TABLE}`);
          if (capture === 'off') await removeCapture(db, table);
          else await installCapture(db, table, { channel: CHANNEL, mode: capture });
          const pump =
            capture === 'outbox'
              ? new OutboxPump(db, { retentionMs: 1000, gcIntervalMs: 1000, electionIntervalMs: 200 })
              : undefined;
          pump?.start();
          await db.query('CHECKPOINT').catch(() => {}); // needs superuser or pg_checkpoint; best effort
          await sleep(300);
          heard = 0;
          const rate = usePgbench
            ? await pgbenchRate(url, writers, seconds, script)
            : await nodeRate(url, writers, seconds);
          await sleep(200);
          progress(
            SCENARIO,
            `round ${round + 1}: ${capture} ${writers}w: ${Math.round(rate)} inserts/s; notifications heard ${heard}` +
              (pump ? ` (pump led: ${pump.leading}, sent ${pump.sent})` : ''),
          );
          await pump?.close();
          samples.get(capture)?.push(rate);
        }
      }
      const rates = new Map<Capture, number>();
      for (const capture of CAPTURES) {
        const rate = median(samples.get(capture) ?? []);
        rates.set(capture, rate);
        report({
          scenario: SCENARIO,
          metric: `inserts_${capture}_${writers}w`,
          value: rate,
          unit: 'inserts/s',
          target: null,
          better: 'higher',
          note: `${writers} writer(s), single-row autocommit INSERT, ${usePgbench ? 'pgbench' : 'node pool'}, median of ${rounds} × ${seconds} s: ${(samples.get(capture) ?? []).map(Math.round).join(' / ')}`,
        });
      }
      const baseline = rates.get('off') ?? Number.NaN;
      for (const capture of ['notify', 'outbox'] as const) {
        report({
          scenario: SCENARIO,
          metric: `${capture}_vs_off_${writers}w`,
          value: (rates.get(capture) ?? Number.NaN) / baseline,
          unit: 'ratio',
          target: capture === 'outbox' ? 0.85 : null,
          better: 'higher',
          note: `inserts/s with ${capture} capture ÷ without, ${writers} writer(s)`,
        });
      }
    }
    await removeCapture(db, table);
  } finally {
    await listener.end().catch(() => {});
    await db.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const requested = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => Number.isInteger(n) && n > 0);
runScenario(SCENARIO, (knobs) => measure(knobs, requested.length > 0 ? requested : [1, 8]));
