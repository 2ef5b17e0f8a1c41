-- pgrt schema, part 10: the outbox pump sends committed rows as soon as every row before them is committed, without
-- waiting for a barrier (core/capture/outbox-pump.ts explains the rule). Ids are drawn from a CACHE 1 sequence by the
-- appenders alone, one per row, so the ids past the position are nearly always consecutive: if id pumped+1, +2, …, +k
-- are all visible (committed), no other transaction can ever commit an id at or below pumped+k, and those rows can go
-- out at once, in id order. Only a missing id followed by a visible one (a running transaction's row, an aborted
-- transaction's id, a sequence jump after a crash, the gaps the logical pump leaves) needs the barrier of
-- 0002_outbox.sql, and only from that id on. Under a steady flow a change now leaves with the first step after its
-- commit, instead of with the step after the one that took a barrier covering it; a quiet pump's step reads no xid.
-- Same signature and results as 0006_outbox_step.sql (pgrt.outbox_pump calls it).

CREATE OR REPLACE FUNCTION pgrt.outbox_step(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int,
  notify boolean, OUT pumped bigint, OUT sent int, OUT pending_id bigint, OUT pending_xid xid8,
  OUT pumped_from bigint, OUT ids bigint[], OUT channels text[], OUT payloads text[]) LANGUAGE plpgsql AS $fn$
DECLARE
  target bigint;
  r record;
  gap boolean := false;
  passed boolean := false;
  note text;
  note_bytes int;
  chunk text;
  chunk_channel text;
  chunk_bytes int;
  chunk_notes int := 0;
BEGIN
  sent := 0;
  ids := '{}';
  channels := '{}';
  payloads := '{}';
  SELECT s.pumped_through INTO pumped FROM pgrt.outbox_state s;
  pumped_from := pumped;
  target := pumped;
  -- At most two passes: the committed rows that follow the position without a gap (final whatever runs); then, if a
  -- missing id stopped them and the barrier has passed, every row up to the barrier, read in a snapshot taken after
  -- the barrier's check (each statement of a VOLATILE function takes a fresh one).
  LOOP
    FOR r IN
      SELECT o.id, o.channel, o.payload FROM pgrt.outbox o
       WHERE o.id > target AND (NOT passed OR o.id <= barrier_id) ORDER BY o.id LIMIT max_rows - sent
    LOOP
      IF NOT passed AND r.id <> target + 1 THEN
        gap := true;
        EXIT;
      END IF;
      sent := sent + 1;
      target := r.id;
      IF NOT notify THEN
        ids[sent] := r.id;
        channels[sent] := r.channel;
        payloads[sent] := r.payload;
        CONTINUE;
      END IF;
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
    END LOOP;
    EXIT WHEN passed OR NOT gap OR sent >= max_rows;
    -- An id after the position is missing (running, or absent for good) and a later one is visible. A barrier of
    -- an earlier step decides if it covers the missing ids; else take one (once per step: a second
    -- pgrt.next_xid() in this transaction would be stale).
    IF barrier_id IS NULL OR barrier_xid IS NULL OR barrier_id <= target THEN
      barrier_id := coalesce(pg_sequence_last_value('pgrt.outbox_id_seq'::regclass), 0);
      barrier_xid := pgrt.next_xid();
    END IF;
    IF barrier_xid IS NULL OR barrier_id <= target THEN
      EXIT;
    END IF;
    pending_id := barrier_id;
    pending_xid := barrier_xid;
    EXIT WHEN pg_snapshot_xmin(pg_current_snapshot()) < barrier_xid;
    passed := true;
  END LOOP;
  IF passed AND sent < max_rows THEN
    -- Every row up to the barrier is out; ids there without a row belong to no committed transaction.
    target := barrier_id;
    pending_id := NULL;
    pending_xid := NULL;
  END IF;
  IF chunk_notes > 0 THEN
    PERFORM pg_notify(chunk_channel, CASE WHEN chunk_notes = 1 THEN chunk ELSE '[' || chunk || ']' END);
  END IF;
  IF target > pumped THEN
    UPDATE pgrt.outbox_state s SET pumped_through = target WHERE s.pumped_through = pumped;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'pgrt outbox position moved under the pump (two pumps?)';
    END IF;
  END IF;
  pumped := target;
END
$fn$;
