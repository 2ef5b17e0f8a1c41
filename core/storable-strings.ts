/**
 * Strings PostgreSQL cannot store (issue 12 item 8): `text` and `jsonb` refuse the NUL character (`\u0000`), and
 * UTF-8 has no encoding for a lone UTF-16 surrogate (U+D800–U+DFFF without its pair), which `pg` would send as
 * U+FFFD or the server would refuse. A client that puts one in a parameter would otherwise reach the database and
 * come back as a 500 with an error-level log line it can repeat at will.
 *
 * Every parameter a client sends to a method or a publication passes {@link unstorableParam} once, in the core
 * session (core/session.ts: `call`, `subscribe`), before rate limits, guards, schemas and handlers: whatever the
 * protocol (DDP, a WAMP CALL through the core bridge), whatever the method (`login` and `createUser` included).
 * Strings and object keys are checked at any depth; other values (numbers, dates, binary) hold no text.
 */
import { ClientError } from './errors.js';

/** Why a string cannot be stored: a NUL character or a lone surrogate. */
export type UnstorableProblem = 'nul' | 'lone-surrogate';

/**
 * 400 `Match failed`: what Meteor's `check()` gives for bad input (its sanitized `Match.Error`). `details` names the
 * offending parameter by its dotted path (`0.title`), in the shape of a validation issue.
 */
export class UnstorableStringError extends ClientError {
  override readonly name = 'UnstorableStringError';
  constructor(path: string, problem: UnstorableProblem) {
    super(400, 'Match failed', [
      {
        name: path,
        type: 'unstorable_string',
        message: problem === 'nul' ? 'contains a NUL character' : 'contains a lone UTF-16 surrogate',
      },
    ]);
  }
}

/** In `u` mode a surrogate pair is one code point, so only a lone surrogate is a `Cs` code point. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Any NUL or surrogate code unit: one cheap scan, and most text has neither. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding NUL is the point
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

/** The problem of `text`, or undefined when PostgreSQL can store it. */
export function unstorable(text: string): UnstorableProblem | undefined {
  if (!SUSPECT.test(text)) return undefined;
  if (text.includes('\u0000')) return 'nul';
  if (LONE_SURROGATE.test(text)) return 'lone-surrogate';
  return undefined;
}

/**
 * The {@link UnstorableStringError} for the first string (or object key) in `params` that PostgreSQL cannot store,
 * or undefined. Walks arrays and plain objects; cyclic input cannot arrive (parameters are decoded from JSON).
 */
export function unstorableParam(params: readonly unknown[]): UnstorableStringError | undefined {
  for (let i = 0; i < params.length; i++) {
    const found = find(params[i]);
    if (found) return new UnstorableStringError([i, ...found.path.reverse()].join('.'), found.problem);
  }
  return undefined;
}

/** The first unstorable string in `value`: its problem and its path, innermost first (built only on failure). */
function find(value: unknown): { problem: UnstorableProblem; path: string[] } | undefined {
  if (typeof value === 'string') {
    const problem = unstorable(value);
    return problem ? { problem, path: [] } : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = find(value[i]);
      if (found) {
        found.path.push(String(i));
        return found;
      }
    }
    return undefined;
  }
  if (ArrayBuffer.isView(value) || value instanceof Date) return undefined;
  for (const key of Object.keys(value)) {
    const problem = unstorable(key);
    const found = problem ? { problem, path: [] as string[] } : find((value as Record<string, unknown>)[key]);
    if (found) {
      // A key that cannot be stored is named with its odd characters replaced.
      found.path.push(problem ? key.replace(/[^\x20-\x7e]/g, '?') : key);
      return found;
    }
  }
  return undefined;
}
