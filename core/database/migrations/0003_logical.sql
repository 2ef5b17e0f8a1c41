-- pgrt schema, part 3: the `logical` capture mode (core/bus/logical-source.ts). Squashes pre-release schema
-- migrations 3 and 4 (the logical parts).

-- The tables captured through logical decoding and what their payloads need (the triggers' TG_ARGV).
CREATE TABLE pgrt.logical_tables (
  table_name text PRIMARY KEY,
  channel text NOT NULL,
  key_column text NOT NULL,
  exact_columns text[] NOT NULL
);

-- The commit end LSN of the last transaction the logical pump appended (NULL: none yet).
ALTER TABLE pgrt.outbox_state ADD COLUMN decoded_through pg_lsn;

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
CREATE FUNCTION pgrt.logical_append(lsn pg_lsn, threshold int, channels text[], chunks int[],
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
