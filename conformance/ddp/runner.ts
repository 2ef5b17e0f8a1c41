/**
 * Runs conformance cases against a DDP server URL: one at a time, each with its own timeout and its own clients
 * (closed afterwards, pass or fail), printing `✔ id title (12 ms)` / `✖ …` with the error / `- … (skipped: …)`
 * per case (with its level when beyond MUST: `✖ subscriptions.85 (meteor) …`), then the wall time, one line per
 * level (`MUST: …`, `METEOR: … (beyond MUST: counted only with --strict)`) and `N passed, N failed, N skipped`.
 * Used by `cli.ts`; the mocha entry uses {@link executeCase} directly.
 */

import { countByLevel, formatLevels } from '../support/citation.js';
import { formatOutcome, raceCase, selectByGroupOrId, toError } from '../support/runner-core.js';
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
export interface RunSummary {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Failed cases of level `must`: what decides the exit code unless strict. */
  readonly mustFailed: number;
  readonly wallMs: number;
  /** Whether every level counted (`--strict`). */
  readonly strict: boolean;
}

/** Options of {@link runCases}. */
export interface RunOptions {
  /** Stop after the first failure (the remaining cases are not reported). */
  readonly bail?: boolean;
  /** Where report lines go (default: stdout). */
  readonly write?: (line: string) => void;
  /** Count failures of every level, not only `must` (`--strict`). */
  readonly strict?: boolean;
}

/** Which cases to run: by group and/or by id (a case is selected if it matches either list). */
export interface Selection {
  readonly groups?: readonly string[];
  readonly ids?: readonly string[];
}

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

/** Whether `summary` fails: a `must` case failed, or with `strict` any case. */
export function summaryFailed(summary: RunSummary): boolean {
  return (summary.strict ? summary.failed : summary.mustFailed) > 0;
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
  const write = runOptions.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = performance.now();
  const results: CaseResult[] = [];
  for (const testCase of cases) {
    const reason = skipReason(testCase, options);
    const result: CaseResult =
      reason === undefined
        ? await executeCase(testCase, options)
        : { case: testCase, status: 'skipped', reason };
    results.push(result);
    write(formatResult(result));
    if (result.status === 'failed' && runOptions.bail) break;
  }
  const count = (status: CaseResult['status']): number => results.filter((r) => r.status === status).length;
  const summary: RunSummary = {
    results,
    passed: count('passed'),
    failed: count('failed'),
    skipped: count('skipped'),
    mustFailed: results.filter((r) => r.status === 'failed' && levelOf(r.case) === 'must').length,
    wallMs: performance.now() - started,
    strict: runOptions.strict ?? false,
  };
  write(formatSummary(summary));
  return summary;
}
