/**
 * A ratchet on fixed sleeps in test files: a test waits on a condition (test/fixtures/wait.ts `waitUntil`, a
 * round trip after which an absent message would have arrived), not for a number of milliseconds. A line that
 * sleeps (a call of `delay`/`sleep` with an argument, or a promise resolved by `setTimeout`) is allowed only in
 * the files below, at most as many times as listed, each with its reason. Adding one fails this test; removing
 * one fails it too until the allowance is lowered, so the list only shrinks.
 * Count by hand: `grep -rcE` with the pattern of SLEEP below over the *.test.ts files (this one excepted: it holds
 * examples).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../cli/fixtures/cli-process.js';

/** A line that sleeps a fixed time. */
const SLEEP = /\b(delay|sleep)\([^)]|setTimeout\((resolve|r)\b|setTimeout\(\(\) => resolve\(\)/;

const PACING = 'paces background writers or clients (load shape, not synchronization)';

/** Files allowed fixed sleeps: how many lines, and why. */
const ALLOWED: Record<string, { readonly lines: number; readonly why: string }> = {
  'adapters/ddp/heartbeat.test.ts': { lines: 1, why: 'a deadline raced against the close it waits for' },
  'adapters/ddp/resumption.test.ts': {
    lines: 3,
    why: 'the resumption grace window is the feature: outlast it',
  },
  'adapters/ddp/unblock.test.ts': {
    lines: 3,
    why: 'a slow method body, the thing unblock() lets others overtake',
  },
  'transports/timer-wheel.test.ts': { lines: 4, why: 'timers are the feature: real time must pass' },
  'core/database/database.test.ts': {
    lines: 1,
    why: "the pool's idle timeout is the feature: a timer of the same length made after it fires after it",
  },
  'test/faults/postgres-outage.test.ts': { lines: 2, why: 'keeps PostgreSQL down for a measured outage' },
  'test/wire/resumption.test.ts': { lines: 5, why: 'grace window outlasted (GRACE_MS); writers paced' },
  'test/wire/outbox-convergence.test.ts': { lines: 3, why: PACING },
  'test/faults/nats-restart.test.ts': { lines: 1, why: PACING },
  'test/faults/pump-kill.test.ts': { lines: 1, why: PACING },
  'test/wire/outbox-failover.test.ts': { lines: 2, why: PACING },
  'test/wire/shutdown-rolling.test.ts': { lines: 1, why: PACING },
  'test/wire/listener-failure.test.ts': { lines: 2, why: PACING },
  'core/bus/pg-notification-bus.test.ts': { lines: 1, why: PACING },
};

const SKIP = new Set(['node_modules', 'dist', 'coverage', '.pgrt', '.git', 'scratch']);
/** This file: its examples of sleeping lines are not sleeps. */
const SELF = 'test/architecture/fixed-sleeps.test.ts';

function testFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) testFiles(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(relative(ROOT, path));
  }
  return out;
}

/** Lines of `text` that sleep, as `line: text`. */
function sleepingLines(text: string): string[] {
  return text
    .split('\n')
    .map((line, index) => ({ line, number: index + 1 }))
    .filter(({ line }) => SLEEP.test(line))
    .map(({ line, number }) => `${number}: ${line.trim()}`);
}

describe('fixed sleeps in tests (ratchet)', () => {
  it('recognizes sleeping lines and leaves deadlines and polling helpers alone', () => {
    const text = [
      'await delay(20);',
      'await sleep(GRACE_MS + 150);',
      'await new Promise((resolve) => setTimeout(resolve, 50));',
      'await new Promise((r) => setTimeout(r, 20));',
      'const timer = setTimeout(() => reject(new Error("timeout")), 5000);',
      'await waitUntil(() => seen.length === 2);',
      'await client.roundTrip();',
    ].join('\n');
    assert.deepEqual(sleepingLines(text), [
      '1: await delay(20);',
      '2: await sleep(GRACE_MS + 150);',
      '3: await new Promise((resolve) => setTimeout(resolve, 50));',
      '4: await new Promise((r) => setTimeout(r, 20));',
    ]);
  });

  it('no test file sleeps more than its allowance, and every allowance is used in full', () => {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const file of testFiles(ROOT)) {
      if (file === SELF) continue;
      const lines = sleepingLines(readFileSync(join(ROOT, file), 'utf8'));
      const allowed = ALLOWED[file]?.lines ?? 0;
      if (lines.length > 0) seen.add(file);
      if (lines.length > allowed) {
        problems.push(
          `${file}: ${lines.length} fixed sleeps, ${allowed} allowed; wait on a condition instead ` +
            `(test/fixtures/wait.ts):\n    ${lines.join('\n    ')}`,
        );
      } else if (lines.length < allowed) {
        problems.push(`${file}: ${lines.length} fixed sleeps, ${allowed} allowed: lower its allowance`);
      }
    }
    for (const file of Object.keys(ALLOWED)) {
      if (!seen.has(file))
        problems.push(`${file}: allowed fixed sleeps but has none (or is gone): remove it`);
    }
    assert.deepEqual(problems, []);
  });
});
