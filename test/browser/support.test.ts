/**
 * The browser suites' guard: with Chromium present they run, without it they skip themselves, and under
 * PGRT_REQUIRE_BROWSER=1 (what `.ci/run` sets) a missing Chromium fails instead of skipping.
 */
import assert from 'node:assert/strict';
import { requireChromium } from './support.js';

describe('requireChromium', () => {
  const missing = '/nonexistent/pgrt-test/chromium';
  /** Mocha's `this.skip()` throws to end the hook; the recorder does the same with its own marker. */
  class Skipped extends Error {}
  const recorder = () => {
    const calls: string[] = [];
    const skip = (): never => {
      calls.push('skip');
      throw new Skipped();
    };
    return { calls, context: { skip } };
  };

  it('skips the suite when Chromium is missing and no browser is required', () => {
    const { calls, context } = recorder();
    assert.throws(() => requireChromium(context, {}, missing), Skipped);
    assert.deepEqual(calls, ['skip']);
  });

  it('fails, naming the binary, when Chromium is missing and PGRT_REQUIRE_BROWSER=1', () => {
    const { calls, context } = recorder();
    assert.throws(
      () => requireChromium(context, { PGRT_REQUIRE_BROWSER: '1' }, missing),
      /Chromium not found at \/nonexistent\/pgrt-test\/chromium and PGRT_REQUIRE_BROWSER=1/,
    );
    assert.deepEqual(calls, []);
  });

  it('lets the suite run when the binary exists', () => {
    const { calls, context } = recorder();
    requireChromium(context, { PGRT_REQUIRE_BROWSER: '1' }, process.execPath);
    assert.deepEqual(calls, []);
  });
});
