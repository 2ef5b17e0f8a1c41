/**
 * Locating pgrt's own files from the running CLI, whether it runs from the sources (tsx: `cli/*.ts`) or from the
 * build (`dist/cli/*.js`): the package root, and a sibling script in the same form as the running code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);

/** `.ts` under tsx, `.js` when built. */
export const SCRIPT_EXTENSION = extname(here);

/** The directory holding the running code's tree (the repository root, or `dist/`). */
export const CODE_ROOT = join(dirname(here), '..');

/** The directory of pgrt's package.json (the repository root, or the installed package). */
export function packageRoot(): string {
  let dir = dirname(here);
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown };
      if (pkg.name === 'pgrt') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) return CODE_ROOT;
    dir = parent;
  }
}

/** pgrt's version from package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** `relative` (without extension) next to the running code, if it exists in the running form. */
export function siblingScript(relative: string): string | undefined {
  const path = join(CODE_ROOT, `${relative}${SCRIPT_EXTENSION}`);
  return existsSync(path) ? path : undefined;
}
