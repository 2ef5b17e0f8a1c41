/**
 * Application messages on the bus: a JSON value published on a topic reaches every process listening on the change
 * channel, as a `message` {@link BusEvent} (DESIGN.md decision 16: broadcast and presence ride the same bus). The
 * core gives them no meaning; an adapter picks the topics it owns (e.g. the Supabase adapter's broadcasts).
 *
 * Wire: `pgrt.emit(channel, '"m":<topic JSON>', ',"d":<data JSON>', threshold)` (core/database/migrations/0001),
 * i.e. the notification `{"m":<topic>,"n":<n>,"d":<data>}`; `n` numbers the notifications of one transaction
 * (PostgreSQL folds identical payloads within a transaction), and a payload over the threshold is spilled to
 * `pgrt.spill` like a change (`{"m":…,"n":…,"s":<id>}`). SQL code publishes the same way, so a trigger can send a
 * message: `PERFORM pgrt.emit('pgrt_changes', '"m":' || to_json(topic)::text, ',"d":' || data::text, 7900)`.
 *
 * Contracts: published inside a transaction, a message is delivered after its commit and dropped on rollback;
 * published through the pool, after the statement. Messages are delivered in notification order with the changes,
 * in every capture mode (they never pass through the outbox), and are lost in a LISTEN gap (no replay): they suit
 * ephemeral traffic. The publishing process receives its own messages too.
 */
import type { Queryable } from '../database/database.js';
import { DEFAULT_SPILL_THRESHOLD_BYTES } from '../database/schema.js';

/** Options of {@link publishMessage}. */
export interface PublishMessageOptions {
  /** NOTIFY channel: the bus's (default `pgrt_changes`). */
  readonly channel?: string;
  /** Payloads over this many bytes are spilled to `pgrt.spill` (default 7900, at most 7999). */
  readonly spillThresholdBytes?: number;
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
  await db.query('SELECT pgrt.emit($1, $2, $3, $4)', [
    options.channel ?? 'pgrt_changes',
    `"m":${JSON.stringify(topic)}`,
    `,"d":${json}`,
    options.spillThresholdBytes ?? DEFAULT_SPILL_THRESHOLD_BYTES,
  ]);
}
