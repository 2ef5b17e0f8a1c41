/**
 * How committed changes leave the writers' transactions (DESIGN.md decision 4; docs/reference.md "Capture modes"):
 * the seam where the three capture modes differ, so that the core, the schema, the server and the bus ask the mode
 * instead of branching on its name.
 *
 * - `notify` (trigger-capture.ts): row triggers NOTIFY in the writer's transaction; no pump.
 * - `outbox` (trigger-capture.ts): row triggers append to `pgrt.outbox`; the elected pump (outbox-pump.ts) drains it
 *   through {@link OutboxSource}.
 * - `logical` (logical-capture.ts): no triggers; the tables join a publication and the pump decodes the WAL
 *   (logical/logical-source.ts) into the same outbox.
 *
 * Contracts every mode keeps: payloads are byte-for-byte those of core/database/schema.ts's header; a write fence
 * reaches the bus after every change of its transaction; `install` is idempotent and replaces any other mode's
 * capture of the table. Every process on a database must use the same mode.
 */
import type { Database, Queryable } from '../database/database.js';
import type { TableInfo } from '../database/table-info.js';
import type { Logger } from '../logger.js';
import type { PumpSource, PumpSourceOptions } from './pump-source.js';

/** The capture modes pgrt ships. */
export type CaptureModeName = 'notify' | 'outbox' | 'logical';

/** The capture of one table: the triggers' TG_ARGV, or the logical registry's row (same fields). */
export interface CaptureArguments {
  /** The NOTIFY channel (the bus's). */
  readonly channel: string;
  /** The table's single-column key. */
  readonly keyColumn: string;
  /** Payloads above this many bytes are spilled (notify) or sent by position (pumps). */
  readonly thresholdBytes: number;
  /** bigint/numeric/money columns carried as exact decimal text. */
  readonly exactColumns: readonly string[];
}

/** One capture mode. Implementations are stateless: one instance may serve every core of a process. */
export interface CaptureMode {
  readonly name: CaptureModeName;
  /**
   * True when changes pass through `pgrt.outbox`: notifications carry outbox positions, a pump must run, and a
   * listener that lost its connection replays the gap from the outbox instead of resyncing.
   */
  readonly outbox: boolean;
  /** Rejects, with the fix, when the database cannot run this mode; changes nothing (logical: `wal_level`). */
  check(db: Queryable): Promise<void>;
  /**
   * Installs this mode's capture of `table` and removes any other mode's. Runs inside a transaction holding the
   * start-up advisory lock; idempotent (an unchanged capture is left alone, without table locks).
   */
  install(client: Queryable, table: TableInfo, args: CaptureArguments): Promise<void>;
  /**
   * Runs once the tables are installed and before anything is read from the bus (logical: creates the replication
   * slot, so no change committed from then on is missed).
   */
  prepare(db: Database, logger: Logger): Promise<void>;
  /**
   * The last statement of a method's transaction: emits write fence `id` on `channel`, after the transaction's
   * changes, if the transaction wrote; resolves whether it did.
   */
  fenceInTransaction(client: Queryable, channel: string, id: string): Promise<boolean>;
  /** Emits `payload` on `channel` in its own statement, after autocommitted writes (a method without transaction). */
  emit(db: Queryable, channel: string, payload: string): Promise<void>;
  /** The pump's source (one pump per database is elected), or undefined when the mode needs no pump. */
  pumpSource(db: Database, options: PumpSourceOptions): PumpSource | undefined;
}

/** Injection token for {@link CaptureMode} (the composition root registers the configured one). */
export const CaptureModeToken = Symbol('pgrt.CaptureMode');
