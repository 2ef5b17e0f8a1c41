/**
 * The `logical` capture mode's decoder: assembles the pgoutput messages of the replication stream (pgoutput.ts) into
 * committed transactions of row changes, truncates and pgrt's logical decoding messages (`pgrt.logical_emit`:
 * fences, resyncs), in commit order. It keeps the relations the stream described; the replication client
 * (replication-client.ts) feeds it each XLogData payload.
 */
import { decodePgoutput, type RelationColumn, type TupleValues } from './pgoutput.js';

/** Prefix of pgrt's logical decoding messages (`pgrt.logical_emit`): content is `channel \n payload`. */
export const MESSAGE_PREFIX = 'pgrt';

/** The payload op of each row message. */
const ROW_OPS = { insert: 'i', update: 'u', delete: 'd' } as const;

/** A relation as the stream last described it. */
export interface StreamRelation {
  readonly oid: number;
  /** `schema.table`, as payloads name tables. */
  readonly table: string;
  readonly schema: string;
  readonly name: string;
  /** REPLICA IDENTITY FULL: updates and deletes carry the whole old row, which payloads then carry too (`b`). */
  readonly full: boolean;
  readonly columns: readonly RelationColumn[];
}

/** One change of a decoded transaction. */
export type DecodedChange =
  | {
      readonly kind: 'row';
      readonly op: 'i' | 'u' | 'd';
      readonly relation: StreamRelation;
      /** The new row (insert, update) or the old key / old row (delete). */
      readonly values: TupleValues;
      /** Update: the old key ('K') or old row ('O') when the server sent one (the key changed, or REPLICA IDENTITY FULL). */
      readonly old: TupleValues | undefined;
    }
  | { readonly kind: 'truncate'; readonly relations: readonly StreamRelation[] }
  | { readonly kind: 'message'; readonly channel: string; readonly payload: string };

/** A committed transaction, as decoded. */
export interface DecodedTransaction {
  readonly xid: number;
  /** End of its commit record: acknowledging it releases the WAL up to here. */
  readonly endLsn: bigint;
  /** Its commit time, in ms since 1970. */
  readonly commitTime: number;
  readonly changes: readonly DecodedChange[];
}

/** Turns pgoutput messages into committed transactions (one decoder per replication stream). */
export class TransactionDecoder {
  readonly #relations = new Map<number, StreamRelation>();
  #current: { xid: number; changes: DecodedChange[] } | undefined;

  /** True between a transaction's Begin and its Commit. */
  get inTransaction(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Decodes one pgoutput message (an XLogData payload from `offset` on); returns the transaction it completes (at
   * its Commit), else undefined. Throws on a protocol mismatch (a change outside a transaction, an undescribed
   * relation, an unknown layout).
   */
  decode(data: Buffer, offset: number): DecodedTransaction | undefined {
    const message = decodePgoutput(data, offset);
    switch (message.tag) {
      case 'begin':
        this.#current = { xid: message.xid, changes: [] };
        return undefined;
      case 'relation':
        this.#relations.set(message.oid, {
          oid: message.oid,
          table: `${message.schema}.${message.name}`,
          schema: message.schema,
          name: message.name,
          full: message.replicaIdentity === 'f',
          columns: message.columns,
        });
        return undefined;
      case 'insert':
      case 'update':
      case 'delete':
        this.#push({
          kind: 'row',
          op: ROW_OPS[message.tag],
          relation: this.#relation(message.relation),
          // A delete carries the old key (or old row) only.
          values: message.tag === 'delete' ? message.old : message.values,
          old: message.tag === 'update' ? message.old : undefined,
        });
        return undefined;
      case 'truncate':
        this.#push({ kind: 'truncate', relations: message.relations.map((oid) => this.#relation(oid)) });
        return undefined;
      case 'message': {
        if (message.prefix !== MESSAGE_PREFIX || !message.transactional) return undefined;
        const text = message.content.toString('utf8');
        const newline = text.indexOf('\n');
        if (newline < 0) return undefined;
        this.#push({ kind: 'message', channel: text.slice(0, newline), payload: text.slice(newline + 1) });
        return undefined;
      }
      case 'commit': {
        const current = this.#current;
        this.#current = undefined;
        if (!current) return undefined;
        return {
          xid: current.xid,
          endLsn: message.endLsn,
          commitTime: message.commitTime,
          changes: current.changes,
        };
      }
      default:
        return undefined;
    }
  }

  #push(change: DecodedChange): void {
    if (!this.#current) throw new Error('pgoutput: change outside a transaction');
    this.#current.changes.push(change);
  }

  #relation(oid: number): StreamRelation {
    const relation = this.#relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change of relation ${oid} before its description`);
    return relation;
  }
}
