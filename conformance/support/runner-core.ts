/**
 * What the DDP and WAMP conformance runners share: running a case against its timeout, selecting cases by group
 * and id, and the report line of one result. Each runner keeps what differs (how a case's clients are opened,
 * what a result refers to, its summary lines).
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

/** The outcome part of a result, as both runners record it. */
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
