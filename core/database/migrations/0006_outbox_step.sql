-- pgrt schema, part 6: the pump's step for a change bus that is not PostgreSQL (NATS, core/bus/nats/nats-relay.ts).
-- pgrt.outbox_step is pgrt.outbox_pump's step (0002_outbox.sql explains it) with a choice: `notify` sends the rows as
-- before; without it nothing is notified and the rows it passed come back instead (ids, channels and payloads, in id
-- order, after position pumped_from), so that the pump's relay publishes them from the same read: no NOTIFY that
-- nobody listens to, no second read of the outbox. The position moves the same way in both cases. pgrt.outbox_pump
-- keeps its signature (older pumps call it) and becomes the notifying step.

CREATE FUNCTION pgrt.outbox_step(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int, notify boolean,
  OUT pumped bigint, OUT sent int, OUT pending_id bigint, OUT pending_xid xid8,
  OUT pumped_from bigint, OUT ids bigint[], OUT channels text[], OUT payloads text[]) LANGUAGE plpgsql AS $fn$
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
  ids := '{}';
  channels := '{}';
  payloads := '{}';
  SELECT s.pumped_through INTO pumped FROM pgrt.outbox_state s;
  pumped_from := pumped;
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

CREATE OR REPLACE FUNCTION pgrt.outbox_pump(barrier_id bigint, barrier_xid xid8, threshold int, max_rows int,
  OUT pumped bigint, OUT sent int, OUT pending_id bigint, OUT pending_xid xid8) LANGUAGE sql AS $fn$
  SELECT s.pumped, s.sent, s.pending_id, s.pending_xid
    FROM pgrt.outbox_step(barrier_id, barrier_xid, threshold, max_rows, true) s;
$fn$;
