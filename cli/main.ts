#!/usr/bin/env node
/**
 * The `pgrt` executable (package.json `bin`). Parses the command line and exits with the command's code; `serve`
 * keeps the process alive until it is stopped by a signal.
 */
import { detachImportedExitHooks } from './process-hooks.js';
import { runCli } from './program.js';

detachImportedExitHooks();
runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`pgrt: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
