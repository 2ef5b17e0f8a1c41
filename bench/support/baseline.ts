/**
 * The stored baseline of bench ratios (`bench/baseline.json`, issue 16 item 8) and the comparison of a run
 * against it (`npm run bench -- --compare`).
 *
 * Only ratios are stored: figures that compare two things measured in the same run (unit `ratio` or `×`:
 * pgrt ÷ a floor, a capture mode ÷ no capture, pgrt vs a peer), since absolute latencies and rates on a shared
 * machine move with its load far more than 10%. Entries are kept per scenario, each with the machine, the
 * date and the commit it came from; `--write-baseline` replaces the entries of the scenarios that ran and
 * keeps the others.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import type { Better, Figure } from './measure.js';

/** Worse than the baseline by more than this fraction is flagged. */
export const REGRESSION_TOLERANCE = 0.1;

/** Where a scenario's stored ratios were measured. */
export interface Machine {
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryGb: number;
  readonly kernel: string;
  readonly node: string;
}

/** One stored ratio. */
export interface StoredRatio {
  readonly value: number;
  readonly better: Better;
}

/** One scenario's ratios and their provenance. */
export interface ScenarioBaseline {
  readonly machine: Machine;
  readonly date: string;
  readonly commit: string;
  readonly ratios: Readonly<Record<string, StoredRatio>>;
}

/** The file: scenario name → its baseline. */
export interface Baseline {
  readonly scenarios: Readonly<Record<string, ScenarioBaseline>>;
}

/** A figure is stored when it is a same-run ratio (not wamp-router's A/B against another checkout). */
export function isRatio(figure: Figure): boolean {
  return (figure.unit === 'ratio' || figure.unit === '×') && Number.isFinite(figure.value);
}

/** This machine, as stored next to each scenario's ratios. */
export function thisMachine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cpus: list.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
}

function headCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Reads the baseline file; an absent file is an empty baseline. */
export function readBaseline(path: string): Baseline {
  if (!existsSync(path)) return { scenarios: {} };
  return JSON.parse(readFileSync(path, 'utf8')) as Baseline;
}

/** Writes `base` with the ratios of `figures` in place of the stored ones of their scenarios. */
export function writeBaseline(path: string, base: Baseline, figures: readonly Figure[]): string[] {
  const scenarios: Record<string, ScenarioBaseline> = { ...base.scenarios };
  const machine = thisMachine();
  const date = new Date().toISOString();
  const commit = headCommit();
  const fresh = new Map<string, Record<string, StoredRatio>>();
  for (const figure of figures.filter(isRatio)) {
    const ratios = fresh.get(figure.scenario) ?? {};
    ratios[figure.metric] = { value: figure.value, better: figure.better };
    fresh.set(figure.scenario, ratios);
  }
  for (const [scenario, ratios] of fresh) scenarios[scenario] = { machine, date, commit, ratios };
  const sorted = Object.fromEntries(Object.entries(scenarios).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(path, `${JSON.stringify({ scenarios: sorted }, null, 2)}\n`);
  return [...fresh.keys()];
}

/** One ratio of this run next to its stored value. */
export interface Comparison {
  readonly scenario: string;
  readonly metric: string;
  readonly stored: number;
  readonly value: number;
  /** Signed change in the figure's worse direction: 0.15 = 15% worse, −0.05 = 5% better. */
  readonly worse: number;
  readonly regressed: boolean;
}

/** Compares the ratios of this run with the stored ones (ratios without a stored value are left out). */
export function compareWithBaseline(base: Baseline, figures: readonly Figure[]): Comparison[] {
  const rows: Comparison[] = [];
  for (const figure of figures.filter(isRatio)) {
    const stored = base.scenarios[figure.scenario]?.ratios[figure.metric];
    if (!stored || stored.value === 0) continue;
    const change = figure.value / stored.value - 1;
    const worse = stored.better === 'lower' ? change : -change;
    rows.push({
      scenario: figure.scenario,
      metric: figure.metric,
      stored: stored.value,
      value: figure.value,
      worse,
      regressed: worse > REGRESSION_TOLERANCE,
    });
  }
  return rows;
}

/** The comparison as printed lines: one per ratio, regressions marked, then a summary line. */
export function formatComparison(base: Baseline, rows: readonly Comparison[]): string {
  if (rows.length === 0) return 'compare: no ratio of this run has a stored baseline (bench/baseline.json)';
  const lines = rows.map((r) => {
    const change = `${Math.abs(r.worse * 100).toFixed(1)}% ${r.worse > 0 ? 'worse' : 'better'}`;
    const flag = r.regressed ? 'REGRESSED' : 'ok';
    return `${flag.padEnd(9)}  ${r.scenario}/${r.metric}: ${r.value} vs stored ${r.stored} (${change})`;
  });
  const machines = [...new Set(rows.map((r) => base.scenarios[r.scenario]!.machine))]
    .map((m) => `${m.cpu} × ${m.cpus}`)
    .join('; ');
  const regressed = rows.filter((r) => r.regressed).length;
  lines.push(
    `compare: ${regressed} of ${rows.length} ratios worse than the baseline by more than ${REGRESSION_TOLERANCE * 100}% (stored on: ${machines}; this machine: ${thisMachine().cpu} × ${thisMachine().cpus})`,
  );
  return lines.join('\n');
}
