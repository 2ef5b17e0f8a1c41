-- Supabase Realtime adapter, part 1 (adapters/supabase/README.md): broadcast from SQL, and presence shared by every
-- pgrt process on the database.

-- Broadcasts `payload` as `event` to every subscriber of channel `topic` (the topic without its `realtime:` prefix,
-- as supabase.channel('room1') names it) on every pgrt process, on commit. `channel` is the bus's NOTIFY channel
-- (the server's `channel` setting). The notification is a core application message (core/bus/messages.ts) on topic
-- `supabase.broadcast`, spilled to pgrt.spill when over 7900 bytes.
CREATE FUNCTION pgrt.broadcast(topic text, event text, payload jsonb, channel text DEFAULT 'pgrt_changes')
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pgrt.emit(
    channel,
    '"m":"supabase.broadcast"',
    ',"d":' || jsonb_build_object('t', topic, 'e', event, 'p', payload)::text,
    7900
  );
END
$fn$;

-- One row per live pgrt process serving presence: it refreshes `seen_at` every heartbeat; a row older than the
-- expiry is a dead process, whose presences any other process removes (and announces as leaves).
CREATE TABLE pgrt.supabase_processes (
  id uuid PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);

-- Tracked presences: one row per tracking channel join (`ref` is the phx_ref clients match leaves by).
CREATE TABLE pgrt.supabase_presences (
  topic text NOT NULL,
  ref text NOT NULL,
  key text NOT NULL,
  meta jsonb NOT NULL,
  process uuid NOT NULL,
  tracked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (topic, ref)
);
CREATE INDEX supabase_presences_process ON pgrt.supabase_presences (process);
