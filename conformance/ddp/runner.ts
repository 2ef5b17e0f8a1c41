/**
 * Runs conformance cases against a DDP server URL: one at a time, each with its own timeout and its own clients
 * (closed afterwards, pass or fail), printing `✔ id title (12 ms)` / `✖ …` with the error / `- … (skipped: …)`
 * per case (with its level when beyond MUST: `✖ subscriptions.85 (meteor) …`), then the wall time, one line per
 * level (`MUST: …`, `METEOR: … (beyond MUST: counted only with --strict)`) and `N passed, N failed, N skipped`.
 * Used by `cli.ts`; the mocha entry uses {@link executeCase} directly.
 */

import { countByLevel, formatLevels } from '../support/citation.js';
import {
  formatOutcome,
  type RunOptions,
  raceCase,
  runAll,
  type Selection,
  type RunSummary as SuiteSummary,
  selectByGroupOrId,
  toError,
} from '../support/runner-core.js';
import {
  CASE_GROUPS,
  type CaseContext,
  type ConformanceCase,
  caseTimeout,
  levelOf,
  type OpenOptions,
  type SockJsOpenOptions,
  type SuiteOptions,
  skipReason,
  sockjsBaseUrl,
} from './case.js';
import { DdpTestClient } from './client.js';
import { DDP_LEVELS } from './spec.js';

/** Outcome of one case. */
export type CaseResult =
  | { readonly case: ConformanceCase; readonly status: 'passed'; readonly durationMs: number }
  | {
      readonly case: ConformanceCase;
      readonly status: 'failed';
      readonly durationMs: number;
      readonly error: Error;
    }
  | { readonly case: ConformanceCase; readonly status: 'skipped'; readonly reason: string };

/** Outcome of a run. */
export type RunSummary = SuiteSummary<CaseResult>;

export type { RunOptions, Selection } from '../support/runner-core.js';
export { summaryFailed } from '../support/runner-core.js';

/**
 * Runs one case (without looking at its skip reason) and never throws: failures, including the case timeout,
 * come back as a `failed` result. Every client the case opened is closed before this resolves.
 */
export async function executeCase(testCase: ConformanceCase, options: SuiteOptions): Promise<CaseResult> {
  const clients: DdpTestClient[] = [];
  const open = async (openOptions: OpenOptions = {}): Promise<DdpTestClient> => {
    const { url = options.url, ...clientOptions } = openOptions;
    const client = await DdpTestClient.open(url, { timeoutMs: options.waitMs, ...clientOptions });
    clients.push(client);
    return client;
  };
  const sockjsUrl = sockjsBaseUrl(options.url);
  const ctx: CaseContext = {
    url: options.url,
    sockjsUrl,
    options,
    open,
    async openSockJs(openOptions: SockJsOpenOptions = {}) {
      const { url = sockjsUrl, ...clientOptions } = openOptions;
      const client = await DdpTestClient.openSockJs(url, { timeoutMs: options.waitMs, ...clientOptions });
      clients.push(client);
      return client;
    },
    async connected(openOptions) {
      const client = await open(openOptions);
      await client.connect();
      return client;
    },
  };
  const timeoutMs = caseTimeout(testCase, options);
  const started = performance.now();
  try {
    const durationMs = await raceCase(testCase.run(ctx), timeoutMs, started);
    return { case: testCase, status: 'passed', durationMs };
  } catch (thrown) {
    const error = toError(thrown);
    if (!error.message.includes('transcript:')) {
      // An assertion says what was wrong; the exchange shows what the server did.
      const transcripts = clients.map((client, i) => `client ${i + 1}:\n${client.transcript(25)}`).join('\n');
      if (transcripts) error.message += `\ntranscript:\n${transcripts}`;
    }
    return { case: testCase, status: 'failed', durationMs: performance.now() - started, error };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

/** The cases of `cases` selected by `selection` (everything when both lists are empty), in their order. */
export function selectCases(cases: readonly ConformanceCase[], selection: Selection): ConformanceCase[] {
  return selectByGroupOrId(cases, CASE_GROUPS, selection.groups ?? [], selection.ids ?? []);
}

/** One report line for a result (a failure's error follows, indented). */
export function formatResult(result: CaseResult): string {
  const level = levelOf(result.case);
  const id = level === 'must' ? result.case.id : `${result.case.id} (${level})`;
  return formatOutcome(id, result.case.title, result, '/conformance/ddp/cases/');
}

/**
 * Wall time of the ddptest groups (raw and over SockJS), comparable with the talk's figures for ddptest's browser
 * run (Meteor 1.12 s, django-ddp 1.1 s). Cases run one after another, so a group's wall time is the sum of its
 * cases' durations. Empty when neither group ran.
 */
export function ddptestTimings(results: readonly CaseResult[]): string[] {
  const lines: string[] = [];
  for (const [group, label] of [
    ['ddptest', 'ddptest over raw /websocket'],
    ['ddptest-sockjs', 'ddptest over SockJS (sockjs-client)'],
  ] as const) {
    const ran = results.filter((r) => r.case.group === group && r.status !== 'skipped');
    if (ran.length === 0) continue;
    const ms = ran.reduce((sum, r) => sum + (r.status === 'skipped' ? 0 : r.durationMs), 0);
    lines.push(
      `${label}: ${ran.length} cases in ${(ms / 1000).toFixed(2)} s (talk: Meteor 1.12 s, django-ddp 1.1 s)`,
    );
  }
  return lines;
}

/** The closing lines: ddptest timings, wall time, the lines per level and `N passed, N failed, N skipped`. */
export function formatSummary(summary: RunSummary): string {
  const timings = ddptestTimings(summary.results);
  const levels = formatLevels(
    countByLevel(summary.results, DDP_LEVELS, (result) => levelOf(result.case)),
    summary.strict,
  );
  return (
    `${timings.length > 0 ? `\n${timings.join('\n')}` : ''}` +
    `\n${summary.results.length} cases in ${(summary.wallMs / 1000).toFixed(2)} s\n` +
    `${levels.join('\n')}\n` +
    `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`
  );
}

/** Runs `cases` in order against `options.url` and reports each; resolves with the results (never rejects). */
export async function runCases(
  cases: readonly ConformanceCase[],
  options: SuiteOptions,
  runOptions: RunOptions = {},
): Promise<RunSummary> {
  return await runAll(
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
}
