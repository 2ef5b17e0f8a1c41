/**
 * `pgrt conformance <protocol> <url> [options]`: runs a black-box conformance suite against any server — ours, a
 * Meteor server, a WAMP router. Delegates to `conformance/<protocol>/cli` (same options; pass `-- --help` for
 * them) and exits with its code: 0 no MUST case failed (with --strict: no case), 1 otherwise, 2 bad usage.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../output.js';
import { CODE_ROOT, siblingScript } from '../package-root.js';
import { runScript } from '../run-script.js';

/** Protocols with a conformance command line in this build. */
export function conformanceProtocols(): string[] {
  try {
    return readdirSync(join(CODE_ROOT, 'conformance'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && siblingScript(`conformance/${entry.name}/cli`) !== undefined)
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}

/** Registers `conformance` on `program`. */
export function registerConformance(program: Command): void {
  program
    .command('conformance')
    .summary('run a protocol conformance suite against a server URL')
    .description(
      `Run the black-box conformance suite of <protocol> (available: ${conformanceProtocols().join(', ') || 'none'}) ` +
        'against <url>, e.g. pgrt conformance ddp ws://127.0.0.1:3000/websocket. Options after the URL go to the ' +
        "suite's own command line (pgrt conformance ddp <url> -- --help lists them). Exit code 0 when no MUST case " +
        'failed (with --strict: no case at all), 1 otherwise, 2 on bad usage.',
    )
    .argument('<protocol>', 'ddp, wamp or supabase')
    .argument('<url>', 'the server endpoint, e.g. ws://127.0.0.1:3000/websocket')
    .argument('[options...]', "the suite's options (--group, --case, --bail, --strict, …)")
    .allowUnknownOption()
    .helpOption('-h, --help', "show this help (the suite's own: -- --help)")
    .action(async (protocol: string, url: string, options: string[]) => {
      const script = siblingScript(`conformance/${protocol}/cli`);
      if (!script) {
        const known = conformanceProtocols();
        throw new UsageError(
          `no conformance suite for "${protocol}" in this build (available: ${known.join(', ') || 'none'})`,
        );
      }
      process.exitCode = await runScript(script, [url, ...options.filter((o) => o !== '--')]);
    });
}
