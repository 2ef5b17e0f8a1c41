/**
 * Builds the demo page (`web/`: index.html, style.css and the browser code in client.ts) into a folder that pgrt
 * serves as a Meteor-style web client (`ddp({ meteorClient: { staticDir } })`). The browser code and its
 * npm dependencies (simpleddp, sockjs-client) are bundled with esbuild: nothing comes from a CDN or the network.
 * Editing a file under `web/` while `npm start` runs rebuilds the bundle; pgrt then pushes the new version and
 * open pages reload (hot code push).
 */
import { copyFileSync, type FSWatcher, mkdirSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The demo page's sources. */
export const WEB_SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'web');

/** Bundles the page into `outDir` (created if missing). Takes well under a second. */
export async function buildWebClient(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(WEB_SOURCE_DIR, 'client.ts')],
    outfile: join(outDir, 'client.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    // sockjs-client and its dependencies read `global` and `process.env`, as under browserify.
    define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
  });
  for (const file of ['index.html', 'style.css'])
    copyFileSync(join(WEB_SOURCE_DIR, file), join(outDir, file));
}

/** Rebuilds into `outDir` whenever a source changes (debounced); failures go to `onError`. */
export function watchWebClient(outDir: string, onError: (error: unknown) => void): FSWatcher {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(WEB_SOURCE_DIR, { persistent: false }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      buildWebClient(outDir).catch(onError);
    }, 100);
  });
  watcher.on('error', onError);
  return watcher;
}
