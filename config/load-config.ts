/**
 * Builds the effective configuration from its layers, lowest first: the schema's defaults < a program's own
 * defaults (`npm start`'s) < the config file
 * (`pgrt.config.json`, or `--config`/`PGRT_CONFIG`) < Meteor's variables (`PORT`, `ROOT_URL`, `DATABASE_URL`,
 * `HTTP_FORWARDED_COUNT`) < `PGRT_*` variables < command-line flags. The layers are merged as raw values and
 * validated once, so an error names the key, the layer it came from and the allowed values.
 *
 * Unknown keys (in the file) and unknown `PGRT_*` variables are warnings, not errors: a typo must not stop a
 * deploy, but it must be visible.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { AnyProtocolAdapter } from '../adapters/protocol-adapter.js';
import {
  type AnyConfigSchema,
  configSchema,
  configSchemaFor,
  type PgrtConfig,
  type Setting,
  type SettingKind,
  screamingSnake,
  settingsOf,
} from './config-schema.js';

/** Default config file name, looked up in the working directory. */
export const CONFIG_FILE_NAME = 'pgrt.config.json';

/** Meteor's environment variables and the keys they set (below `PGRT_*`). */
export const METEOR_ENV: Readonly<Record<string, string>> = {
  PORT: 'port',
  ROOT_URL: 'rootUrl',
  DATABASE_URL: 'databaseUrl',
  HTTP_FORWARDED_COUNT: 'forwardedCount',
};

/** Variables starting with `PGRT_` that are not configuration keys. */
const NON_KEY_ENV = new Set(['PGRT_CONFIG', 'PGRT_TEST_DATABASE_URL', 'PGRT_SUMMARY_FILE']);

/** One invalid value. */
export interface ConfigIssue {
  /** Dotted key path (`ddp.heartbeatInterval`), or `(file)` for an unreadable file. */
  readonly key: string;
  /** Where the value came from: `default`, the file path, `env PGRT_PORT`, `flag --port`. */
  readonly source: string;
  readonly message: string;
}

/** The configuration is invalid; `issues` lists every offending key. Code `PGRT_CONFIG_INVALID`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'PGRT_CONFIG_INVALID';
  constructor(
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(
      `invalid configuration:\n${issues.map((i) => `  ${i.key} (from ${i.source}): ${i.message}`).join('\n')}`,
      options,
    );
  }
}

/** Inputs of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Config file path; absent: `PGRT_CONFIG`, else `./pgrt.config.json` when it exists. `false`: no file. */
  readonly file?: string | false;
  /** Environment (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by dotted key path (strings are read like env values; other types are taken as is). */
  readonly flags?: Readonly<Record<string, unknown>>;
  /** Directory for relative paths (default `process.cwd()`). */
  readonly cwd?: string;
  /**
   * A program's own defaults by dotted key path, above the schema's and below the file (`npm start` serves DDP and
   * WAMP by default); `source` names them in errors.
   */
  readonly defaults?: { readonly source: string; readonly values: Readonly<Record<string, unknown>> };
  /**
   * Every protocol adapter the server may speak (default: the built-in ones, adapters/builtin.ts): their sections
   * are configuration keys and their names the allowed `protocols`. Pass the built-ins plus the app's own.
   */
  readonly adapters?: readonly AnyProtocolAdapter[];
}

/** The effective configuration and how it was made. */
export interface LoadedConfig {
  readonly config: PgrtConfig;
  /** The file read, if any. */
  readonly file: string | undefined;
  /** Where each key that is not a default came from (dotted path → source). */
  readonly sources: ReadonlyMap<string, string>;
  /** Unknown keys and variables. */
  readonly warnings: readonly string[];
}

type Raw = Record<string, unknown>;

/** Reads, layers and validates the configuration. Throws {@link ConfigError}. */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const schema: AnyConfigSchema = options.adapters ? configSchemaFor(options.adapters) : configSchema;
  const settings = settingsOf(schema);
  const byPath = new Map(settings.map((s) => [s.path, s]));
  const merged: Raw = {};
  const sources = new Map<string, string>();
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];

  for (const [path, value] of Object.entries(options.defaults?.values ?? {}))
    set(merged, sources, path, value, options.defaults?.source ?? 'defaults');
  const file = configFilePath(options.file, env, cwd);
  if (file) {
    const content = readConfigFile(file);
    for (const key of unknownKeys(content, byPath)) warnings.push(`${file}: unknown key "${key}" ignored`);
    for (const [path, value] of leaves(content)) set(merged, sources, path, value, file);
  }
  for (const [name, path] of Object.entries(METEOR_ENV)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    readLayer(byPath.get(path)!, text, `env ${name}`);
  }
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('PGRT_') || NON_KEY_ENV.has(name) || text === undefined) continue;
    const setting = settings.find((s) => s.env === name);
    if (!setting) {
      warnings.push(`unknown environment variable ${name} ignored`);
      continue;
    }
    readLayer(setting, text, `env ${name}`);
  }
  for (const [path, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    const setting = byPath.get(path);
    const source = `flag ${flagName(path)}`;
    if (!setting) {
      issues.push({ key: path, source, message: 'no such configuration key' });
      continue;
    }
    if (typeof value === 'string') readLayer(setting, value, source);
    else set(merged, sources, path, value, source);
  }

  function readLayer(setting: Setting, text: string, source: string): void {
    const value = parseText(setting.kind, text);
    if (value === undefined) {
      issues.push({ key: setting.path, source, message: `expected ${describeKind(setting)}, got "${text}"` });
      return;
    }
    set(merged, sources, setting.path, value, source);
  }

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const unreadable = new Set(issues.map((i) => i.key));
    for (const issue of parsed.error.issues) {
      const converted = toIssue(issue, sources, byPath);
      if (!unreadable.has(converted.key)) issues.push(converted);
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);
  // The built-in keys are typed; keys of other adapters are there too, read them by their section name.
  return { config: parsed.data as PgrtConfig, file, sources, warnings };
}

/**
 * The value a string key would get from the layers (flags > `PGRT_*` > file), read without validating anything:
 * how the CLI finds the app module (`app`) whose adapters decide the schema the rest is validated with.
 */
export function peekConfigString(key: string, options: LoadConfigOptions = {}): string | undefined {
  const flag = options.flags?.[key];
  if (typeof flag === 'string' && flag !== '') return flag;
  const env = options.env ?? process.env;
  const fromEnv = env[`PGRT_${key.split('.').map(screamingSnake).join('_')}`];
  if (fromEnv) return fromEnv;
  const file = configFilePath(options.file, env, options.cwd ?? process.cwd());
  if (!file || !existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined; // loadConfig reports it
  }
  for (const part of key.split('.')) value = isRecord(value) ? value[part] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `ddp.heartbeatInterval` → `--ddp-heartbeat-interval` (the generic `--set` form works for every key). */
export function flagName(path: string): string {
  return `--${path
    .split('.')
    .map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase())
    .join('-')}`;
}

function configFilePath(
  file: string | false | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): string | undefined {
  if (file === false) return undefined;
  const explicit = file ?? env.PGRT_CONFIG;
  if (explicit) return resolve(cwd, explicit);
  const fallback = resolve(cwd, CONFIG_FILE_NAME);
  return existsSync(fallback) ? fallback : undefined;
}

function readConfigFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([{ key: '(file)', source: file, message: `cannot read: ${messageOf(error)}` }], {
      cause: error,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([{ key: '(file)', source: file, message: `not JSON: ${messageOf(error)}` }], {
      cause: error,
    });
  }
  if (!isRecord(value))
    throw new ConfigError([{ key: '(file)', source: file, message: 'must contain a JSON object' }]);
  return value;
}

/** Dotted paths of `input`'s keys that the schema does not know. */
function unknownKeys(input: Raw, known: ReadonlyMap<string, Setting>): string[] {
  const out: string[] = [];
  for (const [path] of leaves(input)) {
    if (path === '$schema' || known.has(path)) continue;
    // A leaf inside a known object key with a wrong shape is a validation error, not an unknown key.
    out.push(path);
  }
  return out;
}

/** Leaf values of a nested object by dotted path (arrays and non-objects are leaves). */
function leaves(value: Raw, prefix = ''): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isRecord(child) && Object.keys(child).length > 0) out.push(...leaves(child, path));
    else out.push([path, child]);
  }
  return out;
}

function set(target: Raw, sources: Map<string, string>, path: string, value: unknown, source: string): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (isRecord(next)) node = next;
    else {
      const created: Raw = {};
      node[part] = created;
      node = created;
    }
  }
  node[parts[parts.length - 1]!] = value;
  sources.set(path, source);
}

/** Reads an env/flag string as `kind`; undefined when it is not one. */
function parseText(kind: SettingKind, text: string): unknown {
  const trimmed = text.trim();
  switch (kind) {
    case 'string':
      return text;
    case 'integer':
    case 'number': {
      if (!/^-?\d+(\.\d+)?$/.test(trimmed)) return undefined;
      return Number(trimmed);
    }
    case 'boolean': {
      const lower = trimmed.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
      if (['0', 'false', 'no', 'off'].includes(lower)) return false;
      return undefined;
    }
    case 'list':
      return trimmed
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  }
}

function describeKind(setting: Setting): string {
  switch (setting.kind) {
    case 'boolean':
      return 'a boolean (true/false, 1/0, yes/no, on/off)';
    case 'integer':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'list':
      return `a comma-separated list of ${setting.values?.join(', ') ?? 'values'}`;
    case 'string':
      return 'a string';
  }
}

function toIssue(
  issue: z.core.$ZodIssue,
  sources: ReadonlyMap<string, string>,
  byPath: ReadonlyMap<string, Setting>,
): ConfigIssue {
  const numeric = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const key = numeric.filter((p) => typeof p === 'string').join('.') || '(root)';
  const source = sources.get(key) ?? 'default';
  const setting = byPath.get(key);
  let message = issue.message;
  if (setting?.values && !message.includes(setting.values[0]!))
    message = `${message}; allowed: ${setting.values.join(', ')}`;
  return { key, source, message };
}

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
