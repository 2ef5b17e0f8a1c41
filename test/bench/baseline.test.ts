/**
 * The bench baseline (bench/support/baseline.ts, `npm run bench -- --compare`): which figures are stored, how a
 * refresh merges per scenario, and which changes are flagged (worse by more than 10% in the figure's own
 * direction). A real file in a temporary directory; no scenario runs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Baseline,
  compareWithBaseline,
  formatComparison,
  readBaseline,
  writeBaseline,
} from '../../bench/support/baseline.js';
import type { Figure } from '../../bench/support/measure.js';

function figure(
  scenario: string,
  metric: string,
  value: number,
  unit: string,
  better: 'lower' | 'higher',
): Figure {
  return { scenario, metric, value, unit, target: null, better };
}

describe('bench baseline', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgrt-baseline-'));
    file = join(dir, 'baseline.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('stores only same-run ratios, per scenario, with the machine they came from', () => {
    const stored = writeBaseline(file, readBaseline(file), [
      figure('latency-floor', 'ratio_sub1_p50', 1.1, '×', 'lower'),
      figure('latency-floor', 'pgrt_sub1_p50_ms', 2.5, 'ms', 'lower'),
      figure('writer-overhead', 'logical_vs_off_8w', 0.8, 'ratio', 'higher'),
      figure('wamp-router', 'ratio_call_ns', 1.01, 'x', 'lower'),
    ]);
    assert.deepEqual(stored.sort(), ['latency-floor', 'writer-overhead']);
    const base = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
    assert.deepEqual(Object.keys(base.scenarios['latency-floor']!.ratios), ['ratio_sub1_p50']);
    assert.equal(base.scenarios['writer-overhead']!.ratios.logical_vs_off_8w!.better, 'higher');
    assert.ok(base.scenarios['latency-floor']!.machine.cpus > 0);
    assert.equal(base.scenarios['wamp-router'], undefined);
  });

  it('a refresh replaces the scenarios that ran and keeps the others', () => {
    writeBaseline(file, readBaseline(file), [
      figure('latency-floor', 'ratio_sub1_p50', 1.1, '×', 'lower'),
      figure('memory', 'one_heap_vs_reactive_300', 0.8, 'ratio', 'lower'),
    ]);
    writeBaseline(file, readBaseline(file), [
      figure('memory', 'one_heap_vs_reactive_3000', 0.7, 'ratio', 'lower'),
    ]);
    const base = readBaseline(file);
    assert.equal(base.scenarios['latency-floor']!.ratios.ratio_sub1_p50!.value, 1.1);
    assert.deepEqual(Object.keys(base.scenarios.memory!.ratios), ['one_heap_vs_reactive_3000']);
  });

  it('flags a ratio worse by more than 10% in its own direction, and only that', () => {
    writeBaseline(file, readBaseline(file), [
      figure('latency-floor', 'ratio_sub1_p50', 1.0, '×', 'lower'),
      figure('latency-floor', 'ratio_sub1_p99', 1.0, '×', 'lower'),
      figure('writer-overhead', 'logical_vs_off_8w', 0.8, 'ratio', 'higher'),
      figure('writer-overhead', 'outbox_vs_off_8w', 0.8, 'ratio', 'higher'),
    ]);
    const base = readBaseline(file);
    const rows = compareWithBaseline(base, [
      figure('latency-floor', 'ratio_sub1_p50', 1.15, '×', 'lower'), // 15% higher, lower is better: regressed
      figure('latency-floor', 'ratio_sub1_p99', 0.5, '×', 'lower'), // better
      figure('writer-overhead', 'logical_vs_off_8w', 0.7, 'ratio', 'higher'), // 12.5% lower: regressed
      figure('writer-overhead', 'outbox_vs_off_8w', 0.75, 'ratio', 'higher'), // 6.25% lower: within
      figure('memory', 'one_heap_vs_reactive_300', 9, 'ratio', 'lower'), // nothing stored
    ]);
    const regressed = rows.filter((r) => r.regressed).map((r) => r.metric);
    assert.deepEqual(regressed, ['ratio_sub1_p50', 'logical_vs_off_8w']);
    assert.equal(rows.length, 4);
    const text = formatComparison(base, rows);
    assert.match(text, /REGRESSED {2}latency-floor\/ratio_sub1_p50: 1\.15 vs stored 1 \(15\.0% worse\)/);
    assert.match(text, /ok {9}latency-floor\/ratio_sub1_p99: 0\.5 vs stored 1 \(50\.0% better\)/);
    assert.match(text, /compare: 2 of 4 ratios worse/);
  });

  it('an absent baseline file compares nothing', () => {
    const base = readBaseline(file);
    const rows = compareWithBaseline(base, [figure('latency-floor', 'ratio_sub1_p50', 1.1, '×', 'lower')]);
    assert.deepEqual(rows, []);
    assert.match(formatComparison(base, rows), /no ratio of this run has a stored baseline/);
  });
});
