/**
 * One joined channel of one socket (Supabase's RealtimeWeb.RealtimeChannel, one per topic per socket): its join
 * (identity, the app's rules, postgres_changes bindings, the features' parts), the client events it receives
 * (`access_token`, `phx_leave`, the features' events) and its end. Joins and events of one socket are processed in
 * order (socket.ts).
 *
 * Wire (realtime-js RealtimeChannel.subscribe, Supabase RealtimeChannel.join/handle_in):
 * - join ok: `phx_reply` `{status: 'ok', response: {postgres_changes: [{…binding as sent, id}]}}` with the join's
 *   `join_ref`; then, if it has postgres_changes bindings, a `system` push `{extension: 'postgres_changes', status:
 *   'ok', message: 'Subscribed to PostgreSQL', channel}` — or `status: 'error'` with the reason (unknown or not
 *   opted-in table, bad filter) while the channel stays joined;
 * - join refused: `phx_reply` `{status: 'error', response: {reason: '<Code>: <message>'}}`;
 * - `phx_leave`: `phx_reply` ok `{}`, then `phx_close` (ref = join_ref);
 * - server shutdown: `system` `{extension: 'system', status: 'error', message, channel}`, then `phx_close`;
 * - `access_token` with a new token: re-verified and the rules re-run; a token refused or a right lost shuts the
 *   channel down with the reason.
 */
import type { ConnectionInfo } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import { type AccessRequest, accessRequest, channelAllowed, type SupabaseAccess } from './access.js';
import type { ChannelFeature, ChannelPart, FeatureChannel } from './channel-feature.js';
import { ChannelError, toWireReason, unauthorized } from './errors.js';
import type { Identity, TokenVerifier } from './identity.js';
import type { JoinConfig } from './join-config.js';
import type { ChangeSubscription, PostgresChanges } from './postgres-changes.js';
import {
  encodeMessage,
  encodeReply,
  encodeUserBroadcast,
  type UserBroadcast,
  type Vsn,
} from './serializer.js';

/** What a channel needs of its socket. */
export interface ChannelSocket {
  readonly vsn: Vsn;
  readonly connection: ConnectionInfo;
  send(frame: string | Uint8Array): void;
  /** The channel ended (left, shut down): the socket forgets it. */
  channelEnded(channel: Channel): void;
}

/** What every channel of a protocol shares. */
export interface ChannelServices {
  readonly access: SupabaseAccess | undefined;
  readonly features: readonly ChannelFeature[];
  readonly changes: PostgresChanges;
  readonly verifier: TokenVerifier;
  readonly logger: Logger;
}

/** A channel of a socket. */
export class Channel implements FeatureChannel {
  readonly subTopic: string;
  #identity: Identity;
  #token: string | undefined;
  #parts: ChannelPart[] = [];
  #changes: ChangeSubscription | undefined;
  #open = false;
  #ended = false;

  constructor(
    private readonly socket: ChannelSocket,
    private readonly services: ChannelServices,
    readonly topic: string,
    readonly joinRef: string | null,
    readonly config: JoinConfig,
    identity: Identity,
    token: string | undefined,
  ) {
    this.subTopic = topic.slice('realtime:'.length);
    this.#identity = identity;
    this.#token = token;
  }

  get identity(): Identity {
    return this.#identity;
  }

  get vsn(): Vsn {
    return this.socket.vsn;
  }

  get connection(): ConnectionInfo {
    return this.socket.connection;
  }

  get open(): boolean {
    return this.#open && !this.#ended;
  }

  get accessRequest(): AccessRequest {
    return accessRequest(this.#identity, this.subTopic, this.config.private, this.socket.connection);
  }

  /**
   * Runs the join: rules, postgres_changes bindings, features; then the reply and what follows it. Never rejects:
   * a refusal is the error reply (and the socket forgets the channel).
   */
  async join(ref: string | null): Promise<void> {
    let response: Record<string, unknown>;
    try {
      if (!(await channelAllowed(this.services.access, this.accessRequest)))
        throw unauthorized(this.subTopic);
      this.#changes = await this.services.changes.prepare(this.config.postgresChanges, this.accessRequest);
      for (const feature of this.services.features) {
        const part = await feature.join(this);
        if (part) this.#parts.push(part);
      }
      response = { postgres_changes: this.#changes.replyBindings };
    } catch (error) {
      this.#refuse(ref, error);
      return;
    }
    if (this.#ended) {
      // The socket closed (or a new join replaced this one) while the join was being decided.
      this.#changes.remove();
      this.#leaveParts();
      return;
    }
    this.#open = true;
    this.reply(ref, 'ok', response);
    for (const part of this.#parts) part.joined?.();
    const changes = this.#changes;
    if (changes.bindingCount > 0) {
      const problem = changes.problem;
      if (problem === undefined) changes.activate(this);
      this.#system(
        'postgres_changes',
        problem === undefined ? 'ok' : 'error',
        problem ?? 'Subscribed to PostgreSQL',
      );
    }
  }

  #refuse(ref: string | null, error: unknown): void {
    if (!(error instanceof ChannelError))
      this.services.logger.error({ err: error, topic: this.topic }, 'supabase join failed');
    this.#end();
    this.reply(ref, 'error', { reason: toWireReason(error) });
  }

  /** One client message for this channel (not a join). */
  async handle(event: string, payload: unknown, ref: string | null): Promise<void> {
    if (!this.open) return;
    switch (event) {
      case 'phx_leave':
        this.leave(ref);
        return;
      case 'access_token':
        await this.#accessToken(payload);
        return;
    }
    const part = this.#parts.find((p) => p.events.includes(event));
    if (!part) {
      // Supabase logs unexpected events at info level and ignores them.
      this.services.logger.debug({ topic: this.topic, event }, 'supabase: unexpected client event ignored');
      return;
    }
    try {
      await part.handle(event, payload, ref);
    } catch (error) {
      this.services.logger.error({ err: error, topic: this.topic, event }, 'supabase channel event failed');
      if (ref !== null) this.reply(ref, 'error', {});
    }
  }

  /** `phx_leave`: the ok reply, then `phx_close`. */
  leave(ref: string | null): void {
    this.#end();
    this.reply(ref, 'ok', {});
    this.#close();
  }

  /** A duplicate join of the topic replaced this channel: `phx_close` for the old join. */
  replaced(): void {
    this.#end();
    this.#close();
  }

  /** The socket closed. */
  disconnected(): void {
    this.#end();
  }

  shutdown(message: string): void {
    if (this.#ended) return;
    this.#system('system', 'error', message);
    this.#end();
    this.#close();
  }

  /** A new `access_token`: verified, rules re-run; a refusal shuts the channel down. */
  async #accessToken(payload: unknown): Promise<void> {
    const token = (payload as { access_token?: unknown } | null)?.access_token;
    // Supabase ignores publishable/secret keys (`sb_…`) here: they name the project, not a user.
    if (typeof token !== 'string' || token === this.#token || token.startsWith('sb_')) return;
    this.#token = token;
    try {
      const identity = await this.services.verifier.verify(token);
      if (!this.open) return;
      if (identity.userId === this.#identity.userId) {
        this.#identity = identity;
        return;
      }
      this.#identity = identity;
      if (!(await channelAllowed(this.services.access, this.accessRequest)))
        throw unauthorized(this.subTopic);
      await this.#changes?.reauthorize(this.accessRequest);
      if (!this.open) return;
      for (const part of this.#parts) part.identityChanged?.(identity);
    } catch (error) {
      if (!(error instanceof ChannelError))
        this.services.logger.error({ err: error, topic: this.topic }, 'supabase access_token failed');
      this.shutdown(error instanceof ChannelError ? error.message : 'Unknown Error on Channel');
    }
  }

  push(event: string, payload: unknown): void {
    if (!this.open) return;
    this.socket.send(
      encodeMessage(this.vsn, { joinRef: this.joinRef, ref: null, topic: this.topic, event, payload }),
    );
  }

  pushBroadcast(broadcast: UserBroadcast): void {
    if (!this.open) return;
    if (broadcast.binary) {
      if (this.vsn === '2.0.0') this.socket.send(encodeUserBroadcast(this.topic, broadcast));
      return;
    }
    const body: Record<string, unknown> = {
      type: 'broadcast',
      event: broadcast.event,
      payload: broadcast.payload,
    };
    if (broadcast.meta) body.meta = broadcast.meta;
    this.push('broadcast', body);
  }

  sendFrame(frame: string | Uint8Array): void {
    if (this.open) this.socket.send(frame);
  }

  reply(ref: string | null, status: 'ok' | 'error', response: unknown): void {
    this.socket.send(encodeReply(this.vsn, this.topic, this.joinRef, ref, status, response));
  }

  /** A `system` push (Supabase's push_system_message). */
  #system(extension: string, status: 'ok' | 'error', message: string): void {
    this.socket.send(
      encodeMessage(this.vsn, {
        joinRef: this.joinRef,
        ref: null,
        topic: this.topic,
        event: 'system',
        payload: { extension, status, message, channel: this.subTopic },
      }),
    );
  }

  /** `phx_close` (Phoenix's encode_close: ref = join_ref). */
  #close(): void {
    this.socket.send(
      encodeMessage(this.vsn, {
        joinRef: this.joinRef,
        ref: this.joinRef,
        topic: this.topic,
        event: 'phx_close',
        payload: {},
      }),
    );
  }

  /** Ends the channel once: stops its changes, tells its parts, and makes the socket forget it. */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#changes?.remove();
    this.#leaveParts();
    this.socket.channelEnded(this);
  }

  /** Tells every part the channel is gone (once: they are forgotten). */
  #leaveParts(): void {
    for (const part of this.#parts.splice(0)) {
      try {
        part.left();
      } catch (error) {
        this.services.logger.error(
          { err: error, topic: this.topic },
          'supabase channel part failed to leave',
        );
      }
    }
  }
}
