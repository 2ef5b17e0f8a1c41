// Copies what tsc does not emit into dist/: the `.sql` migrations of every `migrations/` folder under the library's
// source folders (core/database/migrations/, a plug-in's own), keeping their paths, so the built modules find them
// next to themselves (`new URL('./migrations/', import.meta.url)`). Run by `npm run build` after tsc.
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['core', 'adapters', 'transports'];
let copied = 0;

function walk(folder) {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === 'fixtures' || entry.name === 'node_modules') continue;
    const path = join(folder, entry.name);
    if (entry.name === 'migrations') {
      const target = join(root, 'dist', relative(root, path));
      mkdirSync(target, { recursive: true });
      for (const file of readdirSync(path).filter((name) => name.endsWith('.sql'))) {
        cpSync(join(path, file), join(target, file));
        copied++;
      }
    }
    walk(path);
  }
}

for (const source of SOURCES) if (existsSync(join(root, source))) walk(join(root, source));
console.log(`copy-assets: ${copied} .sql migration(s) copied to dist/`);
