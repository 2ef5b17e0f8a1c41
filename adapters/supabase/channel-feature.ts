/**
 * The seam where a channel's features plug in (broadcast, presence; postgres_changes is built into the channel).
 * A {@link ChannelFeature} is made once per protocol; on every join it may attach a {@link ChannelPart} to the
 * channel, which then receives the client events it declared and the channel's lifecycle.
 *
 * Order of a join (channel.ts): the token is verified, the channel rule and the table rules run, then each
 * feature's `join` (which may refuse with a ChannelError), then the `phx_reply` ok goes out, then each part's
 * `joined()` (presence sends `presence_state` there), then the `system` postgres_changes message. Client events
 * reach `handle` in the order received, after the join completed. `left` is called once per part: after
 * `phx_leave` (before the reply), a server shutdown of the channel, a duplicate join of the same topic, or the
 * socket closing.
 */
import type { ConnectionInfo } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { AccessRequest } from './access.js';
import type { Identity } from './identity.js';
import type { JoinConfig } from './join-config.js';
import type { UserBroadcast, Vsn } from './serializer.js';

/** What a feature gets when the protocol attaches (before the core starts). */
export interface FeatureHost {
  readonly core: RealtimeCore;
  readonly logger: Logger;
}

/** A feature of channels (one per protocol instance). */
export interface ChannelFeature {
  /** Its name, for logs (`broadcast`, `presence`). */
  readonly name: string;
  /**
   * Called once when the protocol attaches, before the core starts: register migrations or start hooks on
   * `host.core.app`, subscribe to the bus. Optional.
   */
  attach?(host: FeatureHost): void;
  /**
   * A client is joining `channel` (authorized). Returns the part this feature plays in the channel, or undefined
   * when it plays none. Rejecting with a ChannelError (errors.ts) refuses the join with its reason; any other
   * rejection refuses it with `Unknown Error on Channel` (logged).
   */
  join(channel: FeatureChannel): ChannelPart | undefined | Promise<ChannelPart | undefined>;
  /** Shutdown (after every socket was told to go away). Optional. */
  close?(): void | Promise<void>;
}

/** A feature's part in one joined channel. */
export interface ChannelPart {
  /** The client events it handles (e.g. `['broadcast']`, `['presence']`). */
  readonly events: readonly string[];
  /**
   * One client message with one of {@link events}. `ref` is the client's ref: answer with `channel.reply(ref, …)`
   * when the client waits for a reply (realtime-js waits on pushes it made with `ack`, presence track/untrack).
   * A rejection is logged and answered with `{status: 'error', response: {}}` when `ref` is not null.
   */
  handle(event: string, payload: unknown, ref: string | null): void | Promise<void>;
  /** The join reply has gone out. Optional. */
  joined?(): void;
  /** The client's user changed (an `access_token` push). Optional. */
  identityChanged?(identity: Identity): void;
  /** The channel is gone (see the module header for when); called once. */
  left(): void;
}

/** A joined (or joining) channel, as features see it. */
export interface FeatureChannel {
  /** The full topic, e.g. `realtime:room1`. */
  readonly topic: string;
  /** The topic without `realtime:`, e.g. `room1` (Supabase's channel name). */
  readonly subTopic: string;
  /** The join's configuration (`broadcast.self`/`ack`, `presence.key`/`enabled`, `private`, raw config). */
  readonly config: JoinConfig;
  /** The client's current identity. */
  readonly identity: Identity;
  /** The access request of the current identity on this channel (for the app's rules). */
  readonly accessRequest: AccessRequest;
  /** The client's connection (its `id` is unique per socket on this process). */
  readonly connection: ConnectionInfo;
  /** The socket's serializer version: binary broadcasts need 2.0.0. */
  readonly vsn: Vsn;
  /** False once the channel left or closed: sends are then dropped. */
  readonly open: boolean;
  /** Pushes a server message on this channel (`[join_ref, null, topic, event, payload]`). */
  push(event: string, payload: unknown): void;
  /**
   * Pushes a user broadcast: a kind-4 binary frame on 2.0.0 when its payload is binary (the form realtime-js
   * decodes), else the JSON push `broadcast` `{type: 'broadcast', event, payload, meta?}`. A binary payload on a
   * 1.0.0 socket is dropped (1.0.0 has no binary frames).
   */
  pushBroadcast(broadcast: UserBroadcast): void;
  /** Sends a frame already encoded for this socket's {@link vsn} (fan-out: encode once, send to many). */
  sendFrame(frame: string | Uint8Array): void;
  /** Replies to the client's message `ref` on this channel. */
  reply(ref: string | null, status: 'ok' | 'error', response: unknown): void;
  /**
   * Ends the channel from the server, as Supabase's shutdown_response: a `system` error push with `message`, then
   * `phx_close`. Every part's `left` runs.
   */
  shutdown(message: string): void;
}
