/**
 * What the DDP, WAMP and Supabase conformance runners share: running a case against its timeout, selecting cases by
 * group and id, the report line of one result, and the run loop with its counts ({@link runAll}). Each runner keeps
 * what differs (how a case's clients are opened, what a result refers to, its summary lines).
 */

/** Any thrown value as an Error. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Awaits a running case against `timeoutMs` and resolves with its duration in ms; rejects with the case's error
 * or `case timed out after N ms`. After a timeout the case keeps running until its clients close under it, so its
 * late rejection is swallowed here.
 */
export async function raceCase(running: Promise<void>, timeoutMs: number, started: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  running.catch(() => undefined);
  try {
    await Promise.race([
      running,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`case timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return performance.now() - started;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The cases selected by group and/or id (a case is selected if it matches either list; everything when both are
 * empty), in their order. Unknown groups and ids throw, naming the valid groups.
 */
export function selectByGroupOrId<C extends { readonly id: string; readonly group: string }>(
  cases: readonly C[],
  knownGroups: readonly string[],
  groups: readonly string[],
  ids: readonly string[],
): C[] {
  for (const group of groups) {
    if (!knownGroups.includes(group))
      throw new Error(`unknown group "${group}" (groups: ${knownGroups.join(', ')})`);
  }
  for (const id of ids) if (!cases.some((c) => c.id === id)) throw new Error(`unknown case "${id}"`);
  if (groups.length === 0 && ids.length === 0) return [...cases];
  return cases.filter((c) => groups.includes(c.group) || ids.includes(c.id));
}

/** The outcome part of a result, as every runner records it. */
export type Outcome =
  | { readonly status: 'passed'; readonly durationMs: number }
  | { readonly status: 'failed'; readonly durationMs: number; readonly error: Error }
  | { readonly status: 'skipped'; readonly reason: string };

/**
 * One report line: `✔ id title (12 ms)`, `✖ …` followed by the indented error and the line of the case file
 * (found in the stack by `casesPath`, e.g. `/conformance/ddp/cases/`), or `- id title (skipped: reason)`.
 */
export function formatOutcome(id: string, title: string, outcome: Outcome, casesPath: string): string {
  switch (outcome.status) {
    case 'passed':
      return `✔ ${id} ${title} (${Math.round(outcome.durationMs)} ms)`;
    case 'failed': {
      const where = outcome.error.stack?.split('\n').find((line) => line.includes(casesPath));
      const detail = `${outcome.error.message}${where ? `\n${where.trim()}` : ''}`
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n');
      return `✖ ${id} ${title} (${Math.round(outcome.durationMs)} ms)\n${detail}`;
    }
    case 'skipped':
      return `- ${id} ${title} (skipped: ${outcome.reason})`;
    default: {
      const unreachable: never = outcome;
      return String(unreachable);
    }
  }
}

/** Outcome of a whole run, over a suite's results `R`. */
export interface RunSummary<R> {
  readonly results: readonly R[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Failed results of level `must`: what decides the exit code unless strict. */
  readonly mustFailed: number;
  readonly wallMs: number;
  /** Whether every level counted (`--strict`). */
  readonly strict: boolean;
}

/** Options of a suite's `runCases`. */
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
  /** Case ids (`handshake.10`); the WAMP suite also takes run ids (`broker.47@msgpack`). */
  readonly ids?: readonly string[];
}

/** Whether `summary` fails: a `must` result failed, or with `strict` any result. */
export function summaryFailed(summary: RunSummary<unknown>): boolean {
  return (summary.strict ? summary.failed : summary.mustFailed) > 0;
}

/** What {@link runAll} needs of a suite, for its items `T` (cases, or case × serializer runs) and results `R`. */
export interface SuiteRunner<T, R extends Outcome> {
  /** Why `item` does not apply to the server under test, or undefined. */
  skipReason(item: T): string | undefined;
  /** Runs `item`; never rejects (failures are `failed` results). */
  execute(item: T): Promise<R>;
  /** The result of an item skipped for `reason`. */
  skipped(item: T, reason: string): R;
  /** Whether the result's case is of level `must`. */
  isMust(result: R): boolean;
  /** The report line of one result. */
  formatResult(result: R): string;
  /** The closing lines of the run. */
  formatSummary(summary: RunSummary<R>): string;
}

/**
 * Runs `items` one at a time, writing each result's line as it comes (stopping after the first failure with
 * `bail`), then the summary; resolves with the summary (never rejects).
 */
export async function runAll<T, R extends Outcome>(
  items: readonly T[],
  suite: SuiteRunner<T, R>,
  runOptions: RunOptions = {},
): Promise<RunSummary<R>> {
  const write = runOptions.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const started = performance.now();
  const results: R[] = [];
  for (const item of items) {
    const reason = suite.skipReason(item);
    const result = reason === undefined ? await suite.execute(item) : suite.skipped(item, reason);
    results.push(result);
    write(suite.formatResult(result));
    if (result.status === 'failed' && runOptions.bail) break;
  }
  const count = (status: Outcome['status']): number => results.filter((r) => r.status === status).length;
  const summary: RunSummary<R> = {
    results,
    passed: count('passed'),
    failed: count('failed'),
    skipped: count('skipped'),
    mustFailed: results.filter((r) => r.status === 'failed' && suite.isMust(r)).length,
    wallMs: performance.now() - started,
    strict: runOptions.strict ?? false,
  };
  write(suite.formatSummary(summary));
  return summary;
}
