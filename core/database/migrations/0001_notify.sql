-- pgrt schema, part 1: the spill table and the `notify` capture mode (core/database/schema.ts has the payload
-- formats; docs/reference.md "Capture and the bus"). Squashes pre-release schema migration 1.

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
