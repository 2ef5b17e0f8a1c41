/**
 * The change bus port: the stream of committed changes (and write fences) every server process receives, in
 * commit order. The default implementation is PostgreSQL LISTEN/NOTIFY (pg-notification-bus.ts) in every capture
 * mode: in `outbox` mode the notifications come from the pump (core/capture/outbox-pump.ts) in outbox id order, which
 * per row is commit order, and the same bus replays a LISTEN gap from the outbox instead of emitting `resync`. The
 * other is NATS JetStream (nats/nats-change-bus.ts, capture modes `outbox` and `logical`): the pump relays the outbox
 * to a stream with one subject per table, and each process consumes only its tables' subjects.
 */
import type { PumpRelay } from '../capture/pump-source.js';

/** Default NOTIFY channel shared by every pgrt process on a database. */
export const DEFAULT_CHANGE_CHANNEL = 'pgrt_changes';

/**
 * One event of the bus. `seq` is process-local and increases by exactly 1 per delivered event.
 * - `change`: one row changed. `table` is `schema.table`; `key` is the key as row JSON carries it (bigint/numeric
 *   as decimal strings); `row` is the raw row JSON (decode with core/database/row-codec.ts), undefined for
 *   deletes; `txid` is the writing transaction's id (decimal text). `old` is the old row's raw JSON, on updates and
 *   deletes of tables whose REPLICA IDENTITY is FULL only (logical decoding's old row; the triggers read the setting
 *   when installed), else undefined. `committedAt` is the transaction's time in ms since 1970 when the payload
 *   carries it: its commit time in capture mode `logical`, its start (`transaction_timestamp()`) in the trigger
 *   modes. Consumers that need neither ignore them (they cost nothing else).
 * - `truncate`: every row of `table` was removed.
 * - `fence`: a write fence (`pgrt.fence`) passed: every change of its transaction was delivered before it.
 * - `resync`: changes may have been missed (the listener reconnected after a gap, or a spilled payload was lost);
 *   consumers must re-read their state.
 * - `message`: an application message published on `topic` (core/bus/messages.ts) by any process or by SQL;
 *   `data` is its JSON value. Messages are not changes: they are not replayed after a gap and carry no position.
 */
export type BusEvent =
  | {
      kind: 'change';
      seq: number;
      table: string;
      op: 'insert' | 'update' | 'delete';
      key: unknown;
      row: Record<string, unknown> | undefined;
      txid: string;
      old?: Record<string, unknown>;
      committedAt?: number;
    }
  | { kind: 'truncate'; seq: number; table: string; txid: string }
  | { kind: 'fence'; seq: number; id: string }
  | { kind: 'resync'; seq: number }
  | { kind: 'message'; seq: number; topic: string; data: unknown };

/** The change bus. */
export interface ChangeBus {
  /** Starts listening; resolves once listening (rejects if the first connection fails). */
  start(): Promise<void>;
  /**
   * Adds a handler; returns its removal. Handlers are called synchronously, in event order; a throwing handler is
   * logged and does not affect the others.
   */
  subscribe(handler: (event: BusEvent) => void): () => void;
  /** True while the bus is listening. */
  readonly connected: boolean;
  /**
   * True when the bus listens through a database connection, so that `connected` is false while the database is
   * unreachable (PostgreSQL's LISTEN); a bus without it (NATS) leaves readiness to a database probe.
   */
  readonly followsDatabase?: boolean;
  /** `seq` of the last delivered event (0 before the first). */
  readonly lastSeq: number;
  /** Stops listening for good (idempotent). */
  close(): Promise<void>;
  /**
   * Asks for the changes of `tables` (`schema.table`) until the watch is released (watches are counted per table). A
   * bus that can filter (NATS: one subject per table) receives only the watched tables' changes, and fences and
   * resyncs: every change committed after `ready` resolved is delivered (one committed before may be too). A bus
   * without it delivers every table.
   */
  watch?(tables: readonly string[]): TableWatch;
  /** The pump's other half for a bus fed from the outbox by a relay (NATS); undefined for PostgreSQL's own. */
  pumpRelay?(): PumpRelay;
}

/** A watch of some tables ({@link ChangeBus.watch}). */
export interface TableWatch {
  /** Resolves once the tables' changes are consumed (never rejects; waits while the bus is unreachable). */
  readonly ready: Promise<void>;
  /** Ends this watch (idempotent); a table nobody watches any more is no longer consumed. */
  release(): void;
}

/** Injection token for {@link ChangeBus}. */
export const ChangeBusToken = Symbol('pgrt.ChangeBus');
