-- pgrt schema, part 9: the logical pump's append for a change bus that is not PostgreSQL (NATS,
-- core/bus/nats/nats-relay.ts), as 0006_outbox_step.sql is the outbox pump's. pgrt.logical_step is
-- pgrt.logical_append (0003_logical.sql explains it) with a choice: `notify` sends the rows as before; without it
-- nothing is notified and the rows it appended come back instead (ids, channels and stored payloads, in id order,
-- after position pumped_from, up to pumped), so that the pump's relay publishes them from the same call: no NOTIFY
-- that nobody listens to, no read of the outbox. A replay (lsn already applied) returns appended -1 and no rows.
-- pgrt.logical_append keeps its signature (older pumps call it) and becomes the notifying step.

CREATE FUNCTION pgrt.logical_step(lsn pg_lsn, threshold int, channels text[], chunks int[], bodies text[],
  notify boolean, OUT appended int, OUT pumped_from bigint, OUT pumped bigint, OUT ids bigint[],
  OUT row_channels text[], OUT payloads text[]) LANGUAGE plpgsql AS $fn$
DECLARE
  decoded pg_lsn;
  r record;
  note text;
BEGIN
  ids := '{}';
  row_channels := '{}';
  payloads := '{}';
  SELECT s.pumped_through, s.decoded_through INTO pumped, decoded FROM pgrt.outbox_state s FOR UPDATE;
  pumped_from := pumped;
  IF decoded IS NOT NULL AND lsn <= decoded THEN
    appended := -1;
    RETURN;
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
    ), inserted AS (
      INSERT INTO pgrt.outbox (id, xid, channel, payload) SELECT c.id, pg_current_xact_id(), c.channel, c.payload FROM c
    )
    SELECT c.id, c.channel, c.n, c.payload FROM c ORDER BY c.id
  LOOP
    IF NOT notify THEN
      ids := ids || r.id;
      row_channels := row_channels || r.channel;
      payloads := payloads || r.payload;
    ELSIF r.n > 1 THEN
      PERFORM pg_notify(r.channel, r.payload);
    ELSE
      note := '{"p":' || r.id || ',' || substr(r.payload, 2);
      IF octet_length(note) > threshold THEN
        note := '{"p":' || r.id || '}';
      END IF;
      PERFORM pg_notify(r.channel, note);
    END IF;
    pumped := r.id;
  END LOOP;
  UPDATE pgrt.outbox_state SET pumped_through = pumped, decoded_through = lsn;
  appended := cardinality(bodies);
END
$fn$;

CREATE OR REPLACE FUNCTION pgrt.logical_append(lsn pg_lsn, threshold int, channels text[], chunks int[],
  bodies text[]) RETURNS int LANGUAGE sql AS $fn$
  SELECT s.appended FROM pgrt.logical_step(lsn, threshold, channels, chunks, bodies, true) s;
$fn$;
