/**
 * Decoder of PostgreSQL's built-in logical decoding output plugin `pgoutput`, protocol version 1 with `messages`
 * (PostgreSQL 14+; "Logical Replication Message Formats" in the PostgreSQL manual), as the `logical` capture
 * mode's pump receives it (replication-client.ts, decoder.ts). Column values stay the text their type's output function
 * wrote: the pump turns them into row JSON in Node where the mapping is fixed (core/bus/column-json.ts), else in SQL
 * with the type's input function (append-query.ts), so every type comes out as the triggers' `to_jsonb(NEW)`.
 *
 * LSNs are carried as bigint (64-bit unsigned WAL positions fit: PostgreSQL will not reach 2^63 bytes of WAL).
 */

/** A column of a relation as the Relation message describes it. */
export interface RelationColumn {
  readonly name: string;
  /** Part of the replica identity (flag 1). */
  readonly key: boolean;
  readonly typeOid: number;
}

/** One tuple: each column's text value, `null` for SQL NULL, `undefined` for an unchanged TOASTed value. */
export type TupleValues = ReadonlyArray<string | null | undefined>;

/** A decoded pgoutput message (the kinds pgrt uses; Origin and Type messages decode to `other`). */
export type PgoutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: bigint; readonly xid: number }
  | {
      readonly tag: 'commit';
      readonly commitLsn: bigint;
      readonly endLsn: bigint;
      /** The commit time, in ms since 1970 (the stream has µs since 2000; sub-ms digits are dropped). */
      readonly commitTime: number;
    }
  | {
      readonly tag: 'relation';
      readonly oid: number;
      readonly schema: string;
      readonly name: string;
      /** The table's REPLICA IDENTITY: `d` default, `n` nothing, `f` full, `i` an index. */
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: 'insert'; readonly relation: number; readonly values: TupleValues }
  | {
      readonly tag: 'update';
      readonly relation: number;
      /** The old replica identity ('K') or whole old row ('O'), when the server sent one. */
      readonly old: TupleValues | undefined;
      readonly values: TupleValues;
    }
  | { readonly tag: 'delete'; readonly relation: number; readonly old: TupleValues }
  | { readonly tag: 'truncate'; readonly relations: readonly number[] }
  | {
      readonly tag: 'message';
      readonly transactional: boolean;
      readonly prefix: string;
      readonly content: Buffer;
    }
  | { readonly tag: 'other'; readonly byte: number };

/**
 * Decodes the pgoutput message that fills `buffer` from `offset` on (an XLogData message's payload, read in place).
 * Throws on a truncated or unknown layout (a protocol mismatch, not bad data).
 */
export function decodePgoutput(buffer: Buffer, offset = 0): PgoutputMessage {
  const reader = new Reader(buffer, offset);
  const tag = reader.byte();
  switch (tag) {
    case 0x42: {
      // 'B' final LSN, commit timestamp, xid
      const finalLsn = reader.uint64();
      reader.skip(8);
      return { tag: 'begin', finalLsn, xid: reader.uint32() };
    }
    case 0x43: {
      // 'C' flags, commit LSN, end LSN, commit timestamp
      reader.skip(1);
      const commitLsn = reader.uint64();
      const endLsn = reader.uint64();
      return { tag: 'commit', commitLsn, endLsn, commitTime: epochMs(reader.int64()) };
    }
    case 0x52: {
      // 'R' oid, namespace, name, replica identity setting, columns
      const oid = reader.uint32();
      const schema = reader.cstring() || 'pg_catalog';
      const name = reader.cstring();
      const replicaIdentity = String.fromCharCode(reader.byte());
      const count = reader.uint16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.byte();
        const column = reader.cstring();
        const typeOid = reader.uint32();
        reader.skip(4);
        columns.push({ name: column, key: (flags & 1) === 1, typeOid });
      }
      return { tag: 'relation', oid, schema, name, replicaIdentity, columns };
    }
    case 0x49: {
      // 'I' relation, 'N', tuple
      const relation = reader.uint32();
      reader.expect(0x4e);
      return { tag: 'insert', relation, values: reader.tuple() };
    }
    case 0x55: {
      // 'U' relation, optional 'K'|'O' + old tuple, 'N' + new tuple
      const relation = reader.uint32();
      let marker = reader.byte();
      let old: TupleValues | undefined;
      if (marker === 0x4b || marker === 0x4f) {
        old = reader.tuple();
        marker = reader.byte();
      }
      if (marker !== 0x4e) throw new Error(`pgoutput: unexpected update marker 0x${marker.toString(16)}`);
      return { tag: 'update', relation, old, values: reader.tuple() };
    }
    case 0x44: {
      // 'D' relation, 'K'|'O', old tuple
      const relation = reader.uint32();
      const marker = reader.byte();
      if (marker !== 0x4b && marker !== 0x4f) {
        throw new Error(`pgoutput: unexpected delete marker 0x${marker.toString(16)}`);
      }
      return { tag: 'delete', relation, old: reader.tuple() };
    }
    case 0x54: {
      // 'T' count, options, relation oids
      const count = reader.uint32();
      reader.skip(1);
      const relations: number[] = [];
      for (let i = 0; i < count; i++) relations.push(reader.uint32());
      return { tag: 'truncate', relations };
    }
    case 0x4d: {
      // 'M' flags, LSN, prefix, length, content
      const transactional = (reader.byte() & 1) === 1;
      reader.skip(8);
      const prefix = reader.cstring();
      const length = reader.uint32();
      return { tag: 'message', transactional, prefix, content: reader.bytes(length) };
    }
    default:
      return { tag: 'other', byte: tag };
  }
}

/** PostgreSQL's epoch (2000-01-01 UTC) in ms since 1970. */
const PG_EPOCH_MS = 946_684_800_000;

/** A replication-protocol timestamp (µs since 2000-01-01 UTC) in ms since 1970, rounded down. */
function epochMs(micros: bigint): number {
  const ms = micros / 1000n - (micros < 0n && micros % 1000n !== 0n ? 1n : 0n);
  return Number(ms) + PG_EPOCH_MS;
}

/** `0/16B3748` → bigint. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** bigint → `0/16B3748` (the text form pg_lsn accepts). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

class Reader {
  #offset: number;

  constructor(
    private readonly buffer: Buffer,
    offset: number,
  ) {
    this.#offset = offset;
  }

  #need(length: number): void {
    if (this.#offset + length > this.buffer.length) throw new Error('pgoutput: message truncated');
  }

  byte(): number {
    this.#need(1);
    return this.buffer[this.#offset++]!;
  }

  expect(value: number): void {
    const found = this.byte();
    if (found !== value)
      throw new Error(`pgoutput: expected 0x${value.toString(16)}, found 0x${found.toString(16)}`);
  }

  skip(length: number): void {
    this.#need(length);
    this.#offset += length;
  }

  uint16(): number {
    this.#need(2);
    const value = this.buffer.readUInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  uint32(): number {
    this.#need(4);
    const value = this.buffer.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  uint64(): bigint {
    this.#need(8);
    const value = this.buffer.readBigUInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }

  int64(): bigint {
    this.#need(8);
    const value = this.buffer.readBigInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }

  bytes(length: number): Buffer {
    this.#need(length);
    const value = this.buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  cstring(): string {
    const end = this.buffer.indexOf(0, this.#offset);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const value = this.buffer.toString('utf8', this.#offset, end);
    this.#offset = end + 1;
    return value;
  }

  /** TupleData: count, then per column 'n' (null), 'u' (unchanged TOAST), 't' + length + text. */
  tuple(): TupleValues {
    const count = this.uint16();
    const values: Array<string | null | undefined> = new Array(count);
    for (let i = 0; i < count; i++) {
      const kind = this.byte();
      if (kind === 0x6e) values[i] = null;
      else if (kind === 0x75) values[i] = undefined;
      else if (kind === 0x74) {
        const length = this.uint32();
        this.#need(length);
        // Decoded in place: no Buffer view per value.
        values[i] = this.buffer.toString('utf8', this.#offset, this.#offset + length);
        this.#offset += length;
      } else throw new Error(`pgoutput: unsupported column kind 0x${kind.toString(16)}`);
    }
    return values;
  }
}
