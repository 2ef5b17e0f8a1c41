/**
 * Nesting depth of decoded wire values (JSON, EJSON, MessagePack, CBOR), checked by every protocol adapter on
 * each incoming message before anything else walks it: a 10,000-level array is a few kilobytes on the wire but
 * would overflow the stack of recursive code (EJSON decoding, validation, cloning) further in. Default limit
 * {@link DEFAULT_MAX_NESTING_DEPTH}; documented in docs/reference.md "Limits".
 */

/** Default maximum nesting depth of an incoming message (the message itself is level 1). */
export const DEFAULT_MAX_NESTING_DEPTH = 64;

/**
 * True when `value` nests arrays/objects deeper than `maxDepth` levels (a bare array or object is level 1; binary
 * `Uint8Array`s are leaves). Stops at the first level past the limit, so its own recursion is bounded by
 * `maxDepth`.
 */
export function exceedsNestingDepth(value: unknown, maxDepth: number): boolean {
  return tooDeep(value, maxDepth);
}

function tooDeep(value: unknown, remaining: number): boolean {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  if (remaining <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value)
      if (typeof item === 'object' && item !== null && tooDeep(item, remaining - 1)) return true;
    return false;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item === 'object' && item !== null && tooDeep(item, remaining - 1)) return true;
  }
  return false;
}
