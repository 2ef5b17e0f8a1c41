/**
 * The CLI's logger: pino, JSON lines on stdout, or pino-pretty's human format on a terminal (`logFormat: auto`).
 * pino-pretty runs in-process as a stream (no worker thread), so lines are written before the process exits.
 */
import pino from 'pino';
import pretty from 'pino-pretty';
import type { PgrtConfig } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';

/** A pino logger per the config's `logLevel` and `logFormat`, with `err` serialized. */
export function createCliLogger(
  config: Pick<PgrtConfig, 'logLevel' | 'logFormat'>,
  stream: NodeJS.WritableStream = process.stdout,
): Logger {
  const isTty = 'isTTY' in stream && stream.isTTY === true;
  const usePretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && isTty);
  const options: pino.LoggerOptions = { level: config.logLevel, base: { pid: process.pid } };
  if (usePretty) {
    return pino(
      options,
      pretty({ colorize: isTty, destination: stream, sync: true, ignore: 'pid,hostname' }),
    );
  }
  return pino(options, stream === process.stdout ? pino.destination({ dest: 1, sync: true }) : stream);
}
