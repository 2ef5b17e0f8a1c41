/**
 * Builds the demo pages (`web/`: index.html with its browser code in client.ts; side-by-side.html with
 * side-by-side.ts, pane.ts and Autobahn|JS; style.css) into a folder that pgrt serves as a Meteor-style web client
 * (`ddp({ meteorClient: { staticDir } })`). The browser code and its npm dependencies (simpleddp, sockjs-client,
 * @supabase/supabase-js) are bundled with esbuild, and `autobahn-browser`'s bundle is copied from node_modules:
 * nothing comes from a CDN or the network.
 * Editing a file under `web/` while `npm start` runs rebuilds the bundle; pgrt then pushes the new version and
 * open pages reload (hot code push).
 */
import { copyFileSync, type FSWatcher, mkdirSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The demo page's sources. */
export const WEB_SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'web');

/** Autobahn|JS's browser bundle, loaded by side-by-side.html with a script tag (global `autobahn`). */
const AUTOBAHN_JS = createRequire(import.meta.url).resolve('autobahn-browser/autobahn.min.js');

/** Bundles the pages into `outDir` (created if missing): `client.js` and `side-by-side.js`. About a second. */
export async function buildWebClient(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(WEB_SOURCE_DIR, 'client.ts'), join(WEB_SOURCE_DIR, 'side-by-side.ts')],
    outdir: outDir,
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
  for (const file of ['index.html', 'side-by-side.html', 'style.css'])
    copyFileSync(join(WEB_SOURCE_DIR, file), join(outDir, file));
  copyFileSync(AUTOBAHN_JS, join(outDir, 'autobahn.min.js'));
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
