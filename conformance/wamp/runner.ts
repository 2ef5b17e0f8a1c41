/**
 * Runs WAMP conformance cases against a router URL: first a probe session reads the router's announced features
 * ({@link probeRouter}), then each case × serializer runs one at a time with its own timeout and its own peers
 * (closed afterwards, pass or fail), printing `✔ id title (12 ms)` / `✖ …` with the error and transcripts /
 * `- … (skipped: …)` (with the case's level when beyond MUST: `✖ advanced.79@json (practice) …`), and at the end
 * the wall time, one line per level and `N passed, N failed, N skipped`. Only MUST failures fail a run unless
 * strict. Used by `cli.ts`; the mocha entry uses {@link executeCase} directly.
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
  type CaseRun,
  type ConformanceCase,
  levelOf,
  type OpenOptions,
  type RouterInfo,
  type SuiteOptions,
  skipReason,
} from './case.js';
import { isDict, WampPeer } from './client.js';
import { WAMP_LEVELS } from './spec.js';

/** Outcome of one case run. */
export type CaseResult =
  | { readonly run: CaseRun; readonly status: 'passed'; readonly durationMs: number }
  | { readonly run: CaseRun; readonly status: 'failed'; readonly durationMs: number; readonly error: Error }
  | { readonly run: CaseRun; readonly status: 'skipped'; readonly reason: string };

/** Outcome of a whole run. */
export type RunSummary = SuiteSummary<CaseResult>;

export type { RunOptions, Selection } from '../support/runner-core.js';
export { summaryFailed } from '../support/runner-core.js';

const RUN_TAG = Math.floor(Math.random() * 36 ** 6)
  .toString(36)
  .padStart(6, '0');
let runCounter = 0;

/**
 * Joins the realm once (JSON unless the suite runs without it) and reads `WELCOME.Details.roles.*.features`.
 * Rejects when the router cannot be reached or refuses the session.
 */
export async function probeRouter(options: SuiteOptions): Promise<RouterInfo> {
  const peer = await WampPeer.open(options.url, {
    serializer: options.serializers.includes('json') ? 'json' : (options.serializers[0] ?? 'json'),
    timeoutMs: options.waitMs,
    label: 'probe',
  });
  try {
    await peer.hello(options.realm);
    const features = new Set<string>();
    const roles = peer.welcome.roles;
    for (const role of ['broker', 'dealer'] as const) {
      const details = isDict(roles) ? roles[role] : undefined;
      const flags = isDict(details) && isDict(details.features) ? details.features : {};
      for (const [flag, on] of Object.entries(flags)) if (on === true) features.add(`${role}.${flag}`);
    }
    const agent = peer.welcome.agent;
    return { features, agent: typeof agent === 'string' ? agent : undefined };
  } finally {
    await peer.close();
  }
}

/**
 * Runs one case over one serializer (without looking at its skip reason) and never throws: failures, including
 * the case timeout, come back as a `failed` result with every peer's transcript. Every peer the case opened is
 * closed before this resolves.
 */
export async function executeCase(
  run: CaseRun,
  options: SuiteOptions,
  router: RouterInfo,
): Promise<CaseResult> {
  const peers: WampPeer[] = [];
  runCounter += 1;
  const prefix = `com.conformance.r${RUN_TAG}.c${runCounter}`;
  const open = async (openOptions: OpenOptions = {}): Promise<WampPeer> => {
    const { url = options.url } = openOptions;
    const peer = await WampPeer.open(url, {
      serializer: openOptions.serializer ?? run.serializer,
      timeoutMs: openOptions.timeoutMs ?? options.waitMs,
      label: openOptions.label ?? `C${peers.length + 1}`,
      ...(openOptions.protocols ? { protocols: openOptions.protocols } : {}),
    });
    peers.push(peer);
    return peer;
  };
  const ctx: CaseContext = {
    options,
    router,
    serializer: run.serializer,
    open,
    async join(openOptions = {}) {
      const peer = await open(openOptions);
      await peer.hello(openOptions.realm ?? options.realm, {
        ...(openOptions.roles ? { roles: openOptions.roles } : {}),
        ...(openOptions.details ? { details: openOptions.details } : {}),
      });
      return peer;
    },
    uri: (name) => `${prefix}.${name}`,
  };
  const timeoutMs = run.case.timeoutMs ?? options.caseTimeoutMs;
  const started = performance.now();
  try {
    const durationMs = await raceCase(run.case.run(ctx), timeoutMs, started);
    return { run, status: 'passed', durationMs };
  } catch (thrown) {
    const error = toError(thrown);
    if (!error.message.includes('transcript:')) {
      const transcripts = peers.map((peer) => peer.transcript()).join('\n');
      if (transcripts) error.message += `\ntranscript:\n${transcripts}`;
    } else if (peers.length > 1) {
      // The failing peer's transcript is there; add the others', which often show the cause.
      const others = peers.filter((peer) => !error.message.includes(`[${peer.label} `));
      if (others.length > 0)
        error.message += `\nother peers:\n${others.map((p) => p.transcript(12)).join('\n')}`;
    }
    return { run, status: 'failed', durationMs: performance.now() - started, error };
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
  }
}

/** The cases of `cases` selected by `selection` (everything when both lists are empty), in their order. */
export function selectCases(cases: readonly ConformanceCase[], selection: Selection): ConformanceCase[] {
  const ids = (selection.ids ?? []).map((id) => id.split('@')[0] ?? id);
  return selectByGroupOrId(cases, CASE_GROUPS, selection.groups ?? [], ids);
}

/** One report line for a result (a failure's error follows, indented). */
export function formatResult(result: CaseResult): string {
  const level = levelOf(result.run.case);
  const id = level === 'must' ? result.run.id : `${result.run.id} (${level})`;
  return formatOutcome(id, result.run.case.title, result, '/conformance/wamp/cases/');
}

/** The closing lines: wall time, one line per level and `N passed, N failed, N skipped`. */
export function formatSummary(summary: RunSummary): string {
  const levels = formatLevels(
    countByLevel(summary.results, WAMP_LEVELS, (result) => levelOf(result.run.case)),
    summary.strict,
  );
  return (
    `\n${summary.results.length} case runs in ${(summary.wallMs / 1000).toFixed(2)} s\n` +
    `${levels.join('\n')}\n` +
    `${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`
  );
}

/** Runs `runs` in order against `options.url` and reports each; resolves with the results (never rejects). */
export async function runCases(
  runs: readonly CaseRun[],
  options: SuiteOptions,
  router: RouterInfo,
  runOptions: RunOptions = {},
): Promise<RunSummary> {
  return await runAll(
    runs,
    {
      skipReason: (run) => skipReason(run.case, options, router),
      execute: (run) => executeCase(run, options, router),
      skipped: (run, reason) => ({ run, status: 'skipped', reason }),
      isMust: (result) => levelOf(result.run.case) === 'must',
      formatResult,
      formatSummary,
    },
    runOptions,
  );
}
