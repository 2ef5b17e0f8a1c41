/**
 * Broadcast as a channel feature (channel-feature.ts): every joined channel subscribes to its topic's broadcasts
 * (broadcast.ts), and the client's `broadcast` pushes are sent on.
 *
 * Wire (realtime-js RealtimeChannel.send, Supabase BroadcastHandler): the client pushes `broadcast`
 * `{type: 'broadcast', event, payload}` (a kind-3 binary frame on 2.0.0, decoded by the socket); subscribers receive
 * the same as a `broadcast` push (or a kind-4 frame for a binary payload). With `config.broadcast.ack` the push gets
 * a `phx_reply`: ok `{}`, or error `payload_size_exceeded` for a message over `maxBroadcastBytes`. Without `ack` a
 * refused message is dropped silently, as Supabase does. Over the rate limits (the core's, `type: 'message'`) the
 * channel is shut down with `Too many messages per second`, Supabase's answer to a client over its rate.
 */
import type { Queryable } from '../../core/database/database.js';
import type { Logger } from '../../core/logger.js';
import { type BroadcastMessage, type BroadcastSubscriber, Broadcasts } from './broadcast.js';
import type { ChannelFeature, ChannelPart, FeatureChannel, FeatureHost } from './channel-feature.js';
import { channelKey, useSupabaseSchema } from './schema.js';

/** Options of {@link BroadcastFeature}. */
export interface BroadcastFeatureOptions {
  /** Largest client broadcast, in bytes of its event and JSON payload (default 256 KiB). */
  readonly maxBroadcastBytes?: number;
}

/** The broadcast feature of a protocol. */
export class BroadcastFeature implements ChannelFeature {
  readonly name = 'broadcast';
  readonly #options: BroadcastFeatureOptions;
  #hub: Broadcasts | undefined;
  #logger: Logger | undefined;

  constructor(options: BroadcastFeatureOptions = {}) {
    this.#options = options;
  }

  attach(host: FeatureHost): void {
    useSupabaseSchema(host.core.app);
    this.#logger = host.logger;
    this.#hub = new Broadcasts(host.core, {
      maxMessageBytes: this.#options.maxBroadcastBytes ?? 256 * 1024,
      logger: host.logger,
    });
    this.#hub.start();
  }

  /**
   * The server-side API: broadcasts `payload` as `event` on channel `topic` (its name, without `realtime:`) to every
   * subscriber on every process; inside `client`'s transaction, on commit.
   */
  async broadcast(
    topic: string,
    event: string,
    payload: unknown,
    options: { readonly private?: boolean; readonly client?: Queryable } = {},
  ): Promise<void> {
    if (!this.#hub) throw new Error('the broadcast feature is not attached to a server');
    await this.#hub.broadcast(channelKey(topic, options.private ?? false), event, payload, options.client);
  }

  join(channel: FeatureChannel): ChannelPart | undefined {
    const hub = this.#hub;
    if (!hub) return undefined;
    const key = channelKey(channel.subTopic, channel.config.private);
    const subscriber: BroadcastSubscriber = {
      receiveBroadcast: (message) =>
        channel.pushBroadcast({
          event: message.event,
          payload: message.payload,
          binary: message.payload instanceof Uint8Array,
          meta: undefined,
        }),
    };
    const unsubscribe = hub.subscribe(key, subscriber);
    return {
      events: ['broadcast'],
      handle: async (_event, payload, ref) => {
        const message = broadcastOf(payload);
        const ack = channel.config.broadcast.ack;
        if (!message) {
          this.#logger?.debug({ topic: channel.topic }, 'supabase: broadcast without an event ignored');
          if (ack) channel.reply(ref, 'error', 'invalid_payload');
          return;
        }
        const outcome = await hub.send(key, message, {
          subscriber,
          self: channel.config.broadcast.self,
          connectionId: channel.connection.id,
          userId: channel.identity.userId,
          clientAddress: channel.connection.clientAddress,
        });
        if (!outcome.ok && outcome.reason === 'rate_limit_exceeded') {
          channel.shutdown('Too many messages per second');
          return;
        }
        if (ack) {
          if (outcome.ok) channel.reply(ref, 'ok', {});
          else channel.reply(ref, 'error', outcome.reason);
        }
      },
      left: unsubscribe,
    };
  }

  close(): void {
    this.#hub?.close();
  }
}

/** The broadcast of a client's `broadcast` push payload, or undefined without a string `event`. */
function broadcastOf(payload: unknown): BroadcastMessage | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { event, payload: body } = payload as { event?: unknown; payload?: unknown };
  if (typeof event !== 'string') return undefined;
  return { type: 'broadcast', event, payload: body ?? {} };
}
