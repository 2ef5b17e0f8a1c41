/**
 * `npm run bench`: runs the scenarios one after another, each in its own process (which starts the server
 * under test in another), echoes their JSON lines, and ends with a table of each figure against its
 * DESIGN.md target. Figures are printed, never asserted: the exit code is non-zero only when a scenario
 * itself crashed.
 *
 * Usage: npm run bench [-- rpc latency …] [-- --compare] [-- --write-baseline]
 *   env: BENCH_SECONDS, BENCH_QUICK=1, BENCH_PIN=0, BENCH_OUT=file.json,
 *   BENCH_PEER_DIR (peer, and memory's peer side), BENCH_FOXWAMP_DIR (wamp's fox-wamp side)
 * `--compare`: the run's ratios against bench/baseline.json (support/baseline.ts); exit code 3 when one is worse by
 * more than 10% (and no scenario crashed). `--write-baseline`: stores the run's ratios there, per scenario.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compareWithBaseline, formatComparison, readBaseline, writeBaseline } from './support/baseline.js';
import type { Figure } from './support/measure.js';

const SCENARIOS = [
  'rpc',
  'latency',
  'latency-floor',
  'fanout',
  'fanout-core',
  'idle',
  'memory',
  'reconnect-storm',
  'writer-overhead',
  'wamp',
  'peer',
  'sockjs-flood',
  'supabase',
] as const;
/**
 * Run only when named (`npm run bench -- faults ingest`): long (faults, ingest, capture-latency, rolling-deploy:
 * minutes each at their defaults) or A/B tools (wamp-router).
 */
const ON_REQUEST = [
  'faults',
  'ingest',
  'capture-latency',
  'wamp-router',
  'rolling-deploy',
  'bus-fleet',
] as const;
const SCENARIO_TIMEOUT_MS = 180_000;
const BASELINE_FILE = fileURLToPath(new URL('./baseline.json', import.meta.url));
/** Exit code of `--compare` when a ratio regressed (1 stays for a crashed scenario). */
const EXIT_REGRESSED = 3;
/** Per-scenario deadlines above the default (faults: fault kinds × ~45 s at BENCH_FAULT_SECONDS=30). */
const TIMEOUTS: Readonly<Record<string, number>> = {
  faults: 900_000,
  'rolling-deploy': 900_000, // 300 clients, three restarts of a child process behind HAProxy
  ingest: 300_000,
  'bus-fleet': 1_200_000, // captures (BENCH_CAPTURE) × 2 buses × 4 fleet sizes × (BENCH_SECONDS + start-up, drain)
  'writer-overhead': 600_000, // 5 captures × 2 writer counts × 3 rounds × BENCH_SECONDS, two server start-ups
  'capture-latency': 600_000, // 3 modes × (idle + 2 subscriber counts × 2 rates) × BENCH_SECONDS, three servers
  'latency-floor': 600_000, // 3 subscriber counts × 2 servers × BENCH_ROUNDS (3) × BENCH_SECONDS, 2,000 sockets
  supabase: 300_000, // 2 subscriber counts × 2 protocols × BENCH_ROUNDS (3) × BENCH_SECONDS, then 2 fan-outs
  memory: 600_000, // 3,000 sessions × 1,000 documents on two servers (3 M frames each), peer connections 2 ms apart
};

interface Outcome {
  readonly name: string;
  readonly code: number | null;
  readonly seconds: number;
}

function isFigure(value: unknown): value is Figure {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v.scenario === 'string' && typeof v.metric === 'string' && typeof v.value === 'number';
}

function runOne(name: string, figures: Figure[]): Promise<Outcome> {
  const script = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timeoutMs = TIMEOUTS[name] ?? SCENARIO_TIMEOUT_MS;
    const timer = setTimeout(() => {
      process.stderr.write(`[run] ${name} exceeded ${timeoutMs / 1000} s, stopping it\n`);
      child.kill('SIGTERM');
    }, timeoutMs);
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        process.stdout.write(`${line}\n`);
        try {
          const parsed: unknown = JSON.parse(line);
          if (isFigure(parsed)) figures.push(parsed);
        } catch {
          // Not a figure line; echoed above.
        }
        newline = pending.indexOf('\n');
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (pending) process.stdout.write(`${pending}\n`);
      resolve({ name, code, seconds: (performance.now() - started) / 1000 });
    });
  });
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return value.toFixed(2);
}

function verdict(figure: Figure): string {
  if (figure.target === null) return '';
  const meets = figure.better === 'lower' ? figure.value <= figure.target : figure.value >= figure.target;
  const ratio = figure.target === 0 ? '' : ` (${(figure.value / figure.target).toFixed(2)}×)`;
  return `${meets ? 'meets' : 'MISSES'}${ratio}`;
}

function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [
    f.scenario,
    f.metric,
    formatNumber(f.value),
    f.unit,
    f.target === null ? '—' : `${f.better === 'lower' ? '≤' : '≥'} ${formatNumber(f.target)}`,
    verdict(f),
  ]);
  const header = ['scenario', 'metric', 'value', 'unit', 'target', 'vs target'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const compare = args.includes('--compare');
  const storeBaseline = args.includes('--write-baseline');
  const requested = args.filter((a) => a !== '--compare' && a !== '--write-baseline');
  const known: readonly string[] = [...SCENARIOS, ...ON_REQUEST];
  const unknown = requested.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${known.join(', ')}\n`);
    process.exit(2);
  }
  const names = requested.length > 0 ? requested : [...SCENARIOS];
  const figures: Figure[] = [];
  const outcomes: Outcome[] = [];
  /** Figures of the scenarios that finished (a crashed or stopped one's figures are partial: never stored). */
  const complete: Figure[] = [];
  for (const name of names) {
    process.stderr.write(`[run] ${name}\n`);
    const own: Figure[] = [];
    const outcome = await runOne(name, own);
    outcomes.push(outcome);
    figures.push(...own);
    if (outcome.code === 0) complete.push(...own);
  }
  process.stdout.write(`\n${table(figures)}\n\n`);
  for (const o of outcomes) {
    process.stdout.write(
      `${o.name}: ${o.code === 0 ? 'ok' : `FAILED (exit ${o.code})`} in ${o.seconds.toFixed(1)} s\n`,
    );
  }
  if (process.env.BENCH_OUT)
    writeFileSync(process.env.BENCH_OUT, `${JSON.stringify({ figures, outcomes }, null, 2)}\n`);
  const base = readBaseline(BASELINE_FILE);
  const rows = compare ? compareWithBaseline(base, figures) : [];
  if (compare) process.stdout.write(`\n${formatComparison(base, rows)}\n`);
  if (storeBaseline) {
    const stored = writeBaseline(BASELINE_FILE, base, complete);
    process.stdout.write(
      `\nbaseline: ratios of ${stored.join(', ') || 'no scenario'} stored in ${BASELINE_FILE}\n`,
    );
  }
  if (!outcomes.every((o) => o.code === 0)) process.exit(1);
  process.exit(rows.some((r) => r.regressed) ? EXIT_REGRESSED : 0);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
