/**
 * The `pgrt` command line: `serve`, `migrate`, `doctor`, `conformance`, `bench`, `config-schema`, `config-env`.
 * Built with commander; every command has `--help`. Errors carrying an `exitCode` (usage, configuration) are
 * printed without a stack.
 */
import { Command, CommanderError } from 'commander';
import { builtinAdapters } from '../adapters/builtin.js';
import type { AnyProtocolAdapter } from '../adapters/protocol-adapter.js';
import { ConfigError } from '../config/load-config.js';
import { registerBench } from './commands/bench.js';
import { registerConfigCommands } from './commands/config-schema.js';
import { registerConformance } from './commands/conformance.js';
import { registerDoctor } from './commands/doctor.js';
import { registerMigrate } from './commands/migrate.js';
import { registerServe } from './commands/serve.js';
import { type Output, processOutput, UsageError } from './output.js';
import { packageVersion } from './package-root.js';

/** Options of {@link createProgram} and {@link runCli}. */
export interface CliOptions {
  /**
   * Protocol adapters of an app's own command line, beside the built-in ones: their flags join `serve`'s and their
   * sections the configuration (an app module's `adapters` export does the latter without a program of its own).
   */
  readonly adapters?: readonly AnyProtocolAdapter[];
}

/** Builds the program, writing through `io`. */
export function createProgram(io: Output = processOutput, options: CliOptions = {}): Command {
  const adapters = [...builtinAdapters, ...(options.adapters ?? [])];
  const program = new Command('pgrt')
    .description(
      'pgrt: a realtime server for DDP (Meteor) and WAMP clients, data in PostgreSQL, LISTEN/NOTIFY as the bus.\n' +
        'Configuration: defaults < pgrt.config.json < PGRT_* (and PORT, ROOT_URL, DATABASE_URL, ' +
        'HTTP_FORWARDED_COUNT) < flags. See docs/cli.md and docs/configuration.md.',
    )
    .version(packageVersion(), '-v, --version')
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .showHelpAfterError('(pgrt --help lists the commands)')
    .exitOverride();
  registerServe(program, io, adapters);
  registerMigrate(program, io, adapters);
  registerDoctor(program, io, adapters);
  registerConformance(program);
  registerBench(program);
  registerConfigCommands(program, io);
  for (const command of program.commands) command.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Runs the CLI with `argv` (process.argv form); resolves to the exit code to use. */
export async function runCli(
  argv: readonly string[],
  io: Output = processOutput,
  options: CliOptions = {},
): Promise<number> {
  try {
    await createProgram(io, options).parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError) {
      io.err(`pgrt: ${error.message}\n`);
      return 2;
    }
    if (error instanceof UsageError) {
      io.err(`pgrt: ${error.message}\n`);
      return error.exitCode;
    }
    io.err(`pgrt: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
