/**
 * Application messages on the bus: a JSON value published on a topic reaches every process listening on the change
 * channel, as a `message` {@link BusEvent} (DESIGN.md decision 16: broadcast and presence ride the same bus). The
 * core gives them no meaning; an adapter picks the topics it owns (e.g. the Supabase adapter's broadcasts).
 *
 * A message takes the path of the changes (the capture mode's):
 * - `notify`: `pgrt.emit(channel, '"m":<topic JSON>', ',"d":<data JSON>', threshold)` (core/database/migrations/0001),
 *   i.e. the notification `{"m":<topic>,"n":<n>,"d":<data>}`; `n` numbers the notifications of one transaction
 *   (PostgreSQL folds identical payloads within a transaction), and a payload over the threshold is spilled to
 *   `pgrt.spill` like a change (`{"m":…,"n":…,"s":<id>}`). Lost in a LISTEN gap (no replay), like a change there.
 * - `outbox`, `logical`: `{"m":<topic>,"d":<data>}` through the mode's `emit` (`pgrt.outbox_append`,
 *   `pgrt.logical_emit`): the pump sends it on with the changes, so it reaches the NATS bus too and is replayed
 *   after a gap.
 * SQL code publishes the same way, e.g. from a trigger in `notify` mode:
 * `PERFORM pgrt.emit('pgrt_changes', '"m":' || to_json(topic)::text, ',"d":' || data::text, 7900)`.
 *
 * Contracts: published inside a transaction, a message is delivered after its commit and dropped on rollback;
 * published through the pool, after the statement. Messages are delivered in order with the changes. The
 * publishing process receives its own messages too.
 */
import type { CaptureMode } from '../capture/capture-mode.js';
import type { Queryable } from '../database/database.js';
import { DEFAULT_SPILL_THRESHOLD_BYTES } from '../database/schema.js';

/** Options of {@link publishMessage}. */
export interface PublishMessageOptions {
  /** NOTIFY channel: the bus's (default `pgrt_changes`). */
  readonly channel?: string;
  /** Payloads over this many bytes are spilled to `pgrt.spill` (default 7900, at most 7999; `notify` mode). */
  readonly spillThresholdBytes?: number;
  /** The capture mode (default: `notify`'s path); a mode with an outbox sends messages through it. */
  readonly mode?: CaptureMode;
}

/**
 * Publishes `data` (any JSON value) on `topic` through `db` (the pool, or a transaction's client: then it is
 * delivered on commit). Rejects when `data` has no JSON form (undefined, a function) or the statement fails.
 */
export async function publishMessage(
  db: Queryable,
  topic: string,
  data: unknown,
  options: PublishMessageOptions = {},
): Promise<void> {
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`message data on topic '${topic}' has no JSON form`);
  const channel = options.channel ?? 'pgrt_changes';
  if (options.mode?.outbox) {
    await options.mode.emit(db, channel, `{"m":${JSON.stringify(topic)},"d":${json}}`);
    return;
  }
  await db.query('SELECT pgrt.emit($1, $2, $3, $4)', [
    channel,
    `"m":${JSON.stringify(topic)}`,
    `,"d":${json}`,
    options.spillThresholdBytes ?? DEFAULT_SPILL_THRESHOLD_BYTES,
  ]);
}
