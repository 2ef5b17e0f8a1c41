/**
 * Measuring helpers shared by the bench scenarios: a monotonic clock that is comparable across the processes of
 * one machine, sample sets with quantiles, and the JSON line every scenario prints per figure (read by run.ts).
 *
 * The clock is `process.hrtime` (CLOCK_MONOTONIC on Linux), so a timestamp taken in one process and compared in
 * another on the same machine is meaningful; it never jumps with NTP.
 */

/** Milliseconds on the machine-wide monotonic clock (fractional). */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A growable set of numeric samples (ms, usually). */
export class Samples {
  #values = new Float64Array(1024);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  add(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }

  clear(): void {
    this.#length = 0;
  }

  /** Quantiles (nearest rank) of the samples; NaN when empty. */
  quantiles(...ps: readonly number[]): number[] {
    const sorted = this.#values.slice(0, this.#length).sort();
    return ps.map((p) => {
      if (sorted.length === 0) return Number.NaN;
      const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
      return sorted[index]!;
    });
  }

  /** Sum of the samples. */
  sum(): number {
    let total = 0;
    for (let i = 0; i < this.#length; i++) total += this.#values[i]!;
    return total;
  }
}

/** Which way is better for a figure. */
export type Better = 'lower' | 'higher';

/** One printed figure: the line format run.ts collects (`{"scenario":…,"metric":…,"value":…,"target":…}`). */
export interface Figure {
  readonly scenario: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** The DESIGN.md target, or null when the table sets none for this figure. */
  readonly target: number | null;
  readonly better: Better;
  /** What the figure was measured under (subscribers, rate, sizes), free text. */
  readonly note?: string;
}

/** Rounds for printing: 2 decimals below 100, integers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 100) / 100;
}

/** Prints one figure as a JSON line on stdout. */
export function report(figure: Figure): void {
  process.stdout.write(`${JSON.stringify({ ...figure, value: round(figure.value) })}\n`);
}

/** Prints a progress line on stderr (not collected by run.ts). */
export function progress(scenario: string, message: string): void {
  process.stderr.write(`[${scenario}] ${message}\n`);
}

/** Runs `fn` with at most `limit` promises pending; resolves with the results in order. */
export async function inBatches<T>(
  count: number,
  limit: number,
  fn: (index: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await fn(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

/** Waits until `done()` is true, polling every `stepMs`; resolves false on timeout. */
export async function waitFor(done: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const deadline = now() + timeoutMs;
  while (!done()) {
    if (now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}
