/**
 * Presence rows in PostgreSQL (migrations/0001): `pgrt.supabase_presences` holds every tracked presence of every
 * process, `pgrt.supabase_processes` one heartbeat row per process. Each write that changes what clients see
 * publishes its diff as a core application message (topic {@link PRESENCE_TOPIC}) in the same transaction, so the
 * diff reaches every process exactly when the row change commits, and never for a rolled-back one.
 *
 * Times are the database's (`now()`), so processes on hosts with skewed clocks agree on who expired.
 */
import type { Database, Queryable } from '../../core/database/database.js';

/** The core topic presence diffs travel on between processes. */
export const PRESENCE_TOPIC = 'supabase.presence';

/** A presence as Phoenix groups them: per key, the metas (each the tracked payload plus its `phx_ref`). */
export type PresenceState = Record<string, { metas: Record<string, unknown>[] }>;

/** A `presence_diff` payload. */
export interface PresenceDiff {
  readonly joins: PresenceState;
  readonly leaves: PresenceState;
}

/** A presence diff on the bus: `t` the channel topic, `j`/`l` its joins and leaves. */
export interface WirePresenceDiff {
  readonly t: string;
  readonly j: PresenceState;
  readonly l: PresenceState;
}

/** One tracked presence. */
export interface PresenceRow {
  readonly topic: string;
  readonly ref: string;
  readonly key: string;
  readonly meta: Record<string, unknown>;
}

/** Publishes `data` on a core topic inside the caller's transaction (RealtimeCore.publish). */
export type Publish = (topic: string, data: unknown, client: Queryable) => Promise<void>;

/** `{ key: { metas: [{ ...meta, phx_ref }] } }` of `rows`, in order. */
export function groupPresences(
  rows: readonly PresenceRow[],
  prev?: ReadonlyMap<string, string>,
): PresenceState {
  const state: PresenceState = Object.create(null) as PresenceState;
  for (const row of rows) {
    let entry = state[row.key];
    if (!entry) {
      entry = { metas: [] };
      state[row.key] = entry;
    }
    const previous = prev?.get(row.ref);
    entry.metas.push(
      previous === undefined
        ? { ...row.meta, phx_ref: row.ref }
        : { ...row.meta, phx_ref: row.ref, phx_ref_prev: previous },
    );
  }
  return state;
}

/** The SQL side of presence for one process (`process`: its id). */
export class PresenceStore {
  constructor(
    readonly db: Database,
    readonly process: string,
    readonly publish: Publish,
  ) {}

  /** Refreshes this process's heartbeat row; resolves true when the row was missing (first start, or expired). */
  async heartbeat(): Promise<boolean> {
    const result = await this.db.query<{ inserted: boolean }>(
      `INSERT INTO pgrt.supabase_processes (id) VALUES ($1)
       ON CONFLICT (id) DO UPDATE SET seen_at = now()
       RETURNING (xmax = 0) AS inserted`,
      [this.process],
    );
    return result.rows[0]?.inserted === true;
  }

  /** The presences of `topic`, oldest first. */
  async list(topic: string): Promise<PresenceRow[]> {
    const result = await this.db.query<PresenceRow>(
      'SELECT topic, ref, key, meta FROM pgrt.supabase_presences WHERE topic = $1 ORDER BY tracked_at, ref',
      [topic],
    );
    return result.rows;
  }

  /**
   * Writes `row` (replacing `replaces`, this process's earlier presence of the same join, when given) and
   * publishes the diff: the join (with `phx_ref_prev` on a replacement) and the replaced presence's leave. When
   * `replaces` is gone already (expired), only the join is published. Re-inserting a row that exists (a re-track
   * after this process was expired and came back) publishes nothing.
   */
  async track(row: PresenceRow, replaces?: string): Promise<void> {
    await this.db.transaction(async (client) => {
      let left: PresenceRow | undefined;
      if (replaces !== undefined) left = await this.#delete(client, row.topic, replaces);
      const inserted = await client.query(
        `INSERT INTO pgrt.supabase_presences (topic, ref, key, meta, process) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (topic, ref) DO NOTHING`,
        [row.topic, row.ref, row.key, JSON.stringify(row.meta), this.process],
      );
      if (inserted.rowCount === 0 && !left) return;
      const prev = left ? new Map([[row.ref, left.ref]]) : undefined;
      const diff: WirePresenceDiff = {
        t: row.topic,
        j: inserted.rowCount === 0 ? {} : groupPresences([row], prev),
        l: left ? groupPresences([left]) : {},
      };
      await this.publish(PRESENCE_TOPIC, diff, client);
    });
  }

  /** Removes presence `ref` of `topic` and publishes its leave; nothing when it is gone already. */
  async untrack(topic: string, ref: string): Promise<void> {
    await this.db.transaction(async (client) => {
      const left = await this.#delete(client, topic, ref);
      if (left) await this.publish(PRESENCE_TOPIC, { t: topic, j: {}, l: groupPresences([left]) }, client);
    });
  }

  /**
   * Removes the processes whose heartbeat is older than `ttlMs` and every presence without a live process row,
   * publishing their leaves (one diff per topic); resolves to how many presences left. Any process may run it at
   * any time: a row is deleted, and its leave published, exactly once.
   */
  async expire(ttlMs: number): Promise<number> {
    return await this.db.transaction(async (client) => {
      const result = await client.query<PresenceRow>(
        `WITH dead AS (
           DELETE FROM pgrt.supabase_processes
            WHERE seen_at < now() - $1::int8 * interval '1 millisecond' RETURNING id
         )
         DELETE FROM pgrt.supabase_presences p
          WHERE p.process IN (SELECT id FROM dead)
             OR NOT EXISTS (SELECT 1 FROM pgrt.supabase_processes s WHERE s.id = p.process)
         RETURNING topic, ref, key, meta`,
        [ttlMs],
      );
      await this.#publishLeaves(client, result.rows);
      return result.rows.length;
    });
  }

  /** Removes this process: its presences (publishing their leaves) and its heartbeat row (shutdown). */
  async removeProcess(): Promise<void> {
    await this.db.transaction(async (client) => {
      const result = await client.query<PresenceRow>(
        'DELETE FROM pgrt.supabase_presences WHERE process = $1 RETURNING topic, ref, key, meta',
        [this.process],
      );
      await client.query('DELETE FROM pgrt.supabase_processes WHERE id = $1', [this.process]);
      await this.#publishLeaves(client, result.rows);
    });
  }

  async #delete(client: Queryable, topic: string, ref: string): Promise<PresenceRow | undefined> {
    const result = await client.query<PresenceRow>(
      'DELETE FROM pgrt.supabase_presences WHERE topic = $1 AND ref = $2 RETURNING topic, ref, key, meta',
      [topic, ref],
    );
    return result.rows[0];
  }

  async #publishLeaves(client: Queryable, rows: readonly PresenceRow[]): Promise<void> {
    const byTopic = new Map<string, PresenceRow[]>();
    for (const row of rows) {
      const list = byTopic.get(row.topic);
      if (list) list.push(row);
      else byTopic.set(row.topic, [row]);
    }
    for (const [topic, left] of byTopic) {
      await this.publish(PRESENCE_TOPIC, { t: topic, j: {}, l: groupPresences(left) }, client);
    }
  }
}
