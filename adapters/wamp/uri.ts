/**
 * WAMP URIs (reference/wamp.md §1.3): syntax checks in the spec's strict and loose flavours, and the three match
 * policies of pattern-based subscriptions and registrations.
 *
 * - strict: components of `[0-9a-z_]`, separated by `.`; loose: components without `.`, `#` or whitespace;
 * - `exact` URIs have no empty component; `prefix` patterns may end with an empty component (`com.a.`);
 *   `wildcard` patterns may have empty components anywhere (`com..x`), each standing for one whole component;
 * - prefix matching is a plain string prefix (the spec's example: `a.b` matches `a.b-x`).
 */

/** URI checking mode of a realm. */
export type UriCheck = 'strict' | 'loose';

/** Match policy of a subscription or registration. */
export type MatchPolicy = 'exact' | 'prefix' | 'wildcard';

const STRICT = /^([0-9a-z_]+\.)*([0-9a-z_]+)$/;
const STRICT_LAST_EMPTY = /^([0-9a-z_]+\.)*([0-9a-z_]*)$/;
const STRICT_EMPTY = /^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$/;
const LOOSE = /^([^\s.#]+\.)*([^\s.#]+)$/;
const LOOSE_LAST_EMPTY = /^([^\s.#]+\.)*([^\s.#]*)$/;
const LOOSE_EMPTY = /^(([^\s.#]+\.)|\.)*([^\s.#]+)?$/;

/** True if `uri` is valid under `check` for `match` (exact URIs by default). */
export function isValidUri(uri: string, check: UriCheck, match: MatchPolicy = 'exact'): boolean {
  if (uri.length === 0) return match !== 'exact';
  switch (match) {
    case 'exact':
      return (check === 'strict' ? STRICT : LOOSE).test(uri);
    case 'prefix':
      return (check === 'strict' ? STRICT_LAST_EMPTY : LOOSE_LAST_EMPTY).test(uri);
    case 'wildcard':
      return (check === 'strict' ? STRICT_EMPTY : LOOSE_EMPTY).test(uri);
  }
}

/** Parses a `match` option: absent means exact; anything else but the three policies is undefined. */
export function parseMatch(value: unknown): MatchPolicy | undefined {
  if (value === undefined) return 'exact';
  return value === 'exact' || value === 'prefix' || value === 'wildcard' ? value : undefined;
}

/** True if `uri` matches `pattern` under `match`. */
export function matches(pattern: string, match: MatchPolicy, uri: string): boolean {
  switch (match) {
    case 'exact':
      return pattern === uri;
    case 'prefix':
      return uri.startsWith(pattern);
    case 'wildcard':
      return wildcardMatches(pattern.split('.'), uri.split('.'));
  }
}

/** Wildcard match on split components: same length, each pattern component empty or equal. */
export function wildcardMatches(pattern: readonly string[], components: readonly string[]): boolean {
  if (pattern.length !== components.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p !== '' && p !== components[i]) return false;
  }
  return true;
}

/**
 * Orders matching wildcard patterns as the spec's registration rule does: the pattern with more leading concrete
 * components wins, then the next concrete position, and so on. Returns a negative number when `a` wins.
 */
export function compareWildcards(a: readonly string[], b: readonly string[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a[i] !== undefined && a[i] !== '' ? 1 : 0;
    const cb = b[i] !== undefined && b[i] !== '' ? 1 : 0;
    if (ca !== cb) return cb - ca;
  }
  return 0;
}
