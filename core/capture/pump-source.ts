/**
 * Where the elected pump (outbox-pump.ts) gets the changes it moves onto the bus: the seam between the pump's
 * election, scheduling and retention (shared) and what differs per capture mode.
 * - outbox-source.ts: rows the `outbox` mode's triggers appended, drained by `pgrt.outbox_pump` steps.
 * - logical/logical-source.ts: the WAL, decoded through the capture slot and appended by `pgrt.logical_append`.
 * A source is used by one pump, on the pump's connection (which holds the pump's advisory lock), one step at a time.
 */
import type pg from 'pg';
import type { Logger } from '../logger.js';

/**
 * Changes per second above which a source gathers them for `gatherMs` between steps instead of stepping as soon as
 * they arrive. Each step costs about the same whatever it carries (a round trip, a plpgsql call, a commit with its
 * WAL flush and the notify lock, wake-ups of the pump and its backend). bench/writer-overhead.ts at 2,000 changes/s,
 * outbox pump process and backend together: ~145–165 µs of CPU per change with 2-ms steps (every other one only
 * taking a barrier), ~120 with the barrier taken by the sending step, ~80 with 10-ms gathering (~55 at 20 ms): CPU
 * the writers share. Above this rate gathering saves that CPU for the writers; below it the latency is worth more.
 */
export const GATHER_ABOVE_PER_SECOND = 1000;

/** What a source is told by its pump. */
export interface PumpSourceOptions {
  readonly logger: Logger;
  /** `application_name` of the pump's connection; a source's own connections derive theirs from it. */
  readonly applicationName: string;
  /** Most changes per pump transaction. */
  readonly batchRows: number;
  /** Notifications hold at most this many bytes. */
  readonly thresholdBytes: number;
  /** Poll interval while changes flow, while they arrive fast, and the longest when idle, in ms. */
  readonly busyPollMs: number;
  readonly gatherMs: number;
  readonly idlePollMs: number;
  /** How long a source with nothing to do waits for its next step unless woken, in ms. */
  readonly asleepCheckMs: number;
  /** A barrier pending longer than this is logged (a long transaction holds delivery back), in ms. */
  readonly stallWarningMs: number;
  /**
   * Asks the pump to run the next step within `delayMs` if it is scheduled later (a source that is pushed
   * changes, like the replication stream, calls it; never postpones a step).
   */
  readonly wake: (delayMs: number) => void;
  /**
   * The pump hands its changes to a {@link PumpRelay} (the NATS bus) instead of NOTIFY: a source that can returns the
   * rows it passed ({@link PumpStep.passed}) and notifies nothing.
   */
  readonly relayed: boolean;
}

/** One outbox row a step passed (relayed mode). */
export interface PassedRow {
  readonly id: number;
  readonly channel: string;
  readonly payload: string;
}

/** The rows one step passed, when the source hands them over (relayed mode). */
export interface PassedRows {
  /** The pump's position before the step: the rows follow it. */
  readonly after: number;
  /** The pump's position after it (ids past the last row up to here belong to no committed row). */
  readonly through: number;
  /** In id order. */
  readonly rows: readonly PassedRow[];
}

/**
 * {@link PassedRows} from the columns a relayed step or append returns: positions before (`from`, absent: no rows)
 * and after (`through`), and the rows' ids, channels and payloads as parallel arrays (PostgreSQL returns bigints as text).
 */
export function passedRows(
  from: string | undefined,
  through: string | undefined,
  ids: readonly string[] = [],
  channels: readonly string[] = [],
  payloads: readonly string[] = [],
): PassedRows {
  const to = Number(through);
  const rows: PassedRow[] = ids.map((id, i) => ({
    id: Number(id),
    channel: channels[i]!,
    payload: payloads[i]!,
  }));
  return { after: Number(from ?? to), through: to, rows };
}

/** What one step did. */
export interface PumpStep {
  /** Changes moved onto the bus. */
  readonly sent: number;
  /** When to run the next step, in ms from now. */
  readonly delayMs: number;
  /** Relayed mode: the rows the step passed, when the source returns them (else the relay reads the outbox). */
  readonly passed?: PassedRows;
}

/** One capture mode's source of changes for the pump. */
export interface PumpSource {
  /** This process just became the pump; `client` holds the pump's lock. */
  lead(client: pg.Client): Promise<void>;
  /** One step on the pump's connection. A rejection is retried by the pump (a broken connection steps down). */
  step(client: pg.Client): Promise<PumpStep>;
  /** Leadership ended (lost, or the pump closes): stop reading and drop what is not appended (idempotent). */
  stop(): Promise<void>;
}

/**
 * What the pump hands its changes to instead of NOTIFY: a change bus that is not PostgreSQL (core/bus/nats/) relays the
 * outbox rows the pump has passed to its own transport. It runs on the pump's connection after each step, only in the
 * leading process.
 */
export interface PumpRelay {
  /** This process just became the pump: forget any position (another relay may have moved on). */
  lead(client: pg.Client): Promise<void>;
  /**
   * Relays rows up to the pump's position: the rows `step` passed when it carries them and they follow what was
   * relayed, else read from the outbox (after a takeover or a failure). Resolves whether rows remain (step again at
   * once). Never rejects: failures are the relay's to log and retry.
   */
  step(client: pg.Client, step: PumpStep): Promise<boolean>;
  /** The last outbox position relayed, when known: retention deletes no row past it (none at all while unknown). */
  readonly relayedThrough: number | undefined;
  /** Leadership ended (idempotent). */
  stop(): Promise<void>;
  /** The pump closes: release the transport (idempotent). */
  close(): Promise<void>;
}
