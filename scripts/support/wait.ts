/**
 * Polling with a deadline: wire tests wait for a condition instead of sleeping a fixed time. The deadline is a
 * failure bound, never an assertion on speed; on timeout the error says what was awaited and what was seen.
 */

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** Give up after this many ms (default 10000). */
  readonly timeoutMs?: number;
  /** Poll every this many ms (default 10). */
  readonly intervalMs?: number;
  /** Describes what was awaited (and the state seen), for the timeout error. */
  readonly what?: () => string;
}

/** Resolves once `check` returns true; rejects after the deadline (or with `check`'s own error). */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  options: WaitOptions = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const interval = options.intervalMs ?? 10;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${options.what?.() ?? 'a condition'}`,
      );
    }
    await sleep(interval);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
