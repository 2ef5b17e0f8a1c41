/**
 * The channel features served by default beside postgres_changes (channel-feature.ts): broadcast and presence.
 */
import { BroadcastFeature } from './broadcast-feature.js';
import type { ChannelFeature } from './channel-feature.js';
import { PresenceFeature } from './presence-feature.js';
import type { SupabaseOptions } from './supabase-protocol.js';

/** The default features for `options`: broadcast and presence. */
export function defaultFeatures(options: SupabaseOptions): ChannelFeature[] {
  const limits = {
    ...(options.maxBroadcastBytes === undefined ? {} : { maxBroadcastBytes: options.maxBroadcastBytes }),
  };
  return [
    new BroadcastFeature(limits),
    new PresenceFeature({
      ...limits,
      ...(options.presenceHeartbeatMs === undefined
        ? {}
        : { presenceHeartbeatMs: options.presenceHeartbeatMs }),
      ...(options.presenceTtlMs === undefined ? {} : { presenceTtlMs: options.presenceTtlMs }),
    }),
  ];
}
