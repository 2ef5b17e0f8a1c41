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
  /**
   * Whether lines of `level` are written (pino has it). Optional: absent means every level may be; code that
   * would keep something per connection only to log it at debug asks first.
   */
  isLevelEnabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
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
  isLevelEnabled() {
    return false;
  },
};
