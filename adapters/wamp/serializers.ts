/**
 * WAMP serializers (reference/wamp.md §1.5): one per WebSocket subprotocol. Decoding yields plain JS values with
 * binary data as `Uint8Array`; encoding accepts the same, so a router can pass payloads between peers of
 * different serializers unchanged.
 *
 * - `wamp.2.json` (text frames): binary is the string `"\u0000"` + base64 in both directions (the spec's rule;
 *   note Autobahn|JS does not implement it);
 * - `wamp.2.msgpack` (binary frames): MessagePack v5, bin ⇄ `Uint8Array`;
 * - `wamp.2.cbor` (binary frames): CBOR, byte string ⇄ `Uint8Array`. Decoding uses cbor-x (64-bit integers
 *   converted to numbers); encoding is {@link encodeCbor}, because cbor-x writes integers above 2^32 as floats and WAMP ids
 *   must travel as integers.
 *
 * A frame of the wrong kind (binary on JSON, text on msgpack/cbor) or undecodable bytes throw
 * {@link ProtocolViolation}.
 */
import { Decoder as MsgpackDecoder, Encoder as MsgpackEncoder } from '@msgpack/msgpack';
import { Decoder as CborDecoder } from 'cbor-x';
import { ProtocolViolation } from './errors.js';

/** A WAMP serializer. */
export interface Serializer {
  /** Its name: `json`, `msgpack` or `cbor`. */
  readonly name: SerializerName;
  /** The WebSocket subprotocol, e.g. `wamp.2.json`. */
  readonly subprotocol: string;
  /** Encodes one message (a list). */
  encode(message: readonly unknown[]): string | Uint8Array;
  /**
   * Decodes one frame.
   * @throws ProtocolViolation on a frame of the wrong kind or undecodable data.
   */
  decode(data: string | Uint8Array): unknown;
}

/** Names of the built-in serializers. */
export type SerializerName = 'json' | 'msgpack' | 'cbor';

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  // JSON.stringify calls Buffer#toJSON before the replacer: look at the holder's raw property instead.
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Uint8Array ? `\u0000${base64(raw)}` : value;
}

function jsonReviver(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.charCodeAt(0) === 0) {
    const bytes = Buffer.from(value.slice(1), 'base64');
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return value;
}

/** `wamp.2.json` with the spec's binary rule. */
export const jsonSerializer: Serializer = {
  name: 'json',
  subprotocol: 'wamp.2.json',
  encode(message) {
    return JSON.stringify(message, jsonReplacer);
  },
  decode(data) {
    if (typeof data !== 'string') throw new ProtocolViolation('binary frame on wamp.2.json');
    try {
      // Every U+0000 in JSON text is escaped, so this cheap test tells whether a binary string may be present.
      return data.includes('\\u0000') ? JSON.parse(data, jsonReviver) : JSON.parse(data);
    } catch (error) {
      throw new ProtocolViolation('invalid JSON', { cause: error });
    }
  },
};

const msgpackEncoder = new MsgpackEncoder({ ignoreUndefined: true });
const msgpackDecoder = new MsgpackDecoder();

/** `wamp.2.msgpack`. */
export const msgpackSerializer: Serializer = {
  name: 'msgpack',
  subprotocol: 'wamp.2.msgpack',
  encode(message) {
    return msgpackEncoder.encode(message);
  },
  decode(data) {
    if (typeof data === 'string') throw new ProtocolViolation('text frame on wamp.2.msgpack');
    try {
      return msgpackDecoder.decode(data);
    } catch (error) {
      throw new ProtocolViolation('invalid MessagePack', { cause: error });
    }
  },
};

const cborDecoder = new CborDecoder({ useRecords: false, mapsAsObjects: true });

/**
 * Replaces the bigints cbor-x returns for 64-bit integers by numbers, in place (its `int64AsNumber` option
 * mis-decodes negative ones). WAMP ids stay below 2^53, so no precision is lost where it matters.
 */
function bigintsToNumbers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'bigint' || (typeof item === 'object' && item !== null))
        value[i] = bigintsToNumbers(item);
    }
  } else if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === 'bigint' || (typeof item === 'object' && item !== null))
        record[key] = bigintsToNumbers(item);
    }
  }
  return value;
}

/** A growable output buffer for {@link encodeCbor}. */
class CborWriter {
  buffer = Buffer.allocUnsafe(256);
  length = 0;

  reserve(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buffer[this.length++] = b;
  }

  /** A major type with its argument (integers up to 2^64 - 1, exactly when below 2^53). */
  head(major: number, value: number): void {
    const m = major << 5;
    this.reserve(9);
    const b = this.buffer;
    if (value < 24) b[this.length++] = m | value;
    else if (value < 0x100) {
      b[this.length++] = m | 24;
      b[this.length++] = value;
    } else if (value < 0x10000) {
      b[this.length++] = m | 25;
      b.writeUInt16BE(value, this.length);
      this.length += 2;
    } else if (value < 0x100000000) {
      b[this.length++] = m | 26;
      b.writeUInt32BE(value, this.length);
      this.length += 4;
    } else {
      b[this.length++] = m | 27;
      b.writeUInt32BE(Math.floor(value / 0x100000000), this.length);
      b.writeUInt32BE(value % 0x100000000, this.length + 4);
      this.length += 8;
    }
  }

  value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        if (Number.isInteger(v) && Math.abs(v) < 2 ** 64) {
          if (v >= 0) this.head(0, v);
          else this.head(1, -1 - v);
        } else {
          this.reserve(9);
          this.buffer[this.length++] = 0xfb;
          this.buffer.writeDoubleBE(v, this.length);
          this.length += 8;
        }
        return;
      case 'string': {
        const n = Buffer.byteLength(v, 'utf8');
        this.head(3, n);
        this.reserve(n);
        this.length += this.buffer.write(v, this.length, 'utf8');
        return;
      }
      case 'boolean':
        this.byte(v ? 0xf5 : 0xf4);
        return;
      case 'bigint':
        if (v >= 0n) this.head(0, Number(v));
        else this.head(1, Number(-1n - v));
        return;
      case 'undefined':
        this.byte(0xf7);
        return;
      case 'object':
        if (v === null) this.byte(0xf6);
        else if (v instanceof Uint8Array) {
          this.head(2, v.byteLength);
          this.reserve(v.byteLength);
          this.buffer.set(v, this.length);
          this.length += v.byteLength;
        } else if (Array.isArray(v)) {
          this.head(4, v.length);
          for (const item of v) this.value(item);
        } else if (v instanceof Date) {
          this.value(v.getTime());
        } else {
          const entries = Object.entries(v).filter(([, value]) => value !== undefined);
          this.head(5, entries.length);
          for (const [key, value] of entries) {
            this.value(key);
            this.value(value);
          }
        }
        return;
      default:
        throw new TypeError(`cannot encode a ${typeof v} as CBOR`);
    }
  }
}

/**
 * Encodes JSON-like values (plus `Uint8Array` as byte strings and `bigint`) as CBOR: integers always as CBOR
 * integers (shortest form), other numbers as float64, `undefined` object properties dropped.
 */
export function encodeCbor(value: unknown): Uint8Array {
  const writer = new CborWriter();
  writer.value(value);
  return writer.buffer.subarray(0, writer.length);
}

/** `wamp.2.cbor`. */
export const cborSerializer: Serializer = {
  name: 'cbor',
  subprotocol: 'wamp.2.cbor',
  encode(message) {
    return encodeCbor(message);
  },
  decode(data) {
    if (typeof data === 'string') throw new ProtocolViolation('text frame on wamp.2.cbor');
    try {
      return bigintsToNumbers(cborDecoder.decode(data));
    } catch (error) {
      throw new ProtocolViolation('invalid CBOR', { cause: error });
    }
  },
};

/** Built-in serializers by name. */
export const SERIALIZERS: Readonly<Record<SerializerName, Serializer>> = {
  json: jsonSerializer,
  msgpack: msgpackSerializer,
  cbor: cborSerializer,
};

/** RawSocket serializer ids (transport_rawsocket.md): 1 JSON, 2 MessagePack, 3 CBOR. */
export const RAWSOCKET_SERIALIZER_IDS: Readonly<Record<SerializerName, number>> = {
  json: 1,
  msgpack: 2,
  cbor: 3,
};

/** The serializer of a negotiated subprotocol, or undefined. */
export function serializerFor(subprotocol: string): Serializer | undefined {
  return Object.values(SERIALIZERS).find((s) => s.subprotocol === subprotocol);
}
