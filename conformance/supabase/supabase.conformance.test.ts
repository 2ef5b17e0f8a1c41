/**
 * Mocha entry of the Supabase Realtime conformance suite (`npm test`, conformance/fixtures/mocha-suite.ts): starts
 * pgrt's fixture server (`fixtures/server.ts`) and runs every case through the same {@link executeCase} as the CLI,
 * every level counted.
 */
import { describeConformance } from '../fixtures/mocha-suite.js';
import { levelOf, type SuiteOptions, skipReason } from './case.js';
import { allCases } from './cases.js';
import { caseTimeout, executeCase } from './runner.js';

describeConformance<SuiteOptions>({
  name: 'Supabase Realtime conformance (pgrt fixture server)',
  async start() {
    const { startFixtureServer } = await import('./fixtures/server.js');
    const server = await startFixtureServer();
    const options: SuiteOptions = {
      url: server.url,
      table: server.table,
      insert: server.insert,
      sql: server.sql,
      broadcast: true,
      pgrt: true,
      waitMs: 3000,
    };
    return { options, close: () => server.close() };
  },
  runs: allCases.map((testCase) => ({
    title: `${testCase.id} [${levelOf(testCase)}] ${testCase.title}`,
    skipReason: (options) => skipReason(testCase, options),
    timeoutMs: caseTimeout,
    execute: (options) => executeCase(testCase, options),
  })),
});
