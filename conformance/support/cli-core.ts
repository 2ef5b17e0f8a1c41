/**
 * What the suites' command lines share: bad usage (the message, then the usage text, exit code 2), positive-integer
 * options, the one `<ws-url>` positional, and reporting a crash of `main` (exit code 1).
 */

/** Usage checks of one command line, each ending the process with exit code 2 and `usage` on failure. */
export interface UsageChecks {
  /** Says `message` and the usage text on stderr and exits 2. */
  fail(message: string): never;
  /** `run()`'s value; whatever it throws (an unknown option, an unknown case) is bad usage. */
  orFail<T>(run: () => T): T;
  /** `value` as a positive integer, `fallback` when absent. */
  positiveInt(value: string | undefined, name: string, fallback: number): number;
  /** The single positional, which must be a ws:// or wss:// URL. */
  wsUrl(positionals: readonly string[]): string;
}

/** The {@link UsageChecks} of a command line whose usage text is `usage`. */
export function usageChecks(usage: string): UsageChecks {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n\n${usage}`);
    process.exit(2);
  };
  return {
    fail,
    orFail<T>(run: () => T): T {
      try {
        return run();
      } catch (error) {
        return fail(error instanceof Error ? error.message : String(error));
      }
    },
    positiveInt(value, name, fallback) {
      if (value === undefined) return fallback;
      const n = Number(value);
      if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, got "${value}"`);
      return n;
    },
    wsUrl(positionals) {
      const [url, ...rest] = positionals;
      if (url === undefined || rest.length > 0) return fail('expected exactly one <ws-url>');
      if (!/^wss?:\/\//.test(url)) fail(`<ws-url> must start with ws:// or wss://, got "${url}"`);
      return url;
    },
  };
}

/** Runs a command line's `main`; a crash is printed with its stack and sets exit code 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
