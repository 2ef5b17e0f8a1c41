/**
 * Mocha entry of the DDP conformance suite (`npm test`, conformance/fixtures/mocha-suite.ts): starts pgrt's fixture
 * server (`fixtures/server.ts`, which implements the fixture contract in README.md) and runs every case through the
 * same {@link executeCase} as the CLI. The heartbeat-timing cases skip themselves when the fixture's heartbeat is
 * long (set PGRT_CONFORMANCE_SLOW=1 to run them anyway). Prints the talk's ddptest timings and the wall time.
 */
import { describeConformance } from '../fixtures/mocha-suite.js';
import { caseTimeout, levelOf, type SuiteOptions, skipReason } from './case.js';
import { allCases } from './cases/index.js';
import { type CaseResult, ddptestTimings, executeCase } from './runner.js';

const results: CaseResult[] = [];

describeConformance<SuiteOptions>({
  name: 'DDP conformance (pgrt fixture server)',
  async start() {
    const { startFixtureServer } = await import('./fixtures/server.js');
    const server = await startFixtureServer();
    const options: SuiteOptions = {
      url: server.url,
      heartbeatMs: server.heartbeatMs,
      sockjsHeartbeatMs: server.sockjsHeartbeatMs,
      sockjsWelcome: true,
      slow: process.env.PGRT_CONFORMANCE_SLOW === '1',
      waitMs: 3000,
    };
    return { options, close: () => server.close() };
  },
  runs: allCases.map((testCase) => ({
    title: `${testCase.id} [${levelOf(testCase)}] ${testCase.title}`,
    ...(typeof testCase.skip === 'string' ? { skip: testCase.skip } : {}),
    skipReason: (options) => skipReason(testCase, options),
    timeoutMs: (options) => caseTimeout(testCase, options),
    async execute(options) {
      const result = await executeCase(testCase, options);
      results.push(result);
      return result;
    },
  })),
  report: (wallMs) => [
    ...ddptestTimings(results),
    `DDP conformance: ${(wallMs / 1000).toFixed(2)} s wall time`,
  ],
});
