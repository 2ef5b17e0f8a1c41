/**
 * Mocha entry of the Supabase Realtime conformance suite (`npm test`): starts pgrt's fixture server
 * (`fixtures/server.ts`) and runs every case through the same {@link executeCase} as the CLI, every level counted.
 */
import { levelOf, type SuiteOptions, skipReason } from './case.js';
import { allCases } from './cases.js';
import { executeCase } from './runner.js';

describe('Supabase Realtime conformance (pgrt fixture server)', () => {
  let options: SuiteOptions | undefined;
  let close: (() => Promise<void>) | undefined;

  before(async function () {
    this.timeout(60000);
    const { startFixtureServer } = await import('./fixtures/server.js');
    const server = await startFixtureServer();
    close = () => server.close();
    options = {
      url: server.url,
      table: server.table,
      insert: server.insert,
      broadcast: true,
      pgrt: true,
      waitMs: 3000,
    };
  });

  after(async function () {
    this.timeout(30000);
    await close?.();
  });

  for (const testCase of allCases) {
    const title = `${testCase.id} [${levelOf(testCase)}] ${testCase.title}`;
    it(title, async function () {
      if (!options) throw new Error('the fixture server did not start');
      const reason = skipReason(testCase, options);
      if (reason !== undefined) {
        if (this.test) this.test.title = `${title} (skipped: ${reason})`;
        this.skip();
      }
      this.timeout(options.waitMs * 4 + 5000);
      const result = await executeCase(testCase, options);
      if (result.status === 'failed') throw result.error;
    });
  }
});
