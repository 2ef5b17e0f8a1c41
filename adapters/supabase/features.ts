/**
 * The channel features served by default beside postgres_changes (channel-feature.ts): broadcast and presence
 * plug in here.
 */
import type { ChannelFeature } from './channel-feature.js';
import type { SupabaseOptions } from './supabase-protocol.js';

/** The default features for `options` (none yet: broadcast and presence are added here). */
export function defaultFeatures(_options: SupabaseOptions): ChannelFeature[] {
  return [];
}
