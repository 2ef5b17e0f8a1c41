/**
 * Presence as a channel feature (channel-feature.ts): each joined channel is a presence member (presence.ts).
 *
 * Wire (realtime-js RealtimeChannel.track/untrack, Supabase PresenceHandler and RealtimeChannel.handle_in):
 * - after the join reply, a channel whose `config.presence.enabled` is true gets `presence_state`; a track also
 *   enables presence for the channel (and sends the state first if it had none);
 * - `presence` `{type: 'presence', event: 'track', payload}` → `phx_reply` ok `{}`; a payload that is not a map →
 *   error `{reason: 'Presence track payload must be a map'}`; one over `maxBroadcastBytes` shuts the channel down
 *   with `Track message size exceeded`; over the rate limits with `Client presence rate limit exceeded`;
 * - `presence` `{event: 'untrack'}` → ok `{}`; another event → error `{}`;
 * - `presence_diff` `{joins, leaves}` to every channel of the topic with presence enabled, on every process.
 */
import type { App, PluginHost } from '../../core/app.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { ChannelFeature, ChannelPart, FeatureChannel, FeatureHost } from './channel-feature.js';
import { Presences } from './presence.js';
import { channelKey, useSupabaseSchema } from './schema.js';

/** The presences of each core, started by their app's start hook. */
const presencesOfCore = new WeakMap<PluginHost, Presences>();
/** Apps whose start hook is registered (one hook per app, however many servers it serves). */
const hooked = new WeakSet<App>();

/**
 * Starts `presences` when `core` starts (after the migrations made the tables, before the bus starts) and closes
 * them when it closes (this process's presences leave at once). An app may serve several servers one after the
 * other (tests): its one start hook starts the presences of the core that runs it.
 */
function startWithCore(core: RealtimeCore, presences: Presences): void {
  presencesOfCore.set(core, presences);
  if (hooked.has(core.app)) return;
  hooked.add(core.app);
  core.app.onStart(async (_db, host) => {
    const own = presencesOfCore.get(host);
    if (!own) return;
    await own.start();
    return () => own.close();
  });
}

/** Options of {@link PresenceFeature}. */
export interface PresenceFeatureOptions {
  /** Largest tracked payload, in bytes of its JSON (default 256 KiB). */
  readonly maxBroadcastBytes?: number;
  /** How often each process beats and expires dead processes' presences, in ms (default 5000). */
  readonly presenceHeartbeatMs?: number;
  /** A process silent this long is dead and its presences leave, in ms (default 3 × the heartbeat). */
  readonly presenceTtlMs?: number;
}

/** The presence feature of a protocol. */
export class PresenceFeature implements ChannelFeature {
  readonly name = 'presence';
  readonly #options: PresenceFeatureOptions;
  #presences: Presences | undefined;
  #logger: Logger | undefined;

  constructor(options: PresenceFeatureOptions = {}) {
    this.#options = options;
  }

  /** The presences of this server (after attach). */
  get presences(): Presences | undefined {
    return this.#presences;
  }

  attach(host: FeatureHost): void {
    useSupabaseSchema(host.core.app);
    this.#logger = host.logger;
    const presences = new Presences(host.core, {
      maxMessageBytes: this.#options.maxBroadcastBytes ?? 256 * 1024,
      ...(this.#options.presenceHeartbeatMs === undefined
        ? {}
        : { heartbeatMs: this.#options.presenceHeartbeatMs }),
      ...(this.#options.presenceTtlMs === undefined ? {} : { ttlMs: this.#options.presenceTtlMs }),
      logger: host.logger,
    });
    this.#presences = presences;
    startWithCore(host.core, presences);
  }

  join(channel: FeatureChannel): ChannelPart | undefined {
    const presences = this.#presences;
    if (!presences) return undefined;
    const logger = this.#logger;
    const member = presences.member(
      channelKey(channel.subTopic, channel.config.private),
      {
        presenceState: (state) => channel.push('presence_state', state),
        presenceDiff: (diff) => channel.push('presence_diff', diff),
      },
      {
        connectionId: channel.connection.id,
        get userId() {
          return channel.identity.userId;
        },
        clientAddress: channel.connection.clientAddress,
      },
      channel.config.presence.key,
    );
    return {
      events: ['presence'],
      joined: () => {
        if (!channel.config.presence.enabled) return;
        member.sync().catch((error: unknown) => {
          logger?.error({ err: error, topic: channel.topic }, 'supabase: presence state failed');
        });
      },
      handle: async (_event, payload, ref) => {
        const body = (typeof payload === 'object' && payload !== null ? payload : {}) as {
          event?: unknown;
          payload?: unknown;
        };
        const event = typeof body.event === 'string' ? body.event.toLowerCase() : '';
        if (event === 'untrack') {
          await member.untrack();
          channel.reply(ref, 'ok', {});
          return;
        }
        if (event !== 'track') {
          channel.reply(ref, 'error', {});
          return;
        }
        const outcome = await member.track(body.payload ?? {});
        if (outcome.ok) channel.reply(ref, 'ok', {});
        else if (outcome.reason === 'invalid_payload') {
          channel.reply(ref, 'error', { reason: 'Presence track payload must be a map' });
        } else if (outcome.reason === 'payload_size_exceeded')
          channel.shutdown('Track message size exceeded');
        else channel.shutdown('Client presence rate limit exceeded');
      },
      left: () => {
        member.leave().catch((error: unknown) => {
          logger?.error({ err: error, topic: channel.topic }, 'supabase: presence leave failed');
        });
      },
    };
  }
}
