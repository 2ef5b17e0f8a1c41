/**
 * The Supabase Realtime adapter's configuration: section `supabase` (zod, merged into pgrt's configuration schema
 * by config/config-schema.ts), and how the effective values become {@link SupabaseOptions}. Every key has a
 * `PGRT_*` variable (`supabase.jwtSecret` → `PGRT_SUPABASE_JWT_SECRET`). Per-user rules on tables are code, not
 * configuration: pass `access` to `supabase({ … })` (adapters/supabase/README.md).
 */
import { z } from 'zod';
import type { SectionValues, SharedConfig } from '../protocol-adapter.js';
import type { SupabaseOptions } from './supabase-protocol.js';

const positiveInt = () => z.number().int().min(1);

/** Section `supabase`. */
export const supabaseSection = z
  .object({
    path: z
      .string()
      .regex(/^\//, 'must start with /')
      .default('/realtime/v1/websocket')
      .describe(
        'WebSocket path of the Phoenix socket; supabase-js derives /realtime/v1/websocket from the project URL.',
      ),
    tables: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Tables (`table` or `schema.table`, registered collections) whose changes every client may receive through postgres_changes, all rows; empty: none (closed by default). Per-user rules: the `access` option in code.',
      ),
    jwtSecret: z
      .string()
      .min(1)
      .optional()
      .describe(
        'HS256 secret of the JWTs clients send as apikey/access_token (`sub` is the user id); absent: JWTs are refused, pgrt resume tokens still work.',
      ),
    maxMessageBytes: positiveInt()
      .default(1024 * 1024)
      .describe('Larger incoming frames close the connection (1009).'),
    maxChannels: positiveInt()
      .default(100)
      .describe('Channels one connection may have joined at once; one more is refused.'),
    idleTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe(
        'Sockets that send nothing, not even a heartbeat (realtime-js: every 25 s), for this many ms are closed, as Phoenix does; 0: never.',
      ),
    maxRecordBytes: positiveInt()
      .default(1024 * 1024)
      .describe(
        'A changed row whose JSON is larger is sent with only its values of 64 bytes or less and errors ["Error 413: Payload Too Large"], as Supabase does.',
      ),
    maxBroadcastBytes: positiveInt()
      .default(256 * 1024)
      .describe(
        'Largest client broadcast (event and JSON payload) or tracked presence payload; a larger broadcast is refused (payload_size_exceeded), a larger track shuts the channel down.',
      ),
    presenceHeartbeatMs: positiveInt()
      .default(5000)
      .describe(
        "How often each process refreshes its row in pgrt.supabase_processes and expires dead processes' presences.",
      ),
    presenceTtlMs: positiveInt()
      .default(15_000)
      .describe(
        'A process whose presence heartbeat is older than this is dead: its presences leave, on every process.',
      ),
    coalesceMs: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe(
        "Outbound coalescing window in ms: a socket's frames are written together; 0 = until the end of the event-loop turn.",
      ),
  })
  .default({
    path: '/realtime/v1/websocket',
    tables: [],
    maxMessageBytes: 1024 * 1024,
    maxChannels: 100,
    idleTimeoutMs: 60_000,
    maxRecordBytes: 1024 * 1024,
    maxBroadcastBytes: 256 * 1024,
    presenceHeartbeatMs: 5000,
    presenceTtlMs: 15_000,
    coalesceMs: 0,
  })
  .describe('Supabase Realtime (supabase-js clients; used when protocols includes "supabase").');

/** The adapter's sections. */
export const supabaseConfig = { supabase: supabaseSection } as const;

/** {@link SupabaseOptions} for the effective configuration. */
export function supabaseOptionsOf(
  config: SectionValues<typeof supabaseConfig>,
  shared: SharedConfig,
): SupabaseOptions {
  const { supabase } = config;
  return {
    path: supabase.path,
    access: { tables: Object.fromEntries(supabase.tables.map((table) => [table, true] as const)) },
    ...(supabase.jwtSecret === undefined ? {} : { jwtSecret: supabase.jwtSecret }),
    maxMessageBytes: supabase.maxMessageBytes,
    maxChannels: supabase.maxChannels,
    idleTimeoutMs: supabase.idleTimeoutMs,
    maxRecordBytes: supabase.maxRecordBytes,
    forwardedCount: shared.forwardedCount,
    maxBroadcastBytes: supabase.maxBroadcastBytes,
    presenceHeartbeatMs: supabase.presenceHeartbeatMs,
    presenceTtlMs: supabase.presenceTtlMs,
    coalesceMs: supabase.coalesceMs,
  };
}
