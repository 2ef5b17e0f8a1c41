/**
 * The conformance suites' citations (no sockets): every case of both suites cites at least one sentence with a
 * source and a level, every checklist number a case names has a citation, and a run fails on MUST failures only
 * unless strict.
 */
import assert from 'node:assert/strict';
import { citationsOf as ddpCitationsOf, levelOf as ddpLevelOf } from '../ddp/case.js';
import { allCases as ddpCases } from '../ddp/cases/index.js';
import { type RunSummary as DdpSummary, summaryFailed as ddpSummaryFailed } from '../ddp/runner.js';
import { DDP_CHECKLIST, DDP_LEVELS } from '../ddp/spec.js';
import { citationsOf as wampCitationsOf, levelOf as wampLevelOf } from '../wamp/case.js';
import { allCases as wampCases } from '../wamp/cases/index.js';
import { WAMP_CHECKLIST, WAMP_LEVELS } from '../wamp/spec.js';
import { countByLevel, formatLevels, weakestLevel } from './citation.js';

describe('conformance citations', () => {
  for (const [name, cases, citationsOf, levelOf, levels, checklist] of [
    ['DDP', ddpCases, ddpCitationsOf, ddpLevelOf, DDP_LEVELS, DDP_CHECKLIST],
    ['WAMP', wampCases, wampCitationsOf, wampLevelOf, WAMP_LEVELS, WAMP_CHECKLIST],
  ] as const) {
    it(`${name}: every case cites a sentence with a source, and has a level`, () => {
      const uncited = cases.filter((c) => {
        const citations = (citationsOf as (c: unknown) => { source: string; text: string }[])(c);
        return citations.length === 0 || citations.some((x) => x.source === '' || x.text === '');
      });
      assert.deepEqual(
        uncited.map((c) => c.id),
        [],
      );
      for (const c of cases)
        assert.ok((levels as readonly string[]).includes((levelOf as (c: unknown) => string)(c)));
    });

    it(`${name}: every checklist number a case names is in the table`, () => {
      const missing = cases.flatMap((c) =>
        c.checklist.filter((n) => !(n in checklist)).map((n) => `${c.id}:${n}`),
      );
      assert.deepEqual(missing, []);
    });
  }

  it('the over-strict cases of issue 14 are not MUST', () => {
    const wamp = new Map(wampCases.map((c) => [c.id, wampLevelOf(c)]));
    assert.equal(wamp.get('advanced.66'), 'should');
    assert.equal(wamp.get('advanced.79'), 'practice');
    assert.equal(wamp.get('uri.43'), 'should');
    assert.equal(wamp.get('violations.drop'), 'should');
    assert.equal(
      wamp.get('session.28'),
      'must',
      'no reply to ABORT is the MUST; the close is no longer asserted',
    );
  });

  it('a case is as binding as the weakest of its citations', () => {
    assert.equal(weakestLevel(['must', 'meteor', 'should'], DDP_LEVELS, 'meteor'), 'meteor');
    assert.equal(weakestLevel([], DDP_LEVELS, 'meteor'), 'meteor');
    assert.equal(weakestLevel(['must'], DDP_LEVELS, 'meteor'), 'must');
  });

  it('only MUST failures fail a run, unless strict; other levels are reported on their own lines', () => {
    const must = ddpCases.find((c) => ddpLevelOf(c) === 'must')!;
    const meteor = ddpCases.find((c) => ddpLevelOf(c) === 'meteor')!;
    const error = new Error('x');
    const summary = (strict: boolean, failedMust: boolean): DdpSummary => ({
      results: [
        { case: must, status: failedMust ? 'failed' : 'passed', durationMs: 1, error },
        { case: meteor, status: 'failed', durationMs: 1, error },
      ],
      passed: failedMust ? 0 : 1,
      failed: failedMust ? 2 : 1,
      skipped: 0,
      mustFailed: failedMust ? 1 : 0,
      wallMs: 2,
      strict,
    });
    assert.equal(ddpSummaryFailed(summary(false, false)), false);
    assert.equal(ddpSummaryFailed(summary(true, false)), true);
    assert.equal(ddpSummaryFailed(summary(false, true)), true);
    const lines = formatLevels(
      countByLevel(summary(false, false).results, DDP_LEVELS, (r) => ddpLevelOf(r.case)),
      false,
    );
    assert.deepEqual(lines, [
      'MUST: 1 passed, 0 failed, 0 skipped',
      'METEOR: 0 passed, 1 failed, 0 skipped (beyond MUST: counted only with --strict)',
    ]);
  });
});
