-- pgrt schema, part 8: the outbox pump sleeps while nothing happens, and the writers that append to the outbox wake it
-- (core/capture/outbox-source.ts). A sleeping pump holds the session advisory lock 'pgrtwake' (0x7067727477616b65)
-- on its connection and LISTENs on pgrt_pump_wake. Every appender, AFTER it drew its id, tries the same key shared
-- for its transaction: it fails only while the pump sleeps, and then the appender notifies pgrt_pump_wake (once per
-- transaction: PostgreSQL folds equal notifications). The pump takes the lock before the step that finds nothing
-- more to do, so an id drawn after that step read the sequence belongs to an appender that finds the lock taken. An
-- awake pump holds no lock: writers then notify nothing and take no notify lock; their shared lock is one entry in
-- the lock table (released at commit), and it keeps a pump from falling asleep while they run. A pump that dies
-- releases its lock with its connection. Triggers still on pgrt.capture_outbox() (installed by an earlier release,
-- replaced at the next start) do not wake it: their changes wait for the pump's next check (asleepCheckMs, 1 s).

-- Appends one payload (fences, TRUNCATE, emit), waking a sleeping pump. The transaction id is taken (assigned if need
-- be) BEFORE the row's id is drawn.
CREATE OR REPLACE FUNCTION pgrt.outbox_append(channel text, payload text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  x xid8 := pg_current_xact_id();
BEGIN
  INSERT INTO pgrt.outbox (id, xid, channel, payload) VALUES (nextval('pgrt.outbox_id_seq'), x, channel, payload);
  IF NOT pg_try_advisory_xact_lock_shared(8099568299393772389) THEN
    PERFORM pg_notify('pgrt_pump_wake', '');
  END IF;
END
$fn$;

-- Row trigger of the outbox mode (0007_old_rows.sql), waking a sleeping pump after each append.
CREATE OR REPLACE FUNCTION pgrt.capture_row_outbox() RETURNS trigger LANGUAGE plpgsql AS $fn$
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
    IF NOT pg_try_advisory_xact_lock_shared(8099568299393772389) THEN
      PERFORM pg_notify('pgrt_pump_wake', '');
    END IF;
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
    IF NOT pg_try_advisory_xact_lock_shared(8099568299393772389) THEN
      PERFORM pg_notify('pgrt_pump_wake', '');
    END IF;
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
  IF NOT pg_try_advisory_xact_lock_shared(8099568299393772389) THEN
    PERFORM pg_notify('pgrt_pump_wake', '');
  END IF;
  RETURN NULL;
END
$fn$;
