/**
 * `pgrt config-schema`: prints the JSON Schema of `pgrt.config.json` (the file shipped as
 * `config/pgrt.config.schema.json` is this output; a test keeps them equal), and `pgrt config-env`: every
 * configuration key with its environment variable and default.
 */
import type { Command } from 'commander';
import { configJsonSchema, settingsOf } from '../../config/config-schema.js';
import { METEOR_ENV } from '../../config/load-config.js';
import type { Output } from '../output.js';

/** Registers `config-schema` and `config-env` on `program`. */
export function registerConfigCommands(program: Command, io: Output): void {
  program
    .command('config-schema')
    .summary('print the JSON Schema of pgrt.config.json')
    .description('Print the JSON Schema of pgrt.config.json, for editors ("$schema") and validators.')
    .action(() => {
      io.out(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  program
    .command('config-env')
    .summary('list every configuration key, its environment variable and default')
    .description('List every configuration key with its PGRT_* variable, default and description.')
    .action(() => {
      const meteor = new Map(Object.entries(METEOR_ENV).map(([name, path]) => [path, name]));
      for (const setting of settingsOf()) {
        const also = meteor.get(setting.path);
        const fallback = setting.default === undefined ? '' : ` (default ${JSON.stringify(setting.default)})`;
        io.out(
          `${setting.env}${also ? ` or ${also}` : ''}  ${setting.path}${fallback}  ${setting.description ?? ''}\n`,
        );
      }
    });
}
