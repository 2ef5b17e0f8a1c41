/**
 * What each Supabase Realtime conformance case checks, quoted from the sources the protocol is defined by (it has
 * no written specification): the client that must keep working (`@supabase/realtime-js` 2.119.2,
 * `src/RealtimeChannel.ts`, `src/lib/serializer.ts`, `src/phoenix/*`), Phoenix's socket (phoenixframework/phoenix
 * `lib/phoenix/socket.ex`), and Supabase's server (supabase/realtime `lib/realtime_web/channels/realtime_channel.ex`,
 * `lib/extensions/postgres_cdc_rls/*`).
 *
 * Levels: `must` — realtime-js breaks (throws, drops the reply, never reports SUBSCRIBED) without it, or Phoenix's
 * socket protocol defines it; `server` — what Supabase's server sends (exact codes and texts a client may show or
 * match); `pgrt` — pgrt's own choice where the others close the connection or say nothing.
 */
import type { Citation } from '../support/citation.js';

/** How binding a case is, strongest first. */
export type SupabaseLevel = 'must' | 'server' | 'pgrt';

/** Every level, strongest first. */
export const SUPABASE_LEVELS: readonly SupabaseLevel[] = ['must', 'server', 'pgrt'];

/** A citation of this suite. */
export type SupabaseCitation = Citation<SupabaseLevel>;

const client = (file: string, text: string): SupabaseCitation => ({
  level: 'must',
  source: `@supabase/realtime-js 2.119.2 ${file}`,
  text,
});
const phoenix = (text: string): SupabaseCitation => ({
  level: 'must',
  source: 'Phoenix lib/phoenix/socket.ex',
  text,
});
const server = (file: string, text: string): SupabaseCitation => ({
  level: 'server',
  source: `supabase/realtime ${file}`,
  text,
});

const CHANNEL = 'lib/realtime_web/channels/realtime_channel.ex';
const SUBSCRIPTIONS = 'lib/extensions/postgres_cdc_rls/subscriptions.ex';
const APPLY_RLS = 'priv/repo/tenant_schema/realtime/functions/apply_rls.sql';
const FILTER_OPS = 'lib/realtime/tenants/repo/migrations/20260626120000_readd_postgrest_filter_ops.ex';

/** The citations, by case id. */
export const SUPABASE_SPEC: Readonly<Record<string, SupabaseCitation>> = {
  'socket.01': phoenix('`"heartbeat"` events in the "phoenix" topic - should just emit an OK reply'),
  'socket.02': client(
    'src/lib/serializer.ts',
    'decode(rawPayload): a text frame is `JSON.parse`d and destructured as `[join_ref, ref, topic, event, payload]` (vsn 2.0.0).',
  ),
  'socket.03': phoenix(
    'A phx_join for a topic no channel matches: `Logger.warning("Ignoring unmatched topic …")` and a reply with status error and payload `%{reason: "unmatched topic"}`.',
  ),
  'socket.04': phoenix(
    'A message for a topic not joined (the server dropped the channel and the client sends meanwhile) is answered with the `unmatched topic` error reply; a phx_leave for it with an ok reply.',
  ),
  'socket.05': phoenix(
    'A duplicate join of a topic shuts the existing channel down and pushes `phx_close` for it (`join_ref` and `ref` the old join_ref) before joining anew.',
  ),
  'socket.06': client(
    'src/phoenix (Phoenix.js Serializer, vsn 1.0.0)',
    'With vsn 1.0.0 messages are JSON objects `{topic, event, payload, ref}`; replies come back the same way.',
  ),
  'channel.07': client(
    'src/RealtimeChannel.ts subscribe()',
    'The join reply `ok` carries `{postgres_changes}`; `_updatePostgresBindings` requires, for each client binding in order, a server binding with the same `event`, `schema`, `table`, `filter` and an `id`, else CHANNEL_ERROR "mismatch between server and client bindings for postgres changes".',
  ),
  'channel.08': client(
    'src/phoenix (Phoenix.js Channel)',
    "Replies are matched to the push by `ref` and to the channel by `join_ref` (`isMember`: a message whose join_ref is not the channel's current one is dropped).",
  ),
  'channel.09': phoenix(
    'phx_leave: the channel replies ok and stops; the socket then pushes `phx_close` with `join_ref` and `ref` the join_ref.',
  ),
  'channel.10': server(
    CHANNEL,
    'join("realtime:", …): log_error("TopicNameRequired", "You must provide a topic name").',
  ),
  'changes.11': server(
    CHANNEL,
    'After the join, `push_system_message("postgres_changes", socket, "ok", "Subscribed to PostgreSQL", channel_name)`: `system` `{extension, status, message, channel}`.',
  ),
  'changes.12': server(
    SUBSCRIPTIONS,
    'An unsupported operator: `{:error, ~s(Error parsing `filter` params: ["foo", "hey"])}`, pushed as a `system` error after the join succeeded.',
  ),
  'changes.13': client(
    'src/RealtimeChannel.ts _updateFilterMessage / payload transform',
    'A `postgres_changes` push is routed by `payload.ids?.includes(bindId)` and transformed from `payload.data` (`schema`, `table`, `commit_timestamp`, `type`, `errors`, `columns` for `convertChangeData`, `record`, `old_record`).',
  ),
  'binary.14': client(
    'src/lib/serializer.ts',
    '_binaryDecode: only kind 4 (userBroadcast) is decoded: `[kind, topic_size, user_event_size, metadata_size, encoding, topic, user_event, metadata, payload]`; the client sends broadcasts as kind 3 (userBroadcastPush).',
  ),
  'rows.16': server(
    APPLY_RLS,
    "`old_record` is built from the WAL's `identity` columns: under REPLICA IDENTITY FULL every column of the old row (supabase/walrus test/sql/test_delete_old_record_behavior.sql); INSERT has no old_record, DELETE no record. realtime-js hands it on as `payload.old`.",
  ),
  'rows.17': server(
    APPLY_RLS,
    "`old_record` is built from the WAL's `identity` columns: under the default replica identity the primary key alone (supabase/walrus test/sql/test_delete_old_record_behavior.sql).",
  ),
  'rows.18': server(
    APPLY_RLS,
    "`commit_timestamp` is `to_char((wal ->> 'timestamp')::timestamptz at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')`: the transaction's commit time from the WAL, one for all its changes.",
  ),
  'rows.19': server(
    FILTER_OPS,
    '`check_equality_op`: `like` and `ilike` compare with SQL `LIKE`/`ILIKE` (patterns with `%` and `_`); a `not.` filter negates the operator. realtime-js `src/RealtimePostgresFilterBuilder.ts` offers both.',
  ),
  'rows.20': server(
    FILTER_OPS,
    '`check_equality_op`: `match` and `imatch` compare with `~` and `~*` (a regular expression searched in the value); a `not.` filter negates the operator.',
  ),
  'rows.21': server(
    FILTER_OPS,
    '`check_equality_op`: `is` takes `null`, `true`, `false` or `unknown` (`IS NULL`, `IS TRUE`…) and `isdistinct` is `IS DISTINCT FROM`: the only operators a NULL column can satisfy; a `not.` filter negates the operator.',
  ),
  'rows.22': server(
    APPLY_RLS,
    'The record is `to_jsonb` of the row: a money value becomes its output text in the database\'s `lc_monetary` (`"$1,234.50"`), not a number.',
  ),
  'rows.23': server(
    APPLY_RLS,
    "A DELETE's filters are tested on the WAL's old columns (`identity`): under REPLICA IDENTITY FULL the whole old row, so a filter on any column can match it.",
  ),
  'pgrt.15': {
    level: 'pgrt',
    source: 'pgrt adapters/supabase/README.md',
    text: 'Undecodable frames are dropped and the connection stays open (Phoenix closes it).',
  },
};
