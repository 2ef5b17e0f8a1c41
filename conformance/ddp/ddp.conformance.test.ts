/**
 * Mocha entry of the DDP conformance suite (`npm test`): starts pgrt's fixture server (`fixtures/server.ts`,
 * which implements the fixture contract in README.md), registers one `it` per case, and runs each through the
 * same {@link executeCase} as the CLI. Always-skipped cases appear as pending with their reason in the title;
 * the heartbeat-timing cases skip themselves when the fixture's heartbeat is long (set PGRT_CONFORMANCE_SLOW=1
 * to run them anyway).
 */
import { caseTimeout, levelOf, type SuiteOptions, skipReason } from './case.js';
import { allCases } from './cases/index.js';
import { type CaseResult, ddptestTimings, executeCase } from './runner.js';

describe('DDP conformance (pgrt fixture server)', () => {
  let options: SuiteOptions | undefined;
  let close: (() => Promise<void>) | undefined;
  let started = 0;
  const results: CaseResult[] = [];

  before(async function () {
    this.timeout(60000);
    const { startFixtureServer } = await import('./fixtures/server.js');
    const server = await startFixtureServer();
    close = () => server.close();
    options = {
      url: server.url,
      heartbeatMs: server.heartbeatMs,
      sockjsHeartbeatMs: server.sockjsHeartbeatMs,
      sockjsWelcome: true,
      slow: process.env.PGRT_CONFORMANCE_SLOW === '1',
      waitMs: 3000,
    };
    started = performance.now();
  });

  after(async function () {
    this.timeout(30000);
    const wallMs = performance.now() - started;
    await close?.();
    for (const line of ddptestTimings(results)) process.stdout.write(`\n  ${line}`);
    if (started > 0) process.stdout.write(`\n  DDP conformance: ${(wallMs / 1000).toFixed(2)} s wall time\n`);
  });

  for (const testCase of allCases) {
    // Every level must pass against pgrt (the CLI's --strict); the level is in the title.
    const title = `${testCase.id} [${levelOf(testCase)}] ${testCase.title}`;
    if (typeof testCase.skip === 'string') {
      it.skip(`${title} (skipped: ${testCase.skip})`);
      continue;
    }
    it(title, async function () {
      if (!options) throw new Error('the fixture server did not start');
      const reason = skipReason(testCase, options);
      if (reason !== undefined) {
        if (this.test) this.test.title = `${title} (skipped: ${reason})`;
        this.skip();
      }
      this.timeout(caseTimeout(testCase, options) + 5000);
      const result = await executeCase(testCase, options);
      results.push(result);
      if (result.status === 'failed') throw result.error;
    });
  }
});
