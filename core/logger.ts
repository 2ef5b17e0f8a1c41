/**
 * The logging port used everywhere in pgrt. pino satisfies it; library code never calls `console.*`.
 */

/** Structured logger: `fields` first, like pino. */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  /** A logger that adds `fields` to every line. */
  child(fields: object): Logger;
}

/** Injection token for {@link Logger}. */
export const LoggerToken = Symbol('pgrt.Logger');

/** A logger that drops everything (the default in tests and when none is given). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
