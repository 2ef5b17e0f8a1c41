-- pgrt schema, part 2: the `outbox` capture mode (core/bus/outbox-pump.ts explains the pump and its ordering rule).
-- Squashes pre-release schema migrations 2, 4 (the outbox parts) and 5.

-- CACHE 1 (the default): nextval hands ids out in real-time order across sessions.
CREATE SEQUENCE pgrt.outbox_id_seq;
CREATE TABLE pgrt.outbox (
  id bigint PRIMARY KEY,
  xid xid8 NOT NULL,
  channel text NOT NULL,
  payload text NOT NULL
) WITH (toast_tuple_target = 8160); -- rows up to a page stay inline: the logical pump's hold a notification (< 8000 B)
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
-- the pump adds makes every payload unique) and without a size limit (the pump decides). This runs in every
-- writer's transaction, so the INSERT path (the hot one) is inlined: pgrt.exact's patch without a second plpgsql
-- call, few statements (a writer's transaction is usually one row, and plpgsql prepares every expression it runs
-- afresh per transaction). bench/writer-overhead.ts's single-row INSERT: ~200 µs of backend CPU (no trigger: ~120).
-- x is taken before nextval() (the pump's rule relies on it).
CREATE FUNCTION pgrt.capture_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
-- position in the same transaction. Consecutive rows of one channel go out together: a JSON array of the per-row
-- notes '{"p":<id>,…}' (or '{"p":<id>}' for a row too big to notify), at most threshold bytes; a lone note goes out
-- as itself. A step that sent everything up to its barrier takes the next barrier in the same call and returns it
-- as pending, so that under a steady flow every step sends (instead of every other one only taking a barrier).
-- Every statement of a VOLATILE function takes a fresh snapshot (READ COMMITTED); this transaction gets its own xid
-- only at the final UPDATE, after every check.
-- Returns the position, the number notified, and the barrier still pending (NULLs when none).
CREATE FUNCTION pgrt.outbox_pump(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int,
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

GRANT INSERT ON pgrt.outbox TO PUBLIC;
GRANT USAGE ON SEQUENCE pgrt.outbox_id_seq TO PUBLIC;
