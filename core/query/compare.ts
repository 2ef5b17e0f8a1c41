/**
 * Total orders on in-memory values that reproduce PostgreSQL's orders exactly, for the live-query matcher and
 * comparator (see compile.ts for the full semantics table). Every function returns a negative number, zero or a
 * positive number, like `Array.prototype.sort` comparators.
 */

/**
 * Compares two strings by Unicode code point, which is the byte order of their UTF-8 encodings and therefore
 * PostgreSQL's order under `COLLATE "C"`. JavaScript's `<` compares UTF-16 code units, which disagrees when an
 * astral character (surrogate pair, U+D800–U+DFFF units) meets a character in U+E000–U+FFFF; only the first
 * differing unit is remapped, so strings without such a pair compare at code-unit speed.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates move above U+E000–U+FFFF; U+E000–U+FFFF move down into the freed range.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Compares float8 (or float4 already rounded with `Math.fround`) values like PostgreSQL: NaN equals NaN and sorts
 * above every other value including +Infinity; -0 equals 0.
 */
export function compareFloat(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A parsed decimal: `rank` orders the specials, `digits` are significant for finite values only. */
interface ParsedDecimal {
  /** -2: -Infinity, -1: negative, 0: zero, 1: positive, 2: +Infinity, 3: NaN. */
  readonly rank: number;
  /** Integer digits without leading zeros. */
  readonly int: string;
  /** Fraction digits without trailing zeros. */
  readonly frac: string;
}

const ZERO: ParsedDecimal = { rank: 0, int: '', frac: '' };

/**
 * Parses PostgreSQL's text output of `numeric`/`int8` (`-12.340`, `0.5`, `NaN`, `Infinity`, `-Infinity`) and the
 * canonical operand form produced by {@link normalizeDecimal}. Anything else is a contract violation by the row
 * decoder and parses as NaN so that ordering stays total.
 */
function parseDecimal(text: string): ParsedDecimal {
  switch (text) {
    case 'NaN':
      return { rank: 3, int: '', frac: '' };
    case 'Infinity':
      return { rank: 2, int: '', frac: '' };
    case '-Infinity':
      return { rank: -2, int: '', frac: '' };
  }
  const match = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) return { rank: 3, int: '', frac: '' };
  const int = (match[2] ?? '').replace(/^0+/, '');
  const frac = (match[3] ?? '').replace(/0+$/, '');
  if (int === '' && frac === '') return ZERO;
  return { rank: match[1] === '-' ? -1 : 1, int, frac };
}

function compareMagnitude(a: ParsedDecimal, b: ParsedDecimal): number {
  if (a.int.length !== b.int.length) return a.int.length - b.int.length;
  if (a.int !== b.int) return a.int < b.int ? -1 : 1;
  if (a.frac === b.frac) return 0;
  // Digit strings without trailing zeros: lexicographic order (prefix first) is numeric order.
  return a.frac < b.frac ? -1 : 1;
}

/**
 * Compares two decimal strings numerically like PostgreSQL's `numeric` (and `int8`): `-Infinity` < negatives < 0 <
 * positives < `Infinity` < `NaN`, and `NaN` equals `NaN`. Trailing fraction zeros are insignificant (`1.50` equals
 * `1.5`). Integers take the same path, so `int8` values need no BigInt.
 */
export function compareDecimal(a: string, b: string): number {
  if (a === b) return 0;
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (x.rank !== y.rank) return x.rank - y.rank;
  if (x.rank === 1) return compareMagnitude(x, y);
  if (x.rank === -1) return compareMagnitude(y, x);
  return 0;
}

/**
 * Brings a decimal literal into the canonical form PostgreSQL prints and {@link compareDecimal} reads: optional
 * `-`, integer digits, optional `.` and fraction digits, no exponent (`1.5e3` → `1500`, `-0` → `0`, `.5` → `0.5`);
 * `NaN`, `Infinity`, `-Infinity` (also `+Infinity`) pass through. Returns undefined when `text` is not such a
 * literal or its exponent is beyond `maxExponent` (guarding against `1e999999999` expanding to gigabytes).
 */
export function normalizeDecimal(text: string, maxExponent = 1000): string | undefined {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return text;
  if (text === '+Infinity') return 'Infinity';
  const match = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return undefined;
  const negative = match[1] === '-';
  const mantissa = match[2] ?? '';
  const exponent = match[3] === undefined ? 0 : Number(match[3]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > maxExponent) return undefined;
  const point = mantissa.indexOf('.');
  let digits = point < 0 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  let intLength = (point < 0 ? mantissa.length : point) + exponent;
  if (intLength < 0) {
    digits = '0'.repeat(-intLength) + digits;
    intLength = 0;
  } else if (intLength > digits.length) {
    digits += '0'.repeat(intLength - digits.length);
  }
  const int = digits.slice(0, intLength).replace(/^0+/, '') || '0';
  const frac = digits.slice(intLength).replace(/0+$/, '');
  const body = frac === '' ? int : `${int}.${frac}`;
  return negative && body !== '0' ? `-${body}` : body;
}

/** Compares byte strings like PostgreSQL's `bytea`: memcmp, then the shorter prefix first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when `value` is a plain JSON object (not an array, not null, not a class instance such as Date). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Deep equality of JSON values as PostgreSQL's `jsonb =` decides it: objects equal when they have the same keys
 * with equal values (key order irrelevant), arrays element-wise in order, numbers by value, strings exactly.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(b, key) || !jsonEqual(a[key], b[key])) return false;
    }
    return true;
  }
  return false;
}

/**
 * JSON text of a JSON value with object keys sorted by code point, so that values `jsonb =` considers equal (up
 * to key order) serialize identically. Used for query keys and for jsonb parameters.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value).sort(compareCodePoints);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
