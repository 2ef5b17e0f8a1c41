/**
 * Where the CLI's own text goes (usage, progress, reports). Logs of a running server go through pino instead;
 * tests pass a capturing writer.
 */

/** The CLI's text output. */
export interface Output {
  /** Normal output (stdout). */
  out(text: string): void;
  /** Diagnostics and errors (stderr). */
  err(text: string): void;
}

/** Writes to the process's stdout and stderr. */
export const processOutput: Output = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
};

/** A usage or input error: printed without a stack, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'PGRT_USAGE';
  readonly exitCode = 2;
}
