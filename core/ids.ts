/**
 * Document ids on the DDP wire: Meteor's `MongoID.idStringify` / `idParse` rules (packages/mongo-id/id.js) and the
 * Mongo `ObjectId` value type they know about.
 *
 * The wire `id` of `added`/`changed`/`removed` is always a string. A Meteor client reverses the encoding with
 * `idParse`, so the server must encode exactly as Meteor does:
 * - a plain string goes through unchanged, unless it starts with `-`, `~` or `{`, or looks like an ObjectID
 *   (24 lowercase hex digits): then it gets a `-` prefix (`'-abc'` → `'--abc'`);
 * - numbers, booleans and `null` become `~` + their JSON (`42` → `'~42'`): a Meteor client then sees a numeric
 *   `_id`; publish string ids when string ids are wanted;
 * - an {@link ObjectId} becomes its 24-hex string (which the client parses back into an ObjectID).
 */

const OBJECT_ID_PATTERN = /^[0-9a-f]{24}$/;

/** True if `text` is what Meteor takes for an ObjectID on the wire: exactly 24 lowercase hex digits. */
export function looksLikeObjectId(text: string): boolean {
  return text.length === 24 && OBJECT_ID_PATTERN.test(text);
}

/**
 * A MongoDB ObjectID as Meteor models it (`Mongo.ObjectID`): 24 lowercase hex digits. Its EJSON form is
 * `{"$type":"oid","$value":"<hex>"}`; core/ejson.ts registers the `oid` type, so Meteor clients that send ObjectIDs
 * (collections with `idGeneration: 'MONGO'`) parse.
 */
export class ObjectId {
  /** The 24 lowercase hex digits. */
  readonly hex: string;

  /** @throws TypeError if `hex` (case-insensitive) is not 24 hex digits. */
  constructor(hex: string) {
    const lower = hex.toLowerCase();
    if (!looksLikeObjectId(lower)) throw new TypeError(`Invalid hexadecimal string for an ObjectId: ${hex}`);
    this.hex = lower;
  }

  /** EJSON custom type name (`$type`). */
  typeName(): 'oid' {
    return 'oid';
  }

  /** EJSON `$value`: the hex string. */
  toJSONValue(): string {
    return this.hex;
  }

  /** Used by `EJSON.clone`. */
  clone(): ObjectId {
    return new ObjectId(this.hex);
  }

  /** Used by `EJSON.equals`: same hex digits. */
  equals(other: unknown): boolean {
    return other instanceof ObjectId && other.hex === this.hex;
  }

  /** The hex string, as Meteor's `toHexString()`. */
  toHexString(): string {
    return this.hex;
  }

  /** The hex string, as Meteor's `valueOf()`. */
  valueOf(): string {
    return this.hex;
  }

  /** `ObjectID("<hex>")`, as Meteor prints it. */
  toString(): string {
    return `ObjectID("${this.hex}")`;
  }
}

/** A document id as Meteor allows it: what {@link idStringify} accepts and {@link idParse} returns. */
export type MeteorId = string | number | boolean | null | ObjectId;

/**
 * Encodes a document id for the DDP wire (Meteor's `MongoID.idStringify`).
 * @throws TypeError for a non-finite number (its JSON would be `null`, which would not round-trip).
 */
export function idStringify(id: MeteorId): string {
  if (typeof id === 'string') {
    if (id === '') return id;
    const first = id.charCodeAt(0);
    // '-' escapes previously dashed strings, '~' escaped numbers/booleans/null, '{' is reserved by Meteor.
    if (first === 45 /* - */ || first === 126 /* ~ */ || first === 123 /* { */ || looksLikeObjectId(id)) {
      return `-${id}`;
    }
    return id;
  }
  if (id instanceof ObjectId) return id.hex;
  if (typeof id === 'number' && !Number.isFinite(id)) {
    throw new TypeError(`A document id must be a finite number, got ${id}`);
  }
  return `~${JSON.stringify(id)}`;
}

/**
 * Decodes a wire id (Meteor's `MongoID.idParse`): reverses {@link idStringify}. An unescaped 24-hex string becomes an
 * {@link ObjectId}; the lone `'-'` (Meteor's encoding of an `undefined` id) becomes `undefined`.
 * @throws TypeError if a `~` id does not hold the JSON of a number, boolean or `null`.
 */
export function idParse(wire: string): MeteorId | undefined {
  if (wire === '') return wire;
  const first = wire.charCodeAt(0);
  if (first === 45 /* - */) return wire === '-' ? undefined : wire.slice(1);
  if (first === 126 /* ~ */) {
    let value: unknown;
    try {
      value = JSON.parse(wire.slice(1));
    } catch (error) {
      throw new TypeError(`Malformed document id: ${wire}`, { cause: error });
    }
    if (value === null || typeof value === 'boolean' || typeof value === 'number') return value;
    throw new TypeError(`Malformed document id: ${wire}`);
  }
  if (looksLikeObjectId(wire)) return new ObjectId(wire);
  return wire;
}
