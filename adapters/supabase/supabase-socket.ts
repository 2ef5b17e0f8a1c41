/**
 * One Phoenix socket (a supabase-js client's WebSocket): decodes its frames, answers heartbeats, and routes
 * each message to its channel by topic, as Phoenix.Socket does:
 * - `heartbeat` on topic `phoenix` → `phx_reply` ok `{}`;
 * - `phx_join` on `realtime:<name>` → a new {@link Channel} (a join of a topic already joined first closes the old
 *   one with `phx_close`); on `realtime:` alone → `TopicNameRequired`; on any other topic → `phx_reply` error
 *   `{reason: 'unmatched topic'}`; past `maxChannels` → `ChannelRateLimitReached`;
 * - `phx_leave` on a topic not joined → `phx_reply` ok `{}`; any other event on a topic not joined →
 *   `{reason: 'unmatched topic'}`; a message whose `join_ref` is not the channel's current one is stale: ignored;
 * - an undecodable frame is logged and dropped, and the connection stays open (Phoenix would close it).
 *
 * Messages are handled one after the other: a message arriving while a join is still being decided (token check,
 * the app's rules) waits for it, so a client's events always follow its join.
 *
 * Outbound, with a coalescer (`coalesceMs`, as DDP's and WAMP's): the socket's first frame of a window corks its
 * connection and the frames leave together when the window ends (one socket write for a turn's changes rather
 * than one per change), in order, each still its own WebSocket message.
 */
import type { Connection, ConnectionListener } from '../../core/connection.js';
import type { ConnectionInfo, Fields } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { Session, SessionOutput } from '../../core/session.js';
import type { CoalescedWriter, WriteCoalescer } from '../../transports/write-coalescer.js';
import { Channel, type ChannelServices, type ChannelSocket } from './channel.js';
import { ChannelError, tooManyChannels, topicNameRequired, toWireReason } from './errors.js';
import type { Identity } from './identity.js';
import { parseJoinPayload } from './join-config.js';
import { decodeFrame, encodeReply, type PhoenixMessage, type Vsn } from './serializer.js';

/** Per-socket settings. */
export interface SocketOptions {
  readonly maxChannels: number;
  /**
   * The `apikey` URL parameter: the token of joins that carry no `access_token` (Supabase's socket token;
   * realtime-js joins before its first `setAuth` completes).
   */
  readonly apikey: string | undefined;
  /** The `vsn` URL parameter, when valid; absent: read off the client's first text frame. */
  readonly vsn: Vsn | undefined;
  /** Outbound coalescing shared by the protocol's sockets; undefined: one socket write per frame. */
  readonly coalescer: WriteCoalescer | undefined;
}

/** A client socket. */
export class SupabaseSocket implements ConnectionListener, ChannelSocket, SessionOutput, CoalescedWriter {
  /** The serializer version, read off the client's first text frame (2.0.0, realtime-js's default, until then). */
  vsn: Vsn = '2.0.0';
  #vsnKnown = false;
  readonly #channels = new Map<string, Channel>();
  readonly #session: Session;
  /** The message being handled when it is asynchronous (a join); later ones chain behind it. */
  #busy: Promise<void> | undefined;
  #closed = false;
  /** True while the connection is corked for the coalescer's current window (uncorked by {@link releaseCork}). */
  #corked = false;

  constructor(
    core: RealtimeCore,
    private readonly connectionHandle: Connection,
    readonly connection: ConnectionInfo,
    private readonly services: ChannelServices,
    private readonly options: SocketOptions,
    private readonly logger: Logger,
  ) {
    if (options.vsn) {
      this.vsn = options.vsn;
      this.#vsnKnown = true;
    }
    this.#session = core.openSession(connection, this);
    connectionHandle.attach(this);
  }

  /** Joined channels. */
  get channelCount(): number {
    return this.#channels.size;
  }

  send(frame: string | Uint8Array): void {
    if (this.#closed) return;
    const coalescer = this.options.coalescer;
    if (coalescer && !this.#corked && this.connectionHandle.cork) {
      this.connectionHandle.cork();
      this.#corked = true;
      coalescer.hold(this);
    }
    this.connectionHandle.send(frame);
  }

  /** The coalescer's window ended: uncork (also after the socket closed; a closed connection ignores it). */
  releaseCork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.connectionHandle.uncork?.();
  }

  close(code: number, reason: string): void {
    this.connectionHandle.close(code, reason);
  }

  /** When the client last sent anything (ms, `Date.now()`): sockets silent past the idle timeout are closed. */
  lastSeen = Date.now();

  receive(data: string | Uint8Array): void {
    this.lastSeen = Date.now();
    const decoded = decodeFrame(data);
    if (!decoded.ok) {
      this.logger.debug(
        { session: this.connection.id, reason: decoded.reason },
        'supabase: bad frame dropped',
      );
      return;
    }
    if (!this.#vsnKnown && typeof data === 'string') {
      this.vsn = decoded.vsn;
      this.#vsnKnown = true;
    }
    const message = decoded.message;
    if (this.#busy) {
      this.#busy = this.#busy.then(() => this.#handle(message));
      return;
    }
    const pending = this.#handle(message);
    if (pending) {
      const busy: Promise<void> = pending.finally(() => {
        if (this.#busy === busy) this.#busy = undefined;
      });
      this.#busy = busy;
    }
  }

  /** Handles one message; returns a promise only when it completes later (a join, a channel event). */
  #handle(message: PhoenixMessage): Promise<void> | undefined {
    if (this.#closed) return undefined;
    const { topic, event, ref, joinRef } = message;
    if (topic === 'phoenix' && event === 'heartbeat') {
      this.send(encodeReply(this.vsn, 'phoenix', null, ref, 'ok', {}));
      return undefined;
    }
    if (event === 'phx_join') return this.#join(message);
    const channel = this.#channels.get(topic);
    if (!channel) {
      if (event === 'phx_leave') this.send(encodeReply(this.vsn, topic, joinRef, ref, 'ok', {}));
      else this.send(encodeReply(this.vsn, topic, null, ref, 'error', { reason: 'unmatched topic' }));
      return undefined;
    }
    if (joinRef !== null && joinRef !== channel.joinRef) return undefined; // stale: for an earlier join
    return channel.handle(event, message.payload, ref).catch((error: unknown) => {
      this.logger.error({ err: error, topic }, 'supabase channel message failed');
    });
  }

  #join(message: PhoenixMessage): Promise<void> | undefined {
    const { topic, ref, joinRef } = message;
    if (!topic.startsWith('realtime:')) {
      this.send(encodeReply(this.vsn, topic, null, ref, 'error', { reason: 'unmatched topic' }));
      return undefined;
    }
    this.#channels.get(topic)?.replaced();
    if (topic === 'realtime:') {
      this.send(encodeReply(this.vsn, topic, joinRef, ref, 'error', { reason: topicNameRequired().reason }));
      return undefined;
    }
    if (this.#channels.size >= this.options.maxChannels) {
      this.send(encodeReply(this.vsn, topic, joinRef, ref, 'error', { reason: tooManyChannels().reason }));
      return undefined;
    }
    const join = parseJoinPayload(message.payload);
    if (join.problems.length > 0)
      this.logger.debug({ topic, problems: join.problems }, 'supabase: invalid join payload, defaults used');
    // Supabase: a join without access_token uses the socket's token (the apikey of the URL).
    // A publishable/secret key (`sb_…`) as access_token also means the socket's token.
    const given = join.accessToken;
    const token = given === undefined || given.startsWith('sb_') ? this.options.apikey : given;
    return this.#verifiedJoin(message, token).then(async (identity) => {
      if (identity === undefined || this.#closed) return;
      const channel = new Channel(this, this.services, topic, joinRef, join.config, identity, token);
      this.#channels.set(topic, channel);
      await channel.join(ref);
    });
  }

  /** The join's identity, or undefined after replying with the token's refusal. */
  async #verifiedJoin(message: PhoenixMessage, token: string | undefined): Promise<Identity | undefined> {
    try {
      return await this.services.verifier.verify(token);
    } catch (error) {
      if (!(error instanceof ChannelError))
        this.logger.error({ err: error, topic: message.topic }, 'supabase token verification failed');
      this.send(
        encodeReply(this.vsn, message.topic, message.joinRef, message.ref, 'error', {
          reason: toWireReason(error),
        }),
      );
      return undefined;
    }
  }

  channelEnded(channel: Channel): void {
    if (this.#channels.get(channel.topic) === channel) this.#channels.delete(channel.topic);
  }

  connectionClosed(): void {
    this.#closed = true;
    for (const channel of [...this.#channels.values()]) channel.disconnected();
    this.#channels.clear();
    this.#session.close();
  }

  // ---- SessionOutput: Supabase clients neither subscribe to publications nor call methods -------------------

  added(_collection: string, _id: string, _fields: Fields): void {}
  changed(_collection: string, _id: string, _fields: Fields, _cleared: readonly string[]): void {}
  removed(_collection: string, _id: string): void {}
  subscriptionsReady(_subIds: readonly string[]): void {}
  subscriptionStopped(_subId: string, _error?: unknown): void {}
  methodResult(): void {}
  writesDelivered(_methodIds: readonly string[]): void {}

  /** The user's login was revoked: the socket is closed (clients reconnect and join again). */
  closeConnection(reason: string): void {
    this.connectionHandle.close(1008, reason);
  }
}
