/**
 * Loads the app module named on the command line (`pgrt serve ./app.js`). The module exports `app` — an `App`, or
 * a function returning one (sync or async) — or a default export of either, and optionally
 * `migrate(db: Queryable): Promise<void>`, run at every start under the start-up advisory lock, after the versioned
 * migrations (create the app's tables there, idempotently; or register `.sql` migrations with `app.migrations`), and
 * `adapters`: protocol adapters of its own (adapters/README.md), which join the built-in ones — their names may
 * be listed in `protocols` and their sections configured like any other.
 *
 * Plain JavaScript loads under `node`; a TypeScript module needs a loader (`node --import tsx …`).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnyProtocolAdapter } from '../adapters/protocol-adapter.js';
import { App } from '../core/app.js';
import type { Queryable } from '../core/database/database.js';
import { UsageError } from './output.js';

/** A loaded app module. */
export interface AppModule {
  readonly app: App;
  readonly migrate: ((db: Queryable) => Promise<void>) | undefined;
  /** The module's own protocol adapters (`export const adapters = [...]`), if any. */
  readonly adapters?: readonly AnyProtocolAdapter[] | undefined;
  /** Absolute path of the module. */
  readonly path: string;
}

/** Imports and checks the app module at `specifier` (relative to `cwd`). Throws {@link UsageError}. */
export async function loadAppModule(specifier: string, cwd = process.cwd()): Promise<AppModule> {
  const path = resolve(cwd, specifier);
  if (!existsSync(path)) throw new UsageError(`app module not found: ${path}`);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const hint = /\.[cm]?ts$/.test(path) ? ' (a TypeScript module needs `node --import tsx`)' : '';
    throw new UsageError(`cannot load app module ${path}${hint}: ${messageOf(error)}`, { cause: error });
  }
  const candidate = exports.app ?? exports.default;
  const app = typeof candidate === 'function' && !isApp(candidate) ? await candidate() : candidate;
  if (!isApp(app))
    throw new UsageError(
      `${path} must export \`app\` (an App from pgrt, or a function returning one); found ${describe(candidate)}`,
    );
  const migrate = exports.migrate;
  if (migrate !== undefined && typeof migrate !== 'function')
    throw new UsageError(`${path}: \`migrate\` must be a function (db) => Promise<void>`);
  const adapters = exports.adapters;
  if (adapters !== undefined && !(Array.isArray(adapters) && adapters.every(isAdapter)))
    throw new UsageError(
      `${path}: \`adapters\` must be an array of protocol adapters ({ name, config, fromConfig })`,
    );
  return { app, migrate: migrate as AppModule['migrate'], adapters, path };
}

/** A protocol adapter's shape (adapters/protocol-adapter.ts). */
function isAdapter(value: unknown): value is AnyProtocolAdapter {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.name === 'string' &&
    typeof v.config === 'object' &&
    v.config !== null &&
    typeof v.fromConfig === 'function'
  );
}

/** An App, also when the module imported another copy of pgrt (instanceof would fail). */
function isApp(value: unknown): value is App {
  if (value instanceof App) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.collections instanceof Map && v.methods instanceof Map && v.publications instanceof Map;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no `app` or default export';
  if (value === null) return 'null';
  return typeof value === 'object'
    ? `an object (${value.constructor?.name ?? 'Object'})`
    : `a ${typeof value}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
