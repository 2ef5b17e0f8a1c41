/**
 * What a conformance case checks and how binding that rule is, shared by the DDP and WAMP suites. Every case
 * cites the sentence it checks ({@link Citation}); its level says whether a server that fails it breaks the
 * protocol (`must`) or only departs from a recommendation or a reference implementation. Runners count only
 * `must` failures unless `--strict`, and report the other levels on a line of their own.
 */

/** A quoted rule: where it is written and the sentence itself. */
export interface Citation<L extends string> {
  /** How binding the rule is (the suite's levels; `must` first). */
  readonly level: L;
  /** Where the sentence is: `DDP.md "Heartbeats"`, `WAMP basic/sessions.md "HELLO"`, `ddp.md §1.3 (Meteor)`. */
  readonly source: string;
  /** The sentence, quoted from the source (or, for a reference implementation's behaviour, stated). */
  readonly text: string;
}

/** The weakest of `levels` in `order` (strongest first); `fallback` when `levels` is empty. */
export function weakestLevel<L extends string>(levels: readonly L[], order: readonly L[], fallback: L): L {
  let weakest: L | undefined;
  for (const level of levels) {
    if (weakest === undefined || order.indexOf(level) > order.indexOf(weakest)) weakest = level;
  }
  return weakest ?? fallback;
}

/** Counts of one level. */
export interface LevelCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Per-level counts of `results`, in `order`, for levels that have any result. `levelOf` gives each result's
 * level.
 */
export function countByLevel<
  R extends { readonly status: 'passed' | 'failed' | 'skipped' },
  L extends string,
>(results: readonly R[], order: readonly L[], levelOf: (result: R) => L): [L, LevelCounts][] {
  const counts = new Map<L, LevelCounts>(order.map((level) => [level, { passed: 0, failed: 0, skipped: 0 }]));
  for (const result of results) {
    const entry = counts.get(levelOf(result));
    if (entry) entry[result.status]++;
  }
  return [...counts].filter(([, c]) => c.passed + c.failed + c.skipped > 0);
}

/**
 * The level lines of a summary: `MUST: 80 passed, 0 failed, 2 skipped` and one line per other level, marked as
 * not counted unless `strict`.
 */
export function formatLevels(counts: readonly [string, LevelCounts][], strict: boolean): string[] {
  return counts.map(([level, c]) => {
    const note = level === 'must' || strict ? '' : ' (beyond MUST: counted only with --strict)';
    return `${level.toUpperCase()}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped${note}`;
  });
}
