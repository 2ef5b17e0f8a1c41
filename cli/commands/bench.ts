/**
 * `pgrt bench [scenario...]`: runs the benchmarks (bench/run.ts; its SCENARIOS), each scenario in its own process,
 * and prints their figures against DESIGN.md's targets; `--compare` / `--write-baseline` check or store the run's
 * ratios (bench/baseline.json). The bench is TypeScript run by tsx and
 * ships with the source repository, not the npm package; from a package install this command says so.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../output.js';
import { packageRoot } from '../package-root.js';
import { runScript } from '../run-script.js';

/** Registers `bench` on `program`. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .summary('run the benchmarks (source checkout only)')
    .description(
      'Run the benchmark scenarios (default: every scenario bench/run.ts lists) and print each figure ' +
        'against its target. Environment: BENCH_SECONDS, BENCH_QUICK=1, BENCH_PIN=0, BENCH_OUT=file.json. ' +
        'Needs the source repository (bench/ and tsx); figures are printed, never asserted, except with ' +
        '--compare (exit code 3 when a ratio is worse than bench/baseline.json by more than 10%).',
    )
    .argument('[scenarios...]', 'scenarios to run')
    .option('--compare', "compare the run's ratios with bench/baseline.json")
    .option('--write-baseline', "store the run's ratios in bench/baseline.json (per scenario)")
    .action(async (names: string[], options: { compare?: boolean; writeBaseline?: boolean }) => {
      const scenarios = [
        ...names,
        ...(options.compare ? ['--compare'] : []),
        ...(options.writeBaseline ? ['--write-baseline'] : []),
      ];
      const root = packageRoot();
      const script = join(root, 'bench', 'run.ts');
      if (!existsSync(script))
        throw new UsageError(
          'the bench ships with the source repository only: clone pgrt and run npm run bench',
        );
      let tsx: string;
      try {
        tsx = createRequire(join(root, 'package.json')).resolve('tsx');
      } catch {
        throw new UsageError('the bench needs tsx (a devDependency): run npm install in the repository');
      }
      process.exitCode = await runScript(script, scenarios, ['--import', pathToFileURL(tsx).href]);
    });
}
