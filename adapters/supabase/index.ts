/**
 * The Supabase Realtime adapter's public face: the `supabase()` factory for `createServer({ protocols })`, its
 * options and authorization types, the channel feature seam, and the {@link supabaseAdapter} definition the
 * configuration layer and the CLI use (adapters/builtin.ts lists it). See adapters/supabase/README.md.
 */
import type { Queryable } from '../../core/database/database.js';
import {
  defineAdapter,
  type Protocol,
  type ProtocolAdapter,
  type ProtocolHandle,
} from '../protocol-adapter.js';
import { supabaseConfig, supabaseOptionsOf } from './config.js';
import { defaultFeatures } from './features.js';
import { defaultTokenVerifier, SupabaseTokenVerifierToken, type TokenVerifier } from './identity.js';
import { type SupabaseOptions, SupabaseProtocol } from './supabase-protocol.js';
import { supabaseClassifier } from './wire-classifier.js';

export type {
  AccessRequest as SupabaseAccessRequest,
  ChannelRule as SupabaseChannelRule,
  SupabaseAccess,
  TableAccessRequest as SupabaseTableAccessRequest,
  TableRule as SupabaseTableRule,
} from './access.js';
export { BroadcastFeature, type BroadcastFeatureOptions } from './broadcast-feature.js';
export type { ChannelFeature, ChannelPart, FeatureChannel, FeatureHost } from './channel-feature.js';
export { ChannelError as SupabaseChannelError } from './errors.js';
export {
  type Identity as SupabaseIdentity,
  SupabaseTokenVerifierToken,
  signHs256,
  type TokenVerifier as SupabaseTokenVerifier,
} from './identity.js';
export { PresenceFeature, type PresenceFeatureOptions } from './presence-feature.js';
export type { SupabaseOptions } from './supabase-protocol.js';

/** Supabase Realtime attached to a server: the handle `server.protocols.get('supabase')` returns. */
export interface SupabaseHandle extends ProtocolHandle {
  /** Open sockets. */
  readonly connectionCount: number;
  /**
   * Broadcasts `payload` as `event` on channel `topic` (its name, e.g. `room1`) to every subscriber on every pgrt
   * process of the database; with `client` (a method's transaction), on commit. Rejects when the protocol serves no
   * broadcast feature.
   */
  broadcast(
    topic: string,
    event: string,
    payload: unknown,
    options?: { readonly private?: boolean; readonly client?: Queryable },
  ): Promise<void>;
}

/**
 * Supabase Realtime (the Phoenix channel protocol of `@supabase/realtime-js`, inside supabase-js) at
 * `/realtime/v1/websocket`: postgres_changes from the core's change bus, closed by default (`access`).
 */
export function supabase(options: SupabaseOptions = {}): Protocol {
  return {
    name: 'supabase',
    classifier: () => supabaseClassifier,
    parts: [
      {
        token: SupabaseTokenVerifierToken,
        create: (core): TokenVerifier =>
          defaultTokenVerifier(
            core.db,
            options.jwtSecret === undefined ? {} : { jwtSecret: options.jwtSecret },
          ),
      },
    ],
    attach({ core, host, logger, accept, resolve }): SupabaseHandle {
      const verifier = resolve<TokenVerifier>(SupabaseTokenVerifierToken);
      const features = options.features ?? defaultFeatures(options);
      const protocol = new SupabaseProtocol(core, options, verifier, features, logger);
      protocol.attach(host, accept);
      return protocol;
    },
  };
}

/** The Supabase Realtime adapter: section `supabase`. */
export const supabaseAdapter: ProtocolAdapter<typeof supabaseConfig> = defineAdapter({
  name: 'supabase',
  summary: 'Supabase Realtime (supabase-js clients) at /realtime/v1/websocket',
  config: supabaseConfig,
  flags: [
    {
      key: 'supabase.jwtSecret',
      flag: '--supabase-jwt-secret <secret>',
      description: 'HS256 secret of the JWTs supabase-js clients send (sub = user id)',
    },
  ],
  fromConfig: (config, shared) => supabase(supabaseOptionsOf(config, shared)),
});
