/**
 * Read-only probes of a running core, for metrics and health checks: how long the change bus takes to deliver a
 * notification, and how many change payloads were spilled. The SQL they need lives here, in core, so that the
 * layers above (server metrics, the CLI) only call functions.
 */
import { randomUUID } from 'node:crypto';
import type { ChangeBus } from './bus/change-bus.js';
import type { Queryable } from './database/database.js';

/** What {@link busRoundTripSeconds} needs of a core. */
export interface BusProbeTarget {
  readonly db: Queryable;
  readonly bus: ChangeBus;
  /** The NOTIFY channel the bus listens on. */
  readonly channel: string;
}

/**
 * NOTIFYs a probe fence through the pool and resolves to the seconds until the bus delivered it: the bus's lag,
 * whatever the capture mode. NaN when the bus is down, the NOTIFY failed, or nothing arrived within `timeoutMs`.
 * Nobody waits for the probe's fence id, so the core ignores it.
 */
export async function busRoundTripSeconds(target: BusProbeTarget, timeoutMs: number): Promise<number> {
  if (!target.bus.connected) return Number.NaN;
  const id = `probe-${randomUUID()}`;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  const arrived = new Promise<boolean>((resolve) => {
    unsubscribe = target.bus.subscribe((event) => {
      if (event.kind === 'fence' && event.id === id) resolve(true);
    });
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    await target.db.query('SELECT pg_notify($1, $2)', [target.channel, JSON.stringify({ f: id })]);
    return (await arrived) ? (performance.now() - started) / 1000 : Number.NaN;
  } catch {
    return Number.NaN;
  } finally {
    clearTimeout(timer);
    unsubscribe?.();
  }
}

/** Change payloads ever spilled to `pgrt.spill` (the sequence: whole database, every process); NaN on error. */
export async function spilledPayloadCount(db: Queryable): Promise<number> {
  try {
    const result = await db.query<{ n: string }>(
      'SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM pgrt.spill_id_seq',
    );
    return Number(result.rows[0]?.n ?? 0);
  } catch {
    return Number.NaN;
  }
}
