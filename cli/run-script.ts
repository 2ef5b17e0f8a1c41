/**
 * Runs one of pgrt's own scripts (a conformance runner, the bench) in a child Node process with the same loader
 * flags as this one (so `.ts` scripts run under tsx), inheriting stdio; resolves with its exit code. SIGINT and
 * SIGTERM are passed on to the child.
 */
import { spawn } from 'node:child_process';

/** Runs `node [execArgv] script ...args`; resolves to the exit code (1 when killed by a signal). */
export function runScript(
  script: string,
  args: readonly string[],
  execArgv = process.execArgv,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, script, ...args], { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('error', reject);
    child.once('exit', (code) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 1);
    });
  });
}
