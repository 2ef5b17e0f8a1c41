/**
 * EJSON, Meteor's extended JSON (reference/ddp.md §1.9), as a typed wrapper over npm `ejson` (a build of Meteor's
 * own package). Everything that crosses the DDP wire goes through here.
 *
 * Wire forms: Date `{"$date": ms}`, binary `{"$binary": base64}`, NaN/±Infinity `{"$InfNaN": 0|1|-1}`, RegExp
 * `{"$regexp": source, "$flags": flags}`, custom types `{"$type": name, "$value": json}`, and `{"$escape": {...}}`
 * for user objects that would otherwise be read as one of these. A converter only matches an object with exactly
 * its own keys, so `{"$date": 1, "extra": 2}` stays a plain object.
 *
 * Key order is kept (the library copies keys in insertion order), with JavaScript's one exception: integer-like
 * keys (`"1"`, `"42"`) of a plain object always come first, in ascending order.
 *
 * The custom type registry is global to the process (the library's). Importing this module registers Mongo's `oid`
 * type ({@link ObjectId}), which Meteor clients send for `idGeneration: 'MONGO'` collections.
 */
import EJSON from 'ejson';
import { ObjectId } from './ids.js';

/** A plain JSON value: what {@link toJSONValue} returns and `JSON.stringify` accepts. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A value of a custom EJSON type. Its class must be registered with {@link addType} under `typeName()` before it is
 * serialized or parsed. Without `clone`/`equals`, EJSON clones and compares through `toJSONValue`.
 */
export interface EjsonCustomValue {
  typeName(): string;
  toJSONValue(): JsonValue;
  clone?(): EjsonCustomValue;
  equals?(other: EjsonCustomValue): boolean;
}

/** An object whose properties are EJSON values; `undefined` properties are dropped on serialization. */
export interface EjsonObject {
  readonly [key: string]: EjsonValue | undefined;
}

/** Any value EJSON can represent. `Buffer` counts as binary (it is a `Uint8Array`); binaries parse as `Uint8Array`. */
export type EjsonValue =
  | null
  | boolean
  | number
  | string
  | Date
  | Uint8Array
  | RegExp
  | EjsonCustomValue
  | readonly EjsonValue[]
  | EjsonObject;

/** Why a text or JSON value is not valid EJSON. */
export type EjsonParseErrorCode = 'invalid-json' | 'unknown-type' | 'invalid-value';

/**
 * Thrown by {@link parse} and {@link fromJSONValue}. DDP maps it to the top-level `error` with reason
 * `"Parse error"`; anything else thrown while handling a message is an internal error.
 * - `invalid-json`: the text is not JSON;
 * - `unknown-type`: a `{"$type","$value"}` object names a type nobody registered (`typeName` says which);
 * - `invalid-value`: a registered type's factory or a built-in converter rejected its value.
 */
export class EjsonParseError extends Error {
  override readonly name = 'EjsonParseError';
  readonly code: EjsonParseErrorCode;
  /** For `unknown-type`: the unregistered `$type`. */
  readonly typeName: string | undefined;

  constructor(code: EjsonParseErrorCode, message: string, options?: { cause?: unknown; typeName?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.typeName = options?.typeName;
  }
}

/** True if `error` is an {@link EjsonParseError}. */
export function isEjsonParseError(error: unknown): error is EjsonParseError {
  return error instanceof EjsonParseError;
}

/** Options of {@link stringify}. */
export interface StringifyOptions {
  /** Sort object keys (for hashing and comparing texts). */
  readonly canonical?: boolean;
  /** Pretty-print: `true` = 2 spaces, a number of spaces, or the indent string itself. */
  readonly indent?: boolean | number | string;
}

/** Options of {@link equals}. */
export interface EqualsOptions {
  /** Objects with the same entries in a different key order are unequal. Default `false`. */
  readonly keyOrderSensitive?: boolean;
}

// The library's message for an unregistered custom type (ejson 2.x, same as Meteor's).
const UNKNOWN_TYPE_MESSAGE = /^Custom EJSON type (.*) is not defined$/;

function toParseError(error: unknown): EjsonParseError {
  if (error instanceof EjsonParseError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const unknownType = UNKNOWN_TYPE_MESSAGE.exec(message);
  if (unknownType) {
    return new EjsonParseError('unknown-type', message, { cause: error, typeName: unknownType[1] ?? '' });
  }
  return new EjsonParseError('invalid-value', message, { cause: error });
}

/**
 * Converts an EJSON value into plain JSON (a new value; the input is not modified). User objects that look like an
 * EJSON type are wrapped in `$escape`.
 */
export function toJSONValue(value: unknown): JsonValue {
  // Most values are plain JSON already: hand them back as they are instead of letting the library deep-clone
  // them (and, for strings, enumerate every character). Only values that need EJSON go through it.
  if (!needsEjson(value)) return value as JsonValue;
  return EJSON.toJSONValue(value) as unknown as JsonValue;
}

/** Keys that would make a plain object read back as an EJSON type, so it must be `$escape`d. */
const RESERVED_KEYS = new Set([
  '$date',
  '$binary',
  '$InfNaN',
  '$regexp',
  '$flags',
  '$escape',
  '$type',
  '$value',
]);

/** True if `value` contains anything that JSON cannot carry as is (dates, binary, non-finite numbers, …). */
function needsEjson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return false;
    case 'number':
      return !Number.isFinite(value);
    case 'object': {
      if (value === null) return false;
      if (Array.isArray(value)) {
        for (const item of value) if (needsEjson(item)) return true;
        return false;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return true; // Date, Uint8Array, RegExp, custom types
      for (const key in value) {
        if (RESERVED_KEYS.has(key)) return true;
        if (needsEjson((value as Record<string, unknown>)[key])) return true;
      }
      return false;
    }
    default:
      return true;
  }
}

/**
 * Converts plain JSON (as from `JSON.parse`) into EJSON values (a new value; the input is not modified).
 * @throws EjsonParseError when a custom type is unknown or a value is rejected.
 */
export function fromJSONValue(json: unknown): EjsonValue {
  try {
    return EJSON.fromJSONValue(json as string) as EjsonValue;
  } catch (error) {
    throw toParseError(error);
  }
}

/** Serializes an EJSON value to text; `undefined` object properties are dropped, as with `JSON.stringify`. */
export function stringify(value: unknown, options?: StringifyOptions): string {
  if (options === undefined) return EJSON.stringify(value);
  const libraryOptions: { canonical?: boolean; indent?: boolean | number | string } = {};
  if (options.canonical !== undefined) libraryOptions.canonical = options.canonical;
  if (options.indent !== undefined) libraryOptions.indent = options.indent;
  return EJSON.stringify(value, libraryOptions);
}

/**
 * Parses EJSON text.
 * @throws EjsonParseError for text that is not JSON, an unknown custom type or a rejected value.
 */
export function parse(text: string): EjsonValue {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new EjsonParseError('invalid-json', error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  return fromJSONValue(json);
}

/**
 * Deep copy. Dates and binaries are copied (a `Buffer` comes back as a plain `Uint8Array`), RegExps are shared
 * (immutable), custom types use their `clone()`.
 */
export function clone<T>(value: T): T {
  return EJSON.clone(value);
}

/**
 * Deep equality as Meteor defines it: NaN equals NaN, Dates by time, binaries by bytes (a `Buffer` equals a
 * `Uint8Array` with the same bytes), custom types by their `equals()`, objects regardless of key order unless
 * `keyOrderSensitive`.
 */
export function equals(a: unknown, b: unknown, options?: EqualsOptions): boolean {
  return options?.keyOrderSensitive ? EJSON.equals(a, b, { keyOrderSensitive: true }) : EJSON.equals(a, b);
}

/** True for EJSON binary values (`Uint8Array`, including `Buffer`). */
export function isBinary(value: unknown): value is Uint8Array {
  return EJSON.isBinary(value);
}

/**
 * Registers a custom type: `factory` turns the `$value` JSON back into an instance whose `typeName()` is `name`.
 * The registry is process-wide; register once, at startup.
 * @throws Error if `name` is already registered.
 */
export function addType(name: string, factory: (json: JsonValue) => EjsonCustomValue): void {
  EJSON.addType(name, factory as (json: unknown) => EjsonCustomValue);
}

/** True if a custom type named `name` is registered. */
export function hasType(name: string): boolean {
  return (EJSON as unknown as { _getTypes(isOriginal: true): Map<string, unknown> })
    ._getTypes(true)
    .has(name);
}

if (!hasType('oid')) {
  addType('oid', (json) => {
    if (typeof json !== 'string') throw new TypeError('An oid $value must be a hex string');
    return new ObjectId(json);
  });
}
