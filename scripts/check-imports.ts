/**
 * The import boundaries of DESIGN.md ("Dependencies point inward"), checked on the source tree:
 * - `core/` imports nothing outside `core/`;
 * - `transports/` imports `core/` and itself only;
 * - an adapter (`adapters/<name>/`, and the test-only toy in `test/adapters/<name>/`) imports `core/`,
 *   `transports/`, the contract `adapters/protocol-adapter.ts` and its own folder — never another adapter, never the
 *   registry, the server, the configuration or the CLI;
 * - `adapters/protocol-adapter.ts` imports `core/` and `transports/` only.
 * Tests (`*.test.ts`) and their `fixtures/` may import anything. Packages and Node built-ins are not checked.
 *
 * `npx tsx scripts/check-imports.ts [root]` prints each violation and exits 1 if there is any; npm test runs it
 * through test/architecture/imports.test.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** One import that crosses a boundary. */
export interface ImportViolation {
  /** Importing file, relative to the root, `/`-separated. */
  readonly file: string;
  /** The imported file, relative to the root. */
  readonly imports: string;
  readonly rule: string;
}

/** The area a file belongs to, for the rules: `core`, `transports`, `contract`, `adapter:<name>` or `other`. */
function areaOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'core') return 'core';
  if (parts[0] === 'transports') return 'transports';
  if (path === 'adapters/protocol-adapter.ts') return 'contract';
  if (parts[0] === 'adapters' && parts.length > 2) return `adapter:${parts[1]}`;
  if (parts[0] === 'test' && parts[1] === 'adapters' && parts.length > 3) return `adapter:test/${parts[2]}`;
  return 'other';
}

/** Why `from` may not import `to`, or undefined when it may. */
function ruleBroken(from: string, to: string): string | undefined {
  const source = areaOf(from);
  const target = areaOf(to);
  switch (source) {
    case 'core':
      return target === 'core' ? undefined : 'core imports nothing outside core';
    case 'transports':
      return target === 'core' || target === 'transports' ? undefined : 'transports import core only';
    case 'contract':
      return target === 'core' || target === 'transports'
        ? undefined
        : 'the adapter contract imports core and transports only';
    default:
      if (!source.startsWith('adapter:')) return undefined;
      return target === 'core' || target === 'transports' || target === 'contract' || target === source
        ? undefined
        : 'adapters import core, transports and the contract only, never each other';
  }
}

/** Source files under `dir` (relative to `root`), skipping node_modules, dist and hidden folders. */
function sourceFiles(root: string, dir = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (name === 'node_modules' || name === 'dist' || name === 'coverage' || name.startsWith('.')) continue;
    const path = dir ? `${dir}/${name}` : name;
    if (statSync(join(root, path)).isDirectory()) out.push(...sourceFiles(root, path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every import under `root` that crosses a boundary. */
export function importViolations(root: string): ImportViolation[] {
  const out: ImportViolation[] = [];
  for (const file of sourceFiles(root)) {
    if (file.endsWith('.test.ts') || file.includes('/fixtures/') || areaOf(file) === 'other') continue;
    const text = readFileSync(join(root, file), 'utf8');
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue; // a package or a Node built-in
      const target = relative(root, resolve(root, dirname(file), fileName.replace(/\.js$/, '.ts')))
        .split(sep)
        .join('/');
      const rule = ruleBroken(file, target);
      if (rule) out.push({ file, imports: target, rule });
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const violations = importViolations(root);
  for (const v of violations) process.stdout.write(`${v.file} → ${v.imports}: ${v.rule}\n`);
  process.stdout.write(`${violations.length} import-boundary violation(s)\n`);
  process.exitCode = violations.length > 0 ? 1 : 0;
}
