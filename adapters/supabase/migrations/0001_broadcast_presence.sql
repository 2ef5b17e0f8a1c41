-- Supabase Realtime adapter, part 1 (adapters/supabase/README.md): broadcast from SQL, and presence shared by every
-- pgrt process on the database.

-- Broadcasts `payload` as `event` to every subscriber of channel `topic` (the topic without its `realtime:` prefix,
-- as supabase.channel('room1') names it; a private channel's with `is_private`: public and private channels of one
-- name are distinct, as on Supabase) on every pgrt process, on commit. `channel` is the bus's NOTIFY channel
-- (the server's `channel` setting) and `capture` the server's capture mode: the message takes the changes' path
-- (core/bus/messages.ts): in 'notify' mode a NOTIFY (spilled to pgrt.spill when over 7900 bytes; a PostgreSQL bus
-- delivers it in the other modes too), in 'outbox'/'logical' mode the outbox (needed for the NATS bus). It is a
-- core application message on topic `supabase.broadcast`.
CREATE FUNCTION pgrt.broadcast(topic text, event text, payload jsonb, channel text DEFAULT 'pgrt_changes',
                               capture text DEFAULT 'notify', is_private boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  data text := jsonb_build_object(
    't', CASE WHEN is_private THEN 'private:' ELSE 'public:' END || topic, 'e', event, 'p', payload)::text;
BEGIN
  IF capture = 'outbox' THEN
    PERFORM pgrt.outbox_append(channel, '{"m":"supabase.broadcast","d":' || data || '}');
  ELSIF capture = 'logical' THEN
    PERFORM pgrt.logical_emit(channel, '{"m":"supabase.broadcast","d":' || data || '}');
  ELSE
    PERFORM pgrt.emit(channel, '"m":"supabase.broadcast"', ',"d":' || data, 7900);
  END IF;
END
$fn$;

-- One row per live pgrt process serving presence: it refreshes `seen_at` every heartbeat; a row older than the
-- expiry is a dead process, whose presences any other process removes (and announces as leaves).
CREATE TABLE pgrt.supabase_processes (
  id uuid PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);

-- Tracked presences: one row per tracking channel join (`ref` is the phx_ref clients match leaves by). `topic` is
-- `public:<name>` or `private:<name>`.
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
