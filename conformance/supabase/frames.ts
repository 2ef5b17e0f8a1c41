/**
 * Frames and steps the Supabase Realtime conformance cases share: the 2.0.0 frame shape and matchers, a topic of
 * its own per case run, the heartbeat check and the join realtime-js makes.
 */
import assert from 'node:assert/strict';
import type { Frame, PhoenixTestClient } from './client.js';

export type V2 = [string | null, string | null, string, string, Record<string, unknown>];

export const isV2 = (frame: Frame): frame is V2 => Array.isArray(frame) && frame.length === 5;
export const refIs =
  (ref: string) =>
  (frame: Frame): boolean =>
    isV2(frame) && frame[1] === ref;
export const eventIs =
  (topic: string, event: string) =>
  (frame: Frame): boolean =>
    isV2(frame) && frame[2] === topic && frame[3] === event;

let counter = 0;
/** A number of its own per call, for refs and markers. */
export const nextCount = (): number => ++counter;
/** A topic of its own per case run (servers may keep state per topic). */
export const topic = (name: string): string => `realtime:conf-${name}-${process.pid}-${++counter}`;

/** Sends a heartbeat and expects its ok reply. */
export async function alive(client: PhoenixTestClient): Promise<void> {
  const ref = `hb${++counter}`;
  client.send([null, ref, 'phoenix', 'heartbeat', {}]);
  const reply = await client.waitFor<V2>(refIs(ref), 'heartbeat reply');
  assert.deepEqual(reply, [null, ref, 'phoenix', 'phx_reply', { status: 'ok', response: {} }]);
}

/** The join payload realtime-js sends. */
export function joinPayload(
  postgresChanges: Record<string, unknown>[] = [],
  broadcast = { ack: false, self: false },
) {
  return {
    config: {
      broadcast,
      presence: { key: '', enabled: false },
      postgres_changes: postgresChanges,
      private: false,
    },
  };
}

/** Joins `name` and returns the reply's response (status ok asserted). */
export async function join(
  client: PhoenixTestClient,
  name: string,
  payload: Record<string, unknown> = joinPayload(),
): Promise<Record<string, unknown>> {
  const ref = `j${++counter}`;
  client.send([ref, ref, name, 'phx_join', payload]);
  const reply = await client.waitFor<V2>(refIs(ref), `join reply of ${name}`);
  assert.equal(reply[0], ref, 'the join reply echoes join_ref');
  assert.equal(reply[3], 'phx_reply');
  assert.equal(reply[4].status, 'ok', `join ok: ${JSON.stringify(reply[4])}`);
  return reply[4].response as Record<string, unknown>;
}

export const changesOf = (table: string) => {
  const [schema, name] = table.split('.') as [string, string];
  return { event: '*', schema, table: name };
};
export const needsTable = (o: { table?: string }) =>
  o.table ? undefined : 'no table opted in for every client (--table)';
