-- pgrt schema, part 7: change payloads carry the transaction's time ("c") and, for tables with REPLICA IDENTITY
-- FULL, the old row of updates and deletes ("b"), as logical decoding gives them (core/database/schema.ts has the
-- payload formats). The row triggers of the notify and outbox modes take one more argument for it, so they are new
-- functions: TG_ARGV = channel, key column, spill threshold (bytes), old rows ('full': carry them; 'key': do not;
-- read from pg_class.relreplident when the capture is installed), then the bigint/numeric/money column names.
-- pgrt.capture() and pgrt.capture_outbox() stay for triggers installed by earlier releases, until the next start
-- installs these in their place.
--
-- "c" is transaction_timestamp() in milliseconds since 1970: the commit time is not known inside the transaction
-- (pg_xact_commit_timestamp() only answers after it), and unlike clock_timestamp() it is the same for every change
-- of a transaction, as a commit time is.

-- Row trigger of the notify mode: pgrt.capture() with "c" and "b".
CREATE FUNCTION pgrt.capture_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  cols text[] := TG_ARGV[4:];
  head text := '"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text;
  threshold int := TG_ARGV[2]::int;
  x text;
  r jsonb;
  o jsonb;
  old_key jsonb;
  b text := '';
BEGIN
  -- *= (binary row equality) also works for columns without an equality operator (json, point, ...).
  IF TG_OP = 'UPDATE' AND NEW *= OLD THEN
    RETURN NULL;
  END IF;
  x := ',"x":"' || txid_current() || '","c":' || trunc(extract(epoch FROM transaction_timestamp()) * 1000)::int8;
  IF TG_OP <> 'INSERT' THEN
    IF TG_ARGV[3] = 'full' THEN
      o := pgrt.exact(to_jsonb(OLD), cols);
      old_key := o -> TG_ARGV[1];
      b := ',"b":' || o::text;
    ELSE
      old_key := pgrt.exact(jsonb_build_object(TG_ARGV[1], to_jsonb(OLD) -> TG_ARGV[1]), cols) -> TG_ARGV[1];
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || x, b, threshold);
    RETURN NULL;
  END IF;
  r := pgrt.exact(to_jsonb(NEW), cols);
  IF TG_OP = 'INSERT' THEN
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || x, ',"r":' || r::text, threshold);
  ELSIF (r -> TG_ARGV[1]) IS DISTINCT FROM old_key THEN
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || x, b, threshold);
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || x, ',"r":' || r::text, threshold);
  ELSE
    PERFORM pgrt.emit(TG_ARGV[0], head || ',"o":"u","k":' || (r -> TG_ARGV[1])::text || x, ',"r":' || r::text || b, threshold);
  END IF;
  RETURN NULL;
END
$fn$;

-- Row trigger of the outbox mode: pgrt.capture_outbox() with "c" and "b" (the INSERT path stays inlined).
CREATE FUNCTION pgrt.capture_row_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  x xid8 := pg_current_xact_id();
  c text := ',"c":' || trunc(extract(epoch FROM transaction_timestamp()) * 1000)::int8;
  head text;
  tail text;
  r jsonb;
  o jsonb;
  patch jsonb;
  v jsonb;
  old_key jsonb;
  b text := '';
BEGIN
  IF TG_OP = 'INSERT' THEN
    r := to_jsonb(NEW);
    IF TG_NARGS > 4 THEN
      patch := '{}';
      FOR i IN 4 .. TG_NARGS - 1 LOOP
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
              || (r -> TG_ARGV[1])::text || ',"x":"' || x || '"' || c || ',"r":' || r::text || '}');
    RETURN NULL;
  END IF;
  head := '{"t":' || to_json(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text;
  tail := ',"x":"' || x || '"' || c;
  IF TG_OP = 'UPDATE' AND NEW *= OLD THEN
    RETURN NULL;
  END IF;
  IF TG_ARGV[3] = 'full' THEN
    o := to_jsonb(OLD);
    IF TG_NARGS > 4 THEN
      o := pgrt.exact(o, TG_ARGV[4:]);
    END IF;
    old_key := o -> TG_ARGV[1];
    b := ',"b":' || o::text;
  ELSE
    old_key := to_jsonb(OLD) -> TG_ARGV[1];
    IF TG_NARGS > 4 THEN
      old_key := pgrt.exact(jsonb_build_object(TG_ARGV[1], old_key), TG_ARGV[4:]) -> TG_ARGV[1];
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || tail || b || '}');
    RETURN NULL;
  END IF;
  r := to_jsonb(NEW);
  IF TG_NARGS > 4 THEN
    r := pgrt.exact(r, TG_ARGV[4:]);
  END IF;
  IF (r -> TG_ARGV[1]) IS DISTINCT FROM old_key THEN
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0], head || ',"o":"d","k":' || old_key::text || tail || b || '}');
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            head || ',"o":"i","k":' || (r -> TG_ARGV[1])::text || tail || ',"r":' || r::text || '}');
  ELSE
    INSERT INTO pgrt.outbox (id, xid, channel, payload)
    VALUES (nextval('pgrt.outbox_id_seq'), x, TG_ARGV[0],
            head || ',"o":"u","k":' || (r -> TG_ARGV[1])::text || tail || ',"r":' || r::text || b || '}');
  END IF;
  RETURN NULL;
END
$fn$;
