/**
 * The mocha entry every conformance suite shares (`npm test`): the suite's fixture server is started once, each
 * run of a case is one `it` titled `<id> [<level>] <title>` and goes through the same `executeCase` as the CLI, so
 * every level must pass against pgrt (the CLI's `--strict`). A case always skipped is pending with its reason in the
 * title; one that skips for these options (a feature the server does not offer, a slow timing case) says why in
 * its title too.
 */
import type { Outcome } from './runner-core.js';

/** One `it`: a case, or a case under one serializer. */
export interface MochaCaseRun<O> {
  /** `<id> [<level>] <title>`. */
  readonly title: string;
  /** Set when the case is always skipped: the reason. */
  readonly skip?: string;
  /** Why it skips against this server, or undefined. */
  skipReason(options: O): string | undefined;
  /** The case's own bound, ms (mocha's timeout is 5 s more). */
  timeoutMs(options: O): number;
  execute(options: O): Promise<Outcome>;
}

/** A conformance suite as mocha runs it against pgrt's fixture server. */
export interface MochaSuite<O> {
  /** The `describe` title. */
  readonly name: string;
  /** Starts the fixture server (60 s allowed): the options its cases run with, and how to stop it. */
  start(): Promise<{ readonly options: O; close(): Promise<void> }>;
  readonly runs: readonly MochaCaseRun<O>[];
  /** Lines printed once the suite ran, given its wall time in ms (timings, a total). */
  report?(wallMs: number): readonly string[];
}

/** Registers `suite` with mocha; see the module header. */
export function describeConformance<O>(suite: MochaSuite<O>): void {
  describe(suite.name, () => {
    let options: O | undefined;
    let close: (() => Promise<void>) | undefined;
    let started = 0;

    before(async function () {
      this.timeout(60000);
      const server = await suite.start();
      options = server.options;
      close = () => server.close();
      started = performance.now();
    });

    after(async function () {
      this.timeout(30000);
      const wallMs = performance.now() - started;
      await close?.();
      const lines = started > 0 ? (suite.report?.(wallMs) ?? []) : [];
      for (const line of lines) process.stdout.write(`\n  ${line}`);
      if (lines.length > 0) process.stdout.write('\n');
    });

    for (const run of suite.runs) {
      if (run.skip !== undefined) {
        it.skip(`${run.title} (skipped: ${run.skip})`);
        continue;
      }
      it(run.title, async function () {
        if (!options) throw new Error('the fixture server did not start');
        const reason = run.skipReason(options);
        if (reason !== undefined) {
          if (this.test) this.test.title = `${run.title} (skipped: ${reason})`;
          this.skip();
        }
        this.timeout(run.timeoutMs(options) + 5000);
        const result = await run.execute(options);
        if (result.status === 'failed') throw result.error;
      });
    }
  });
}
