/**
 * Runs Supabase Realtime conformance cases against a socket URL, one at a time, each with its own sockets (closed
 * afterwards, pass or fail), printing `✔ id title (12 ms)` / `✖ …` with the error and transcript /
 * `- … (skipped: …)`, then one line per level and `N passed, N failed, N skipped`.
 */
import { countByLevel, formatLevels } from '../support/citation.js';
import {
  formatOutcome,
  type Outcome,
  type RunOptions,
  type RunSummary,
  raceCase,
  runAll,
  selectByGroupOrId,
  summaryFailed,
  toError,
} from '../support/runner-core.js';
import {
  CASE_GROUPS,
  type ConformanceCase,
  levelOf,
  type SuiteOptions,
  skipReason,
  withVsn,
} from './case.js';
import { PhoenixTestClient } from './client.js';
import { SUPABASE_LEVELS } from './spec.js';

/** Outcome of one case. */
export type CaseResult = Outcome & { readonly case: ConformanceCase };

/** A case's timeout: generous against the waits inside it. */
export const caseTimeout = (options: SuiteOptions): number => options.waitMs * 4;

/** Runs one case (its skip reason not looked at); never throws. Its sockets are closed before this resolves. */
export async function executeCase(testCase: ConformanceCase, options: SuiteOptions): Promise<CaseResult> {
  const clients: PhoenixTestClient[] = [];
  const started = performance.now();
  try {
    const running = testCase.run({
      options,
      async open(vsn = '2.0.0') {
        const client = await PhoenixTestClient.open(withVsn(options.url, vsn), options.waitMs);
        clients.push(client);
        return client;
      },
    });
    const durationMs = await raceCase(running, caseTimeout(options), started);
    return { case: testCase, status: 'passed', durationMs };
  } catch (thrown) {
    const error = toError(thrown);
    const transcripts = clients.map((client, i) => `socket ${i + 1}:\n${client.transcript(20)}`).join('\n');
    if (transcripts) error.message += `\ntranscript:\n${transcripts}`;
    return { case: testCase, status: 'failed', durationMs: performance.now() - started, error };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** The cases selected by group and/or id (everything when both are empty). */
export function selectCases(
  cases: readonly ConformanceCase[],
  groups: readonly string[],
  ids: readonly string[],
): ConformanceCase[] {
  return selectByGroupOrId(cases, CASE_GROUPS, groups, ids);
}

/** One report line for a result (a failure's error follows, indented). */
function formatResult(result: CaseResult): string {
  const level = levelOf(result.case);
  const id = level === 'must' ? result.case.id : `${result.case.id} (${level})`;
  return formatOutcome(id, result.case.title, result, '/conformance/supabase/');
}

/** The closing lines: one per level and `N passed, N failed, N skipped`. */
function formatSummary(summary: RunSummary<CaseResult>): string {
  const levels = formatLevels(
    countByLevel(summary.results, SUPABASE_LEVELS, (result) => levelOf(result.case)),
    summary.strict,
  );
  return [...levels, `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`].join(
    '\n',
  );
}

/** Runs `cases` in order and reports each; resolves with whether the run failed (a MUST case, or any if strict). */
export async function runCases(
  cases: readonly ConformanceCase[],
  options: SuiteOptions,
  runOptions: RunOptions = {},
): Promise<boolean> {
  const summary = await runAll(
    cases,
    {
      skipReason: (testCase) => skipReason(testCase, options),
      execute: (testCase) => executeCase(testCase, options),
      skipped: (testCase, reason) => ({ case: testCase, status: 'skipped', reason }),
      isMust: (result) => levelOf(result.case) === 'must',
      formatResult,
      formatSummary,
    },
    runOptions,
  );
  return summaryFailed(summary);
}
