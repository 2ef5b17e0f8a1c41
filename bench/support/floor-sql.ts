/**
 * The table and trigger of the latency floor (floor-server.ts, latency-floor.ts), apart from the server so the
 * scenario can create them without starting one.
 */

/** The channel the floor's trigger notifies on. */
export const FLOOR_CHANNEL = 'bench_floor';

/**
 * Table `bench_floor` and its trigger: each inserted row NOTIFYs `row_to_json(NEW)` (about the row's size, as
 * pgrt's own notify capture sends an inline row). Idempotent.
 */
export const FLOOR_SQL = `
  CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, t double precision NOT NULL, pad text);
  CREATE OR REPLACE FUNCTION bench_floor_notify() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('${FLOOR_CHANNEL}', row_to_json(NEW)::text);
    RETURN NULL;
  END $$;
  DROP TRIGGER IF EXISTS bench_floor_notify ON bench_floor;
  CREATE TRIGGER bench_floor_notify AFTER INSERT ON bench_floor FOR EACH ROW EXECUTE FUNCTION bench_floor_notify();
`;
