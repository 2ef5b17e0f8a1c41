/**
 * The `pgrt` schema and the capture triggers: how every committed change to a registered table, whoever wrote it,
 * becomes a NOTIFY on the change channel (DESIGN.md decisions 1–3).
 *
 * Notification payloads (JSON text, one per changed row, in commit order on the channel):
 * - insert/update: `{"t":"schema.table","o":"i"|"u","k":<key>,"x":"<txid>","n":<seq>,"r":{row}}`
 * - delete:        `{"t":"schema.table","o":"d","k":<key>,"x":"<txid>","n":<seq>}`
 * - truncate:      `{"t":"schema.table","o":"t","x":"<txid>","n":<seq>}`
 * - spilled:       the above without `r`, plus `"s":<pgrt.spill id>`; the full payload is that row's `payload`.
 * - write fence:   `{"f":"<id>"}` (from `pgrt.fence`).
 * `r` is row-codec.ts `rowJsonSql`'s JSON (bigint/numeric as exact text); `k` is `r`'s key value. `n` numbers the
 * notifications of one transaction: PostgreSQL folds identical payloads within a transaction, which would drop
 * e.g. the second insert of insert/delete/insert of the same row. An update that changes the key notifies a
 * delete of the old key then an insert of the new one; an update that changes nothing (binary-identical row)
 * notifies nothing. A payload over the spill threshold (in bytes) goes to `pgrt.spill`.
 *
 * Capture modes ({@link CaptureMode}, DESIGN.md decision 4; docs/reference.md "Capture modes"):
 * - `notify` (above): the trigger calls pg_notify itself. Zero setup, but every notifying commit takes PostgreSQL's
 *   cluster-wide notify lock through its WAL flush (reference/perf.md §2: 8 writers 6.8k → ~2k inserts/s).
 * - `outbox`: the trigger (`pgrt.capture_outbox()`) builds the same payload (without `n`: the outbox position
 *   makes every payload unique) and appends it to `pgrt.outbox` (no NOTIFY in the writer's transaction); `pgrt.fence_outbox` appends fences the same way. The pump
 *   (core/bus/outbox-pump.ts, `pgrt.outbox_pump`) notifies the rows later, in id order, each payload prefixed with
 *   its outbox id `"p":<id>`; a row too big to notify inline is notified as `{"p":<id>}` and read from the outbox.
 *   Since migration 4 consecutive rows of a channel go out together, as a JSON array of those objects. Migration 5
 *   makes the trigger's INSERT path cheaper (same payloads) and has a sending pump step take its next barrier.
 * - `logical`: no trigger; the pump decodes the WAL and appends the same payloads (core/bus/logical-source.ts,
 *   `pgrt.logical_append`), one outbox row per notification.
 *   Every appender takes its transaction id (`pg_current_xact_id()`) BEFORE it draws the row's id from
 *   `pgrt.outbox_id_seq` (CACHE 1, so ids are handed out in real-time order): the pump's ordering rule relies on it.
 *
 * Every DDL step runs in one transaction holding a fixed advisory lock, so processes starting together serialise.
 */
import type { Database, Queryable } from './database.js';
import { exactColumns, quoteLiteral, quoteTable } from './row-codec.js';
import type { TableInfo } from './table-info.js';

/** The schema version this code installs. */
export const SCHEMA_VERSION = 5;

/** Default spill threshold: payloads above this many bytes are spilled (NOTIFY's limit is < 8000 bytes). */
export const DEFAULT_SPILL_THRESHOLD_BYTES = 7900;

/** Advisory lock key ('pgrt' in ASCII) serialising pgrt's DDL across processes. */
const DDL_LOCK = 0x70677274;

/** How committed changes leave the writer's transaction: NOTIFY in the trigger, or an outbox drained by a pump. */
export type CaptureMode = 'notify' | 'outbox' | 'logical';

/** The publication of the `logical` capture mode: the captured tables. */
export const LOGICAL_PUBLICATION = 'pgrt_capture';

/** Name of the row trigger installed on captured tables. */
export const CAPTURE_TRIGGER = 'pgrt_capture';
/** Name of the statement-level TRUNCATE trigger installed on captured tables. */
export const CAPTURE_TRUNCATE_TRIGGER = 'pgrt_capture_truncate';

const MIGRATIONS: readonly string[] = [
  // 1: spill table, capture functions, fence.
  `
CREATE TABLE pgrt.spill (
  id bigserial PRIMARY KEY,
  payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spill_created_at ON pgrt.spill (created_at);

-- r with the named columns' JSON replaced by their exact decimal text. Numbers carry their text; money arrives as
-- its (lc_monetary) output text and is converted through numeric; NaN/Infinity strings are kept.
CREATE FUNCTION pgrt.exact(r jsonb, cols text[]) RETURNS jsonb LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  patch jsonb := '{}';
  col text;
  v jsonb;
BEGIN
  FOREACH col IN ARRAY cols LOOP
    v := r -> col;
    IF jsonb_typeof(v) = 'number' THEN
      patch := patch || jsonb_build_object(col, v #>> '{}');
    ELSIF jsonb_typeof(v) = 'string' AND v #>> '{}' NOT IN ('NaN', 'Infinity', '-Infinity') THEN
      patch := patch || jsonb_build_object(col, (v #>> '{}')::money::numeric::text);
    END IF;
  END LOOP;
  RETURN r || patch;
END
$fn$;

-- Notifies '{' || head || ',"n":<n>' || body || '}', spilling it when longer than threshold bytes.
CREATE FUNCTION pgrt.emit(channel text, head text, body text, threshold int) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  n bigint := coalesce(nullif(current_setting('pgrt.n', true), ''), '0')::bigint + 1;
  payload text;
  spill_id bigint;
BEGIN
  PERFORM set_config('pgrt.n', n::text, true);
  payload := '{' || head || ',"n":' || n || body || '}';
  IF octet_length(payload) > threshold THEN
    INSERT INTO pgrt.spill (payload) VALUES (payload) RETURNING id INTO spill_id;
    payload := '{' || head || ',"n":' || n || ',"s":' || spill_id || '}';
  END IF;
  PERFORM pg_notify(channel, payload);
END
$fn$;

-- Row trigger. TG_ARGV: channel, key column, spill threshold (bytes), then the bigint/numeric column names.
CREATE FUNCTION pgrt.capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  cols text[] := TG_ARGV[3:];
  head text := '"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text;
  threshold int := TG_ARGV[2]::int;
  x text;
  r jsonb;
  old_key jsonb;
BEGIN
  -- *= (binary row equality) also works for columns without an equality operator (json, point, ...).
  IF TG_OP = 'UPDATE' AND NEW *= OLD THEN
    RETURN NULL;
  END IF;
  x := ',"x":"' || txid_current() || '"';
  IF TG_OP <> 'INSERT' THEN
    old_key := pgrt.exact(jsonb_build_object(TG_ARGV[1], to_jsonb(OLD) -> TG_ARGV[1]), cols) -> TG_ARGV[1];
  END IF;
  IF TG_OP = 'DELETE' THEN
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || x, '', threshold);
    RETURN NULL;
  END IF;
  r := pgrt.exact(to_jsonb(NEW), cols);
  IF TG_OP = 'INSERT' THEN
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || x, ',"r":' || r::text, threshold);
  ELSIF (r -> TG_ARGV[1]) IS DISTINCT FROM old_key THEN
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || x, '', threshold);
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || x, ',"r":' || r::text, threshold);
  ELSE
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"u","k":' || (r -> TG_ARGV[1])::text || x, ',"r":' || r::text, threshold);
  END IF;
  RETURN NULL;
END
$fn$;

-- Statement trigger AFTER TRUNCATE; same TG_ARGV as pgrt.capture().
CREATE FUNCTION pgrt.capture_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pgrt.emit(TG_ARGV[0],
    '"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text || ',"o":"t","x":"' || txid_current() || '"',
    '', TG_ARGV[2]::int);
  RETURN NULL;
END
$fn$;

-- Write fence: notifies {"f":id} and returns true when the current transaction wrote (has an xid), else false.
CREATE FUNCTION pgrt.fence(channel text, id text) RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  IF txid_current_if_assigned() IS NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_notify(channel, '{"f":' || to_json(id)::text || '}');
  RETURN true;
END
$fn$;

-- Triggers run as whoever writes: any role may append spilled payloads (reading them stays restricted).
GRANT USAGE ON SCHEMA pgrt TO PUBLIC;
GRANT INSERT ON pgrt.spill TO PUBLIC;
GRANT USAGE ON SEQUENCE pgrt.spill_id_seq TO PUBLIC;
`,
  // 2: the outbox capture mode (see the module header and core/bus/outbox-pump.ts).
  `
-- CACHE 1 (the default): nextval hands ids out in real-time order across sessions.
CREATE SEQUENCE pgrt.outbox_id_seq;
CREATE TABLE pgrt.outbox (
  id bigint PRIMARY KEY,
  xid xid8 NOT NULL,
  channel text NOT NULL,
  payload text NOT NULL
);
ALTER SEQUENCE pgrt.outbox_id_seq OWNED BY pgrt.outbox.id;

-- The pump's position (every row with id <= pumped_through has been notified, or was never committed) and the
-- retention's (every row with id <= deleted_through is gone). Written by the pump only, in its own transactions.
CREATE TABLE pgrt.outbox_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  pumped_through bigint NOT NULL DEFAULT 0,
  deleted_through bigint NOT NULL DEFAULT 0
);
INSERT INTO pgrt.outbox_state DEFAULT VALUES;

-- Appends one payload. The transaction id is taken (assigned if need be) BEFORE the row's id is drawn.
CREATE FUNCTION pgrt.outbox_append(channel text, payload text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  x xid8 := pg_current_xact_id();
BEGIN
  INSERT INTO pgrt.outbox (id, xid, channel, payload) VALUES (nextval('pgrt.outbox_id_seq'), x, channel, payload);
END
$fn$;

-- Row trigger of the outbox mode; same TG_ARGV and payloads as pgrt.capture() but without "n" (the outbox position
-- the pump adds makes every payload unique) and without a size limit (the pump decides). Inlined for speed: this
-- runs in every writer's transaction. x is taken before nextval() (the pump's rule relies on it).
CREATE FUNCTION pgrt.capture_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  x xid8 := pg_current_xact_id();
  head text := '{"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text;
  tail text := ',"x":"' || x || '"';
  r jsonb;
  old_key jsonb;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW *= OLD THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    old_key := to_jsonb(OLD) -> TG_ARGV[1];
    IF TG_NARGS > 3 THEN
      old_key := pgrt.exact(jsonb_build_object(TG_ARGV[1], old_key), TG_ARGV[3:]) -> TG_ARGV[1];
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || tail || '}');
    RETURN NULL;
  END IF;
  r := to_jsonb(NEW);
  IF TG_NARGS > 3 THEN
    r := pgrt.exact(r, TG_ARGV[3:]);
  END IF;
  IF TG_OP = 'UPDATE' AND (r -> TG_ARGV[1]) IS DISTINCT FROM old_key THEN
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || tail || '}');
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || tail || ',"r":' || r::text || '}');
  ELSE
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            head || CASE TG_OP WHEN 'INSERT' THEN ',"o":"i","k":' ELSE ',"o":"u","k":' END
                 || (r -> TG_ARGV[1])::text || tail || ',"r":' || r::text || '}');
  END IF;
  RETURN NULL;
END
$fn$;

-- Statement trigger AFTER TRUNCATE of the outbox mode.
CREATE FUNCTION pgrt.capture_truncate_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pgrt.outbox_append(TG_ARGV[0],
    '{"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text || ',"o":"t","x":"' || pg_current_xact_id() || '"}');
  RETURN NULL;
END
$fn$;

-- Write fence of the outbox mode: appends {"f":id} after the transaction's changes if it wrote; returns whether.
CREATE FUNCTION pgrt.fence_outbox(channel text, id text) RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  IF pg_current_xact_id_if_assigned() IS NULL THEN
    RETURN false;
  END IF;
  PERFORM pgrt.outbox_append(channel, '{"f":' || to_json(id)::text || '}');
  RETURN true;
END
$fn$;

-- The next transaction id to be assigned, without assigning one (NULL in the rare case it cannot tell: retry).
-- NOT pg_snapshot_xmax(): that is the latest COMPLETED xid + 1, and a running transaction that got its xid after the
-- last completion is at or above it. age(xid) counts from the next xid (ReadNextTransactionId, read once per
-- transaction on its first call, when the transaction has no xid of its own): ref + age(ref) is that next xid.
CREATE FUNCTION pgrt.next_xid() RETURNS xid8 LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  ref bigint := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
  low bigint := ref % 4294967296;
BEGIN
  IF low < 3 OR pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RETURN NULL; -- 0..2 are permanent xids (age() says "infinitely old"); with an xid age() counts from it
  END IF;
  RETURN (ref + age(low::text::xid))::text::xid8;
END
$fn$;

-- One step of the pump (core/bus/outbox-pump.ts explains the rule). A barrier (barrier_id, barrier_xid) says: every
-- id <= barrier_id was drawn by a transaction whose xid < barrier_xid. Once no transaction older than barrier_xid
-- runs (pg_snapshot_xmin >= barrier_xid), every row with id <= barrier_id is final: visible iff committed. The step
-- takes a new barrier when given none (the last id drawn, THEN the next xid to be assigned: pgrt.next_xid());
-- if the barrier has passed it notifies up to max_rows rows past pumped_through, in id order, and records the new
-- position in the same transaction. Every statement of a VOLATILE function takes a fresh snapshot (READ COMMITTED);
-- this transaction gets its own xid only at the final UPDATE, after every check.
-- Returns the position, the number notified, and the barrier still pending (NULLs when none).
CREATE FUNCTION pgrt.outbox_pump(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int,
  OUT pumped bigint, OUT sent int, OUT pending_id bigint, OUT pending_xid xid8) LANGUAGE plpgsql AS $fn$
DECLARE
  target bigint;
  r record;
  note text;
BEGIN
  sent := 0;
  SELECT s.pumped_through INTO pumped FROM pgrt.outbox_state s;
  IF barrier_id IS NULL OR barrier_id <= pumped THEN
    barrier_id := coalesce(pg_sequence_last_value('pgrt.outbox_id_seq'::regclass), 0);
    IF barrier_id <= pumped THEN
      RETURN;
    END IF;
    barrier_xid := pgrt.next_xid();
    IF barrier_xid IS NULL THEN
      RETURN;
    END IF;
  END IF;
  pending_id := barrier_id;
  pending_xid := barrier_xid;
  IF pg_snapshot_xmin(pg_current_snapshot()) < barrier_xid THEN
    RETURN;
  END IF;
  target := pumped;
  FOR r IN
    SELECT o.id, o.channel, o.payload FROM pgrt.outbox o
     WHERE o.id > pumped AND o.id <= barrier_id ORDER BY o.id LIMIT max_rows
  LOOP
    note := '{"p":' || r.id || ',' || substr(r.payload, 2);
    IF octet_length(note) > threshold THEN
      note := '{"p":' || r.id || '}';
    END IF;
    PERFORM pg_notify(r.channel, note);
    sent := sent + 1;
    target := r.id;
  END LOOP;
  IF sent < max_rows THEN
    target := barrier_id;
    pending_id := NULL;
    pending_xid := NULL;
  END IF;
  UPDATE pgrt.outbox_state s SET pumped_through = target WHERE s.pumped_through = pumped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgrt outbox position moved under the pump (two pumps?)';
  END IF;
  pumped := target;
END
$fn$;

GRANT INSERT ON pgrt.outbox TO PUBLIC;
GRANT USAGE ON SEQUENCE pgrt.outbox_id_seq TO PUBLIC;
`,
  // 3: the logical capture mode (see the module header and core/bus/logical-source.ts).
  `
-- The tables captured through logical decoding and what their payloads need (the triggers' TG_ARGV).
CREATE TABLE pgrt.logical_tables (
  table_name text PRIMARY KEY,
  channel text NOT NULL,
  key_column text NOT NULL,
  exact_columns text[] NOT NULL
);

-- The commit end LSN of the last transaction the logical pump appended (NULL: none yet).
ALTER TABLE pgrt.outbox_state ADD COLUMN decoded_through pg_lsn;

-- The logical pump's step: appends the payloads of every transaction that committed up to lsn (their commit end
-- LSN) to the outbox and notifies them, in order, moving both positions in the same transaction. Returns the
-- number appended, or -1 when lsn was already applied (a replay after a lost acknowledgement: nothing is done).
CREATE FUNCTION pgrt.logical_append(lsn pg_lsn, threshold int, channels text[], payloads text[]) RETURNS int
LANGUAGE plpgsql AS $fn$
DECLARE
  pumped bigint;
  decoded pg_lsn;
  n int := coalesce(array_length(payloads, 1), 0);
  r record;
BEGIN
  SELECT s.pumped_through, s.decoded_through INTO pumped, decoded FROM pgrt.outbox_state s FOR UPDATE;
  IF decoded IS NOT NULL AND lsn <= decoded THEN
    RETURN -1;
  END IF;
  -- One INSERT for the batch; ids are drawn over the ordered subquery, so in payload order.
  FOR r IN
    WITH appended AS (
      INSERT INTO pgrt.outbox (id, xid, channel, payload)
      SELECT nextval('pgrt.outbox_id_seq'), pg_current_xact_id(), p.channel, p.payload
        FROM (SELECT u.channel, u.payload FROM unnest(channels, payloads) WITH ORDINALITY AS u(channel, payload, ord)
               ORDER BY u.ord) p
      RETURNING id, channel, payload
    )
    SELECT a.id, a.channel, a.payload FROM appended a ORDER BY a.id
  LOOP
    IF octet_length(r.payload) + 5 + length(r.id::text) > threshold THEN -- the length of the note below
      PERFORM pg_notify(r.channel, '{"p":' || r.id || '}');
    ELSE
      PERFORM pg_notify(r.channel, '{"p":' || r.id || ',' || substr(r.payload, 2));
    END IF;
    pumped := r.id;
  END LOOP;
  UPDATE pgrt.outbox_state SET pumped_through = pumped, decoded_through = lsn;
  RETURN n;
END
$fn$;

-- Logical mode's way into the change stream for what is not a row change: a transactional logical decoding
-- message (prefix 'pgrt', content channel || newline || payload), decoded at its transaction's commit, after the
-- transaction's changes.
CREATE FUNCTION pgrt.logical_emit(channel text, payload text) RETURNS void LANGUAGE sql AS $fn$
  SELECT NULL FROM pg_logical_emit_message(true, 'pgrt', channel || chr(10) || payload);
$fn$;

-- Write fence of the logical mode: emits {"f":id} after the transaction's changes if it wrote; returns whether.
CREATE FUNCTION pgrt.fence_logical(channel text, id text) RETURNS boolean LANGUAGE plpgsql AS $fn$
BEGIN
  IF pg_current_xact_id_if_assigned() IS NULL THEN
    RETURN false;
  END IF;
  PERFORM pgrt.logical_emit(channel, '{"f":' || to_json(id)::text || '}');
  RETURN true;
END
$fn$;
`,
  // 4: several changes per notification (both pumps) and per outbox row (the logical pump).
  `
-- Rows up to a page stay inline and uncompressed: the logical pump's rows hold up to a notification (< 8000 bytes).
ALTER TABLE pgrt.outbox SET (toast_tuple_target = 8160);

-- The outbox pump's step (migration 2's rule, unchanged) notifying several rows per notification: a JSON array of
-- the per-row notes '{"p":<id>,…}' (or '{"p":<id>}' for a row too big to notify) of consecutive rows of one channel,
-- at most threshold bytes; a lone note goes out as itself.
CREATE OR REPLACE FUNCTION pgrt.outbox_pump(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int,
  OUT pumped bigint, OUT sent int, OUT pending_id bigint, OUT pending_xid xid8) LANGUAGE plpgsql AS $fn$
DECLARE
  target bigint;
  r record;
  note text;
  note_bytes int;
  chunk text;
  chunk_channel text;
  chunk_bytes int;
  chunk_notes int := 0;
BEGIN
  sent := 0;
  SELECT s.pumped_through INTO pumped FROM pgrt.outbox_state s;
  IF barrier_id IS NULL OR barrier_id <= pumped THEN
    barrier_id := coalesce(pg_sequence_last_value('pgrt.outbox_id_seq'::regclass), 0);
    IF barrier_id <= pumped THEN
      RETURN;
    END IF;
    barrier_xid := pgrt.next_xid();
    IF barrier_xid IS NULL THEN
      RETURN;
    END IF;
  END IF;
  pending_id := barrier_id;
  pending_xid := barrier_xid;
  IF pg_snapshot_xmin(pg_current_snapshot()) < barrier_xid THEN
    RETURN;
  END IF;
  target := pumped;
  FOR r IN
    SELECT o.id, o.channel, o.payload FROM pgrt.outbox o
     WHERE o.id > pumped AND o.id <= barrier_id ORDER BY o.id LIMIT max_rows
  LOOP
    note := '{"p":' || r.id || ',' || substr(r.payload, 2);
    note_bytes := octet_length(note);
    IF note_bytes > threshold THEN
      note := '{"p":' || r.id || '}';
      note_bytes := octet_length(note);
    END IF;
    -- '[' || notes joined by ',' || ']' must stay within threshold.
    IF chunk_notes > 0 AND (r.channel <> chunk_channel OR chunk_bytes + 1 + note_bytes + 2 > threshold) THEN
      PERFORM pg_notify(chunk_channel, CASE WHEN chunk_notes = 1 THEN chunk ELSE '[' || chunk || ']' END);
      chunk_notes := 0;
    END IF;
    IF chunk_notes = 0 THEN
      chunk := note;
      chunk_channel := r.channel;
      chunk_bytes := note_bytes;
    ELSE
      chunk := chunk || ',' || note;
      chunk_bytes := chunk_bytes + 1 + note_bytes;
    END IF;
    chunk_notes := chunk_notes + 1;
    sent := sent + 1;
    target := r.id;
  END LOOP;
  IF chunk_notes > 0 THEN
    PERFORM pg_notify(chunk_channel, CASE WHEN chunk_notes = 1 THEN chunk ELSE '[' || chunk || ']' END);
  END IF;
  IF sent < max_rows THEN
    target := barrier_id;
    pending_id := NULL;
    pending_xid := NULL;
  END IF;
  UPDATE pgrt.outbox_state s SET pumped_through = target WHERE s.pumped_through = pumped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgrt outbox position moved under the pump (two pumps?)';
  END IF;
  pumped := target;
END
$fn$;

-- The logical pump's step, batched: appends the payloads of every transaction that committed up to lsn (their commit
-- end LSN), in order, as one outbox row per notification, notifies them and moves both positions, in one
-- transaction. Payloads are JSON objects and arrive without their opening '{' (bodies[i] is payload i minus its first
-- character, so that a position goes in front without copying); chunks[i] is payload i's notification, an index
-- into channels; the payloads of one notification are consecutive. Each payload gets its own position (drawn in
-- payload order). A notification of several payloads is the JSON array '[{"p":<id>,…},…]' (the caller keeps it
-- within threshold bytes), stored as such in the row whose id is its last position; a lone payload is stored as
-- itself under its position and notified as '{"p":<id>,…}', or '{"p":<id>}' when that is longer than threshold
-- bytes. Returns the number of payloads appended, or -1 when lsn was already applied (a replay after a lost
-- acknowledgement: nothing is done).
CREATE OR REPLACE FUNCTION pgrt.logical_append(lsn pg_lsn, threshold int, channels text[], chunks int[],
  bodies text[]) RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  pumped bigint;
  decoded pg_lsn;
  r record;
  note text;
BEGIN
  SELECT s.pumped_through, s.decoded_through INTO pumped, decoded FROM pgrt.outbox_state s FOR UPDATE;
  IF decoded IS NOT NULL AND lsn <= decoded THEN
    RETURN -1;
  END IF;
  IF cardinality(chunks) IS DISTINCT FROM cardinality(bodies) THEN
    RAISE EXCEPTION 'pgrt.logical_append: % payloads but % chunk indexes', cardinality(bodies), cardinality(chunks);
  END IF;
  FOR r IN
    WITH e AS MATERIALIZED (
      SELECT nextval('pgrt.outbox_id_seq') AS id, u.body, u.chunk, u.ord
        FROM (SELECT b.body, b.chunk, b.ord FROM unnest(bodies, chunks) WITH ORDINALITY AS b(body, chunk, ord)
               ORDER BY b.ord) u
    ), c AS MATERIALIZED (
      SELECT max(e.id) AS id, channels[e.chunk] AS channel, count(*) AS n,
             CASE WHEN count(*) = 1 THEN '{' || min(e.body)
                  ELSE '[' || string_agg('{"p":' || e.id || ',' || e.body, ',' ORDER BY e.ord) || ']'
             END AS payload
        FROM e GROUP BY e.chunk
    ), appended AS (
      INSERT INTO pgrt.outbox (id, xid, channel, payload) SELECT c.id, pg_current_xact_id(), c.channel, c.payload FROM c
    )
    SELECT c.id, c.channel, c.n, c.payload FROM c ORDER BY c.id
  LOOP
    IF r.n > 1 THEN
      note := r.payload;
    ELSE
      note := '{"p":' || r.id || ',' || substr(r.payload, 2);
      IF octet_length(note) > threshold THEN
        note := '{"p":' || r.id || '}';
      END IF;
    END IF;
    PERFORM pg_notify(r.channel, note);
    pumped := r.id;
  END LOOP;
  UPDATE pgrt.outbox_state SET pumped_through = pumped, decoded_through = lsn;
  RETURN cardinality(bodies);
END
$fn$;
`,
  // 5: a leaner outbox trigger and fewer pump steps per delivery (same payloads, same ordering rule).
  `
-- Row trigger of the outbox mode (migration 2's, same TG_ARGV and byte-identical payloads), cheaper for INSERT, the
-- hot path of every captured writer: pgrt.exact's patch inlined (no second plpgsql call) and fewer statements (each
-- writer's transaction is usually one row, and plpgsql prepares every expression it runs afresh per transaction).
-- bench/writer-overhead.ts's single-row INSERT: ~230 → ~200 µs of backend CPU per insert (no trigger: ~120).
-- UPDATE and DELETE keep migration 2's code. x is taken before nextval() (the pump's rule relies on it).
CREATE OR REPLACE FUNCTION pgrt.capture_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  x xid8 := pg_current_xact_id();
  head text;
  tail text;
  r jsonb;
  patch jsonb;
  v jsonb;
  old_key jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    r := to_jsonb(NEW);
    IF TG_NARGS > 3 THEN
      patch := '{}';
      FOR i IN 3 .. TG_NARGS - 1 LOOP
        v := r -> TG_ARGV[i];
        IF jsonb_typeof(v) = 'number' THEN
          patch := patch || jsonb_build_object(TG_ARGV[i], v #>> '{}');
        ELSIF jsonb_typeof(v) = 'string' AND v #>> '{}' NOT IN ('NaN', 'Infinity', '-Infinity') THEN
          patch := patch || jsonb_build_object(TG_ARGV[i], (v #>> '{}')::money::numeric::text);
        END IF;
      END LOOP;
      r := r || patch;
    END IF;
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            '{"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text || ',"o":"i","k":'
              || (r -> TG_ARGV[1])::text || ',"x":"' || x || '","r":' || r::text || '}');
    RETURN NULL;
  END IF;
  head := '{"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text;
  tail := ',"x":"' || x || '"';
  IF TG_OP = 'UPDATE' AND NEW *= OLD THEN
    RETURN NULL;
  END IF;
  old_key := to_jsonb(OLD) -> TG_ARGV[1];
  IF TG_NARGS > 3 THEN
    old_key := pgrt.exact(jsonb_build_object(TG_ARGV[1], old_key), TG_ARGV[3:]) -> TG_ARGV[1];
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || tail || '}');
    RETURN NULL;
  END IF;
  r := to_jsonb(NEW);
  IF TG_NARGS > 3 THEN
    r := pgrt.exact(r, TG_ARGV[3:]);
  END IF;
  IF (r -> TG_ARGV[1]) IS DISTINCT FROM old_key THEN
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || tail || '}');
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || tail || ',"r":' || r::text || '}');
  ELSE
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            head || ',"o":"u","k":' || (r -> TG_ARGV[1])::text || tail || ',"r":' || r::text || '}');
  END IF;
  RETURN NULL;
END
$fn$;

-- The outbox pump's step (migration 4's), which after sending everything up to its barrier takes the next barrier
-- in the same call and returns it as pending. Under a steady flow the old step alternated between taking a barrier
-- (sending nothing: a writer was still running) and sending up to it; now every step sends. Same signature and
-- rule, so pumps of schema 4 run it unchanged.
CREATE OR REPLACE FUNCTION pgrt.outbox_pump(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int,
  OUT pumped bigint, OUT sent int, OUT pending_id bigint, OUT pending_xid xid8) LANGUAGE plpgsql AS $fn$
DECLARE
  target bigint;
  r record;
  note text;
  note_bytes int;
  chunk text;
  chunk_channel text;
  chunk_bytes int;
  chunk_notes int := 0;
  took boolean := false;
BEGIN
  sent := 0;
  SELECT s.pumped_through INTO pumped FROM pgrt.outbox_state s;
  IF barrier_id IS NULL OR barrier_id <= pumped THEN
    barrier_id := coalesce(pg_sequence_last_value('pgrt.outbox_id_seq'::regclass), 0);
    IF barrier_id <= pumped THEN
      RETURN;
    END IF;
    barrier_xid := pgrt.next_xid();
    took := true;
    IF barrier_xid IS NULL THEN
      RETURN;
    END IF;
  END IF;
  pending_id := barrier_id;
  pending_xid := barrier_xid;
  IF pg_snapshot_xmin(pg_current_snapshot()) < barrier_xid THEN
    RETURN;
  END IF;
  target := pumped;
  FOR r IN
    SELECT o.id, o.channel, o.payload FROM pgrt.outbox o
     WHERE o.id > pumped AND o.id <= barrier_id ORDER BY o.id LIMIT max_rows
  LOOP
    note := '{"p":' || r.id || ',' || substr(r.payload, 2);
    note_bytes := octet_length(note);
    IF note_bytes > threshold THEN
      note := '{"p":' || r.id || '}';
      note_bytes := octet_length(note);
    END IF;
    -- '[' || notes joined by ',' || ']' must stay within threshold.
    IF chunk_notes > 0 AND (r.channel <> chunk_channel OR chunk_bytes + 1 + note_bytes + 2 > threshold) THEN
      PERFORM pg_notify(chunk_channel, CASE WHEN chunk_notes = 1 THEN chunk ELSE '[' || chunk || ']' END);
      chunk_notes := 0;
    END IF;
    IF chunk_notes = 0 THEN
      chunk := note;
      chunk_channel := r.channel;
      chunk_bytes := note_bytes;
    ELSE
      chunk := chunk || ',' || note;
      chunk_bytes := chunk_bytes + 1 + note_bytes;
    END IF;
    chunk_notes := chunk_notes + 1;
    sent := sent + 1;
    target := r.id;
  END LOOP;
  IF chunk_notes > 0 THEN
    PERFORM pg_notify(chunk_channel, CASE WHEN chunk_notes = 1 THEN chunk ELSE '[' || chunk || ']' END);
  END IF;
  IF sent < max_rows THEN
    target := barrier_id;
    pending_id := NULL;
    pending_xid := NULL;
    -- Everything up to the barrier is out: take the next one now (rows appended meanwhile), so that the next step
    -- can send at once instead of only taking it. Only when this transaction has not called pgrt.next_xid() yet:
    -- age() reads the next xid once per transaction, so a second call would return a stale, unsafe barrier.
    IF NOT took THEN
      barrier_id := coalesce(pg_sequence_last_value('pgrt.outbox_id_seq'::regclass), 0);
      IF barrier_id > target THEN
        barrier_xid := pgrt.next_xid();
        IF barrier_xid IS NOT NULL THEN
          pending_id := barrier_id;
          pending_xid := barrier_xid;
        END IF;
      END IF;
    END IF;
  END IF;
  UPDATE pgrt.outbox_state s SET pumped_through = target WHERE s.pumped_through = pumped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'pgrt outbox position moved under the pump (two pumps?)';
  END IF;
  pumped := target;
END
$fn$;
`,
];

/** Options of {@link ensureSchema} (none yet; reserved). */
export type EnsureSchemaOptions = Record<string, never>;

/**
 * Runs `fn` in one transaction that holds pgrt's DDL advisory lock, so DDL of processes starting together on one
 * database runs one after another, and each sees what the previous one committed (`CREATE TABLE IF NOT EXISTS`
 * racing in two transactions fails with a unique violation on `pg_type`). pgrt's own schema and capture steps
 * run under it, and so do the app's migrations (createServer's `migrate`, `pgrt migrate`). `fn` must not commit
 * or roll back, nor run statements that refuse a transaction block (`CREATE INDEX CONCURRENTLY`).
 */
export async function withDdlLock<T>(db: Database, fn: (client: Queryable) => Promise<T>): Promise<T> {
  return await db.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
    return await fn(client);
  });
}

/**
 * Creates or upgrades the `pgrt` schema to {@link SCHEMA_VERSION}. Idempotent, and safe when several processes
 * start at once (serialised by an advisory lock, all in one transaction). Rejects if the database holds a newer
 * schema version than this code knows.
 */
export async function ensureSchema(db: Database, _options: EnsureSchemaOptions = {}): Promise<void> {
  await withDdlLock(db, async (client) => {
    await client.query('CREATE SCHEMA IF NOT EXISTS pgrt');
    await client.query('CREATE TABLE IF NOT EXISTS pgrt.schema_version (version int NOT NULL)');
    const found = await client.query<{ version: number }>(
      'SELECT max(version) AS version FROM pgrt.schema_version',
    );
    const current = found.rows[0]?.version ?? 0;
    if (current > SCHEMA_VERSION) {
      throw new Error(`pgrt schema version ${current} is newer than this pgrt (${SCHEMA_VERSION})`);
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await client.query(MIGRATIONS[version - 1]!);
    }
    if (current < SCHEMA_VERSION) {
      await client.query('DELETE FROM pgrt.schema_version');
      await client.query('INSERT INTO pgrt.schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
    }
  });
}

/** Options of {@link installCapture}. */
export interface CaptureOptions {
  /** NOTIFY channel (default `pgrt_changes`). */
  readonly channel?: string;
  /** Payloads longer than this many bytes are spilled (default 7900; at most 7999, NOTIFY's limit). */
  readonly spillThresholdBytes?: number;
  /**
   * `notify` (default): NOTIFY in the trigger; `outbox`: append to `pgrt.outbox` for the pump; `logical`: no trigger,
   * the table joins the `pgrt_capture` publication and the pump decodes the WAL.
   */
  readonly mode?: CaptureMode;
}

/** The trigger functions of each capture mode, as `regprocedure` text. */
const TRIGGER_FUNCTIONS: Readonly<
  Record<Exclude<CaptureMode, 'logical'>, { readonly row: string; readonly truncate: string }>
> = {
  notify: { row: 'pgrt.capture()', truncate: 'pgrt.capture_truncate()' },
  outbox: { row: 'pgrt.capture_outbox()', truncate: 'pgrt.capture_truncate_outbox()' },
};

/** The TG_ARGV of both capture triggers: channel, key column, threshold, then the bigint/numeric columns. */
export function captureArguments(table: TableInfo, options: CaptureOptions = {}): string[] {
  const threshold = options.spillThresholdBytes ?? DEFAULT_SPILL_THRESHOLD_BYTES;
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 7999) {
    throw new RangeError(`spillThresholdBytes must be an integer in 0..7999, got ${threshold}`);
  }
  return [options.channel ?? 'pgrt_changes', table.key.name, String(threshold), ...exactColumns(table)];
}

/**
 * Installs (or replaces) the capture triggers of `options.mode` on `table`. Idempotent: when both triggers already
 * exist with the same functions and arguments nothing is changed (no table lock beyond a catalog read); otherwise they are dropped and created
 * in one locked transaction. Requires {@link ensureSchema} first.
 */
export async function installCapture(
  db: Database,
  table: TableInfo,
  options: CaptureOptions = {},
): Promise<void> {
  const args = captureArguments(table, options);
  const argList = args.map(quoteLiteral).join(', ');
  const target = quoteTable(table);
  const mode = options.mode ?? 'notify';
  if (mode === 'logical') {
    await withDdlLock(db, async (client) => {
      await dropTriggers(client, target);
      await publishForLogical(client, table, args);
    });
    return;
  }
  const functions = TRIGGER_FUNCTIONS[mode];
  await withDdlLock(db, async (client) => {
    await unpublish(client, table);
    const existing = await client.query<{ name: string; args: Buffer; fn: string }>(
      `SELECT tgname AS name, tgargs AS args, tgfoid::regprocedure::text AS fn FROM pg_catalog.pg_trigger
       WHERE tgrelid = $1::regclass AND tgname IN ($2, $3)`,
      [target, CAPTURE_TRIGGER, CAPTURE_TRUNCATE_TRIGGER],
    );
    const wanted = args.join('\0');
    const current = existing.rows.filter((row) => decodeArgs(row.args) === wanted).map((row) => row.fn);
    if (current.includes(functions.row) && current.includes(functions.truncate)) return;
    await dropTriggers(client, target);
    await client.query(
      `CREATE TRIGGER ${CAPTURE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${target}
       FOR EACH ROW EXECUTE FUNCTION ${functions.row.slice(0, -2)}(${argList})`,
    );
    await client.query(
      `CREATE TRIGGER ${CAPTURE_TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${target}
       FOR EACH STATEMENT EXECUTE FUNCTION ${functions.truncate.slice(0, -2)}(${argList})`,
    );
  });
}

/** Removes the capture of every mode from `table` (idempotent). */
export async function removeCapture(db: Database, table: Pick<TableInfo, 'schema' | 'name'>): Promise<void> {
  await withDdlLock(db, async (client) => {
    await dropTriggers(client, quoteTable(table));
    await unpublish(client, table);
  });
}

/**
 * Logical mode: registers `table` in `pgrt.logical_tables` with the triggers' arguments, adds it to the
 * {@link LOGICAL_PUBLICATION} (created on first use), and makes sure its deletes and key changes carry the key: when
 * the key column is not part of the replica identity, the table gets REPLICA IDENTITY FULL.
 */
async function publishForLogical(
  client: Queryable,
  table: TableInfo,
  args: readonly string[],
): Promise<void> {
  const [channel, key, , ...exact] = args;
  const target = quoteTable(table);
  const identity = await client.query<{ setting: string; columns: string[] | null }>(
    `SELECT c.relreplident AS setting,
            (SELECT array_agg(a.attname::text) FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = c.oid
                AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))) AS columns
       FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass`,
    [target],
  );
  const found = identity.rows[0];
  if (found && found.setting !== 'f' && !(found.columns ?? []).includes(key ?? '')) {
    await client.query(`ALTER TABLE ${target} REPLICA IDENTITY FULL`);
  }
  await client.query(
    `INSERT INTO pgrt.logical_tables (table_name, channel, key_column, exact_columns) VALUES ($1, $2, $3, $4)
     ON CONFLICT (table_name) DO UPDATE SET channel = EXCLUDED.channel, key_column = EXCLUDED.key_column,
       exact_columns = EXCLUDED.exact_columns`,
    [`${table.schema}.${table.name}`, channel, key, exact],
  );
  const publication = await client.query<{ member: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables
                     WHERE pubname = $1 AND schemaname = $2 AND tablename = $3) AS member
       FROM pg_catalog.pg_publication WHERE pubname = $1`,
    [LOGICAL_PUBLICATION, table.schema, table.name],
  );
  const row = publication.rows[0];
  if (!row) await client.query(`CREATE PUBLICATION ${LOGICAL_PUBLICATION} FOR TABLE ${target}`);
  else if (!row.member) await client.query(`ALTER PUBLICATION ${LOGICAL_PUBLICATION} ADD TABLE ${target}`);
}

/** Takes `table` out of the logical mode's registry and publication (when it is in them). */
async function unpublish(client: Queryable, table: Pick<TableInfo, 'schema' | 'name'>): Promise<void> {
  await client.query('DELETE FROM pgrt.logical_tables WHERE table_name = $1', [
    `${table.schema}.${table.name}`,
  ]);
  const member = await client.query(
    'SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
    [LOGICAL_PUBLICATION, table.schema, table.name],
  );
  if (member.rowCount) {
    await client.query(`ALTER PUBLICATION ${LOGICAL_PUBLICATION} DROP TABLE ${quoteTable(table)}`);
  }
}

async function dropTriggers(client: Queryable, target: string): Promise<void> {
  await client.query(`DROP TRIGGER IF EXISTS ${CAPTURE_TRIGGER} ON ${target}`);
  await client.query(`DROP TRIGGER IF EXISTS ${CAPTURE_TRUNCATE_TRIGGER} ON ${target}`);
}

// tgargs: each argument followed by a NUL byte.
function decodeArgs(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.endsWith('\0') ? text.slice(0, -1) : text;
}
