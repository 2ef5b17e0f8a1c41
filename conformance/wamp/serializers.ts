/**
 * The three WAMP WebSocket serializers as the test peer uses them (wamp.md §1.5): `wamp.2.json` in text frames,
 * `wamp.2.msgpack` and `wamp.2.cbor` in binary frames. Encoding is deliberately plain so what a case sends is
 * exactly what it wrote: no records, no packing, no typed-array tags.
 *
 * Two details matter for a conformance peer:
 * - IDs are integers on the wire. Both binary libraries write integers above 2^32 (cbor-x) or at 2^53
 *   (@msgpack/msgpack) as floats, so {@link Serializer.encode} turns such integers into `bigint`s first, which both
 *   write as 64-bit integers. Decoded 64-bit integers come back as plain numbers.
 * - Bytes: msgpack `bin` and CBOR byte strings decode to `Uint8Array`; under JSON, bytes travel as a string of
 *   U+0000 followed by base64 (`advanced/serialization_binary_json.md`). {@link Serializer.decode} keeps that
 *   string as it is; {@link bytesOf} reads either form.
 *
 * {@link wireKinds} reads the raw type of a message's first elements, so cases can tell an integer id from an
 * integral float (which a decoder would hand back as the same JS number).
 */
import { Decoder as MsgpackDecoder, Encoder as MsgpackEncoder } from '@msgpack/msgpack';
import { Encoder as CborEncoder } from 'cbor-x';

/** Serializer names, as in `wamp.2.<name>`. */
export type SerializerName = 'json' | 'msgpack' | 'cbor';

/** Every serializer, in run order. */
export const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack', 'cbor'];

/** A decoded WAMP value. Binary serializers can produce `Uint8Array`; nothing else beyond JSON's types. */
export type WampValue = null | boolean | number | string | Uint8Array | WampValue[] | WampDict;

/** A WAMP dict (Details, Options, ArgumentsKw). */
export type WampDict = { [key: string]: WampValue };

/** The raw type of one wire element, as far as {@link wireKinds} reads it. */
export type WireKind = 'int' | 'float' | 'string' | 'bool' | 'null' | 'other';

/** One WAMP serializer. */
export interface Serializer {
  readonly name: SerializerName;
  /** The WebSocket subprotocol, `wamp.2.<name>`. */
  readonly protocol: string;
  /** True for msgpack and CBOR: messages travel in binary frames. */
  readonly binary: boolean;
  /** Encodes one message (any value: cases also send malformed ones). */
  encode(value: unknown): string | Uint8Array;
  /** Decodes one frame; throws on malformed input. */
  decode(data: string | Uint8Array): unknown;
}

const TWO_32 = 2 ** 32;

/** Integers a binary encoder would otherwise write as floats become bigints (recursively). */
function widenIntegers(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) >= TWO_32 && Math.abs(value) < 2 ** 64
      ? BigInt(value)
      : value;
  }
  if (Array.isArray(value)) return value.map(widenIntegers);
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = widenIntegers(item);
  return out;
}

/** Decoded bigints (64-bit integers) become numbers; binary blobs become plain `Uint8Array`s. */
function narrow(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(narrow);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) out[String(key)] = narrow(item);
    return out;
  }
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = narrow(item);
  return out;
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

const jsonSerializer: Serializer = {
  name: 'json',
  protocol: 'wamp.2.json',
  binary: false,
  encode: (value) =>
    JSON.stringify(value, (_key, item: unknown) =>
      item instanceof Uint8Array ? `\u0000${Buffer.from(item).toString('base64')}` : item,
    ),
  decode: (data) => JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data)),
};

const msgpackEncoder = new MsgpackEncoder({ useBigInt64: true, ignoreUndefined: true });
const msgpackDecoder = new MsgpackDecoder();

const msgpackSerializer: Serializer = {
  name: 'msgpack',
  protocol: 'wamp.2.msgpack',
  binary: true,
  encode: (value) => msgpackEncoder.encode(widenIntegers(value)),
  decode: (data) => narrow(msgpackDecoder.decode(toBytes(data))),
};

const cborCodec = new CborEncoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  pack: false,
});

const cborSerializer: Serializer = {
  name: 'cbor',
  protocol: 'wamp.2.cbor',
  binary: true,
  encode: (value) => cborCodec.encode(widenIntegers(value)),
  decode: (data) => narrow(cborCodec.decode(toBytes(data))),
};

/** The serializer called `name`. */
export function serializer(name: SerializerName): Serializer {
  switch (name) {
    case 'json':
      return jsonSerializer;
    case 'msgpack':
      return msgpackSerializer;
    case 'cbor':
      return cborSerializer;
    default: {
      const unreachable: never = name;
      throw new Error(`unknown serializer ${String(unreachable)}`);
    }
  }
}

/** The serializer of a `wamp.2.*` subprotocol, or undefined. */
export function serializerOfProtocol(protocol: string): Serializer | undefined {
  return SERIALIZERS.map(serializer).find((s) => s.protocol === protocol);
}

/** True for a serializer name. */
export function isSerializerName(value: string): value is SerializerName {
  return (SERIALIZERS as readonly string[]).includes(value);
}

/**
 * The bytes of a binary value: a `Uint8Array` as is, or a JSON binary string (U+0000 + base64) decoded;
 * undefined for anything else.
 */
export function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string' && value.startsWith('\u0000'))
    return new Uint8Array(Buffer.from(value.slice(1), 'base64'));
  return undefined;
}

/** Reads one msgpack scalar's kind and length at `at`; undefined for containers and anything unknown. */
function msgpackScalar(b: Uint8Array, at: number): { kind: WireKind; size: number } | undefined {
  const t = b[at];
  if (t === undefined) return undefined;
  if (t <= 0x7f || t >= 0xe0) return { kind: 'int', size: 1 };
  if (t >= 0xa0 && t <= 0xbf) return { kind: 'string', size: 1 + (t & 0x1f) };
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (t) {
    case 0xc0:
      return { kind: 'null', size: 1 };
    case 0xc2:
    case 0xc3:
      return { kind: 'bool', size: 1 };
    case 0xca:
      return { kind: 'float', size: 5 };
    case 0xcb:
      return { kind: 'float', size: 9 };
    case 0xcc:
    case 0xd0:
      return { kind: 'int', size: 2 };
    case 0xcd:
    case 0xd1:
      return { kind: 'int', size: 3 };
    case 0xce:
    case 0xd2:
      return { kind: 'int', size: 5 };
    case 0xcf:
    case 0xd3:
      return { kind: 'int', size: 9 };
    case 0xd9:
      return { kind: 'string', size: 2 + view.getUint8(at + 1) };
    case 0xda:
      return { kind: 'string', size: 3 + view.getUint16(at + 1) };
    case 0xdb:
      return { kind: 'string', size: 5 + view.getUint32(at + 1) };
    default:
      return undefined;
  }
}

/** Reads one CBOR scalar's kind and length at `at`; undefined for containers and anything unknown. */
function cborScalar(b: Uint8Array, at: number): { kind: WireKind; size: number } | undefined {
  const t = b[at];
  if (t === undefined) return undefined;
  const major = t >> 5;
  const info = t & 0x1f;
  const argSize = info < 24 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
  if (argSize < 0) return undefined;
  if (major === 0 || major === 1) return { kind: 'int', size: 1 + argSize };
  if (major === 3) {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const length =
      argSize === 0
        ? info
        : argSize === 1
          ? view.getUint8(at + 1)
          : argSize === 2
            ? view.getUint16(at + 1)
            : argSize === 4
              ? view.getUint32(at + 1)
              : Number(view.getBigUint64(at + 1));
    return { kind: 'string', size: 1 + argSize + length };
  }
  if (major === 7) {
    if (info === 20 || info === 21) return { kind: 'bool', size: 1 };
    if (info === 22) return { kind: 'null', size: 1 };
    if (info >= 25 && info <= 27) return { kind: 'float', size: 1 + argSize };
  }
  return undefined;
}

/**
 * The wire kinds of the leading scalar elements of an encoded message (up to `count`, stopping at the first
 * container): for `[36, 5, 1099511627776.0, {...}]` in CBOR, `['int', 'int', 'float']`. Empty for JSON, whose
 * numbers carry no such distinction beyond their text (an integral float there would read as `1.0`).
 */
export function wireKinds(name: SerializerName, data: Uint8Array | string, count = 3): WireKind[] {
  if (typeof data === 'string') {
    const match = /^\s*\[\s*(-?[\d.eE+-]+)\s*(?:,\s*(-?[\d.eE+-]+)\s*)?(?:,\s*(-?[\d.eE+-]+)\s*)?/.exec(data);
    if (!match) return [];
    return match
      .slice(1, 1 + count)
      .filter((item): item is string => item !== undefined)
      .map((item) => (/^-?\d+$/.test(item) ? 'int' : 'float'));
  }
  const read = name === 'cbor' ? cborScalar : msgpackScalar;
  const head = data[0];
  if (head === undefined) return [];
  let at: number;
  if (name === 'cbor') {
    if (head >> 5 !== 4) return [];
    const info = head & 0x1f;
    at = info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : info === 26 ? 5 : info === 31 ? 1 : 9;
  } else {
    if (head >= 0x90 && head <= 0x9f) at = 1;
    else if (head === 0xdc) at = 3;
    else if (head === 0xdd) at = 5;
    else return [];
  }
  const kinds: WireKind[] = [];
  while (kinds.length < count && at < data.length) {
    const scalar = read(data, at);
    if (!scalar) {
      kinds.push('other');
      break;
    }
    kinds.push(scalar.kind);
    at += scalar.size;
  }
  return kinds;
}
