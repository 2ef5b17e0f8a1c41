/**
 * One DDP connection: the protocol state machine over a neutral {@link Connection} (one socket), handing a
 * session's messages to its {@link DdpSession} (reference/ddp.md §1.3–1.8, Meteor's exact behaviour and strings)
 * and resuming sessions whose previous socket dropped (§1.12, Meteor 3.5; see resumption.ts).
 *
 * States: `handshake` (only `connect` is accepted; anything else → `Must connect first`), `open` (a session is
 * attached), `closed`. `ping`/`pong` are answered out of band and `disconnect` ends the session at once; every
 * other message goes to the session's in-order queue. Bad input gets Meteor's top-level `error` and the
 * connection stays usable.
 *
 * When the socket closes without a `disconnect` message (network loss, heartbeat timeout), the session is not
 * ended but parked for the grace period, so a later `connect {session, receivedCount}` on another socket can
 * resume it; with resumption disabled (grace period 0) it ends at once, as before Meteor 3.5.
 */
import type { Connection, ConnectionListener } from '../../core/connection.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { ClientMessage, ConnectMessage } from './client-messages.js';
import { encodeServerMessage, parseClientMessage, type ServerMessage } from './ddp-codec.js';
import { DdpSession, type DdpSessionSettings } from './ddp-session.js';
import type { SessionHandoff } from './handoff.js';
import { Heartbeat, type HeartbeatClock } from './heartbeat.js';

/** Bound on writing a taken-over session back to the hand-off store when its client left meanwhile. */
const GIVE_BACK_TIMEOUT_MS = 5000;

/** DDP versions this server speaks, in preference order. */
export const SUPPORTED_DDP_VERSIONS = ['1', 'pre2', 'pre1'] as const;

/**
 * What every DDP connection of an adapter shares, in one object: the settings from the adapter's options and the
 * parts they use.
 */
export interface DdpConnectionSettings extends DdpSessionSettings, HeartbeatClock {
  /** Where sessions are opened. */
  readonly core: RealtimeCore;
  /** Messages longer than this many bytes get `error "Message too large"` and are dropped. */
  readonly maxMessageBytes: number;
  /** Messages nested deeper get `error "Message too deeply nested"` and are dropped. */
  readonly maxNestingDepth: number;
  /** Answer client pings (Meteor's `respondToPings`, default true). */
  readonly respondToPings: boolean;
  /** The adapter's open connections: each adds itself and leaves when its socket closes. */
  readonly connections: Set<DdpConnection>;
  /** Sessions handed off by other processes (handoff.ts); undefined: none are taken over. */
  readonly handoff: SessionHandoff | undefined;
}

/** `taking-over`: a handed-off session is being looked up and restored; the client's messages wait. */
type State = 'handshake' | 'taking-over' | 'open' | 'closed';

/** A message that arrived while a session was being taken over, dispatched once it is open. */
interface Early {
  readonly message: ClientMessage;
  readonly raw: Record<string, unknown>;
  readonly bytes: number;
}

/** The messages waiting for a take-over, and their bytes. */
interface EarlyMessages {
  readonly messages: Early[];
  bytes: number;
}

/**
 * Runs DDP over one connection. It is the connection's listener itself (no closures) and its own heartbeat (a
 * wheel entry), and keeps no more than its state: what every connection shares is in the settings. Its helpers are
 * TypeScript-`private`, not `#` methods: V8 stores a class brand in every instance of a class with `#` methods or
 * accessors (8 bytes per connection; issue 16).
 */
export class DdpConnection extends Heartbeat implements ConnectionListener {
  #state: State = 'handshake';
  #session: DdpSession | undefined;
  #version = '1';
  /** Messages received while taking a session over (only then: an open connection keeps no list). */
  #early: EarlyMessages | undefined;

  constructor(
    private readonly connection: Connection,
    private readonly settings: DdpConnectionSettings,
  ) {
    super();
    settings.connections.add(this);
    connection.attach(this);
  }

  /** The session this connection carries, if any (for a hand-off at shutdown). */
  get session(): DdpSession | undefined {
    return this.#session;
  }

  /** Closes the socket (shutdown); what happens to the session is decided when it has closed. */
  close(code: number, reason: string): void {
    this.connection.close(code, reason);
  }

  // ---- inbound ---------------------------------------------------------------------------------------------

  /** Called by the connection with each message. */
  receive(data: string | Uint8Array): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'open') this.heartbeatReceived();
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.settings.maxMessageBytes) {
      this.sendError('Message too large');
      return;
    }
    const parsed = parseClientMessage(text, this.settings.maxNestingDepth);
    switch (parsed.kind) {
      case 'bad-request':
        this.sendError('Bad request');
        return;
      case 'no-msg':
        this.sendError('Bad request', parsed.raw);
        return;
      case 'parse-error':
        this.sendError('Parse error');
        return;
      case 'too-deep':
        this.sendError('Message too deeply nested');
        return;
      case 'message':
        this.dispatch(parsed.message, parsed.raw, bytes);
        return;
      default:
        unreachable(parsed);
    }
  }

  /** Acts on one typed message: the handshake here, everything else in the session's in-order queue. */
  private dispatch(message: ClientMessage, raw: Record<string, unknown>, bytes: number): void {
    if (this.#state === 'taking-over') {
      this.wait({ message, raw, bytes });
      return;
    }
    if (message.msg === 'connect') {
      if (this.#state === 'open') this.sendError('Already connected', raw);
      else this.connect(message);
      return;
    }
    const session = this.#session;
    if (this.#state !== 'open' || !session) {
      this.sendError('Must connect first', raw);
      return;
    }
    switch (message.msg) {
      case 'disconnect':
        this.disconnect();
        return;
      case 'ping':
      case 'pong':
        // DDP pre1 has no heartbeats: its pings and pongs are unknown messages, answered in turn (`Bad request`).
        if (this.#version === 'pre1')
          session.enqueue({ msg: 'malformed', reason: 'Bad request', offending: raw });
        else if (message.msg === 'ping' && this.settings.respondToPings)
          session.sendUncounted({ msg: 'pong', ...(message.id === undefined ? {} : { id: message.id }) });
        return;
      case 'sub':
      case 'unsub':
      case 'method':
      case 'malformed':
        session.enqueue(message, bytes);
        return;
      default:
        unreachable(message);
    }
  }

  private connect(message: ConnectMessage): void {
    const negotiation = message.negotiation;
    if (!negotiation) {
      this.fail(SUPPORTED_DDP_VERSIONS[0]);
      return;
    }
    const { version, support } = negotiation;
    const supported: readonly string[] = SUPPORTED_DDP_VERSIONS;
    const chosen = support.find((v) => supported.includes(v)) ?? SUPPORTED_DDP_VERSIONS[0];
    if (chosen !== version) {
      this.fail(chosen);
      return;
    }

    this.#version = version;
    const resumed = this.resume(message);
    const { session: id, receivedCount } = message;
    if (!resumed && this.settings.handoff && id !== undefined && receivedCount !== undefined) {
      this.#state = 'taking-over';
      this.#early = { messages: [], bytes: 0 };
      this.takeOver(this.settings.handoff, id, receivedCount).catch((error: unknown) => {
        this.settings.logger.error({ err: error }, 'taking over a DDP session failed');
      });
      return;
    }
    this.opened(resumed ?? this.open());
  }

  /** The session is attached: process messages, start the heartbeat. */
  private opened(session: DdpSession): void {
    this.#session = session;
    this.#state = 'open';
    if (this.#version !== 'pre1') this.startHeartbeat();
  }

  protected get clock(): HeartbeatClock {
    return this.settings;
  }

  /**
   * Takes over session `id` from another process's hand-off, or opens a new one; then processes the messages that
   * arrived meanwhile. A socket that closed meanwhile gives the taken-over session back to the store (the client
   * may come back through any process).
   */
  private async takeOver(handoff: SessionHandoff, id: string, receivedCount: number): Promise<void> {
    const taken = await handoff.takeOver(
      id,
      receivedCount,
      this.connection,
      this.settings,
      () => this.#state === 'taking-over',
    );
    if (this.#state !== 'taking-over') {
      if (taken) await handoff.giveBack(taken, GIVE_BACK_TIMEOUT_MS);
      return;
    }
    if (taken) {
      taken.release(this.connection);
      handoff.released(taken);
    }
    this.opened(taken ?? this.open());
    const early = this.#early?.messages ?? [];
    this.#early = undefined;
    for (const { message, raw, bytes } of early)
      if ((this.#state as State) === 'open') this.dispatch(message, raw, bytes);
  }

  /** Keeps a message that arrived during a take-over; past the inbound queue's bound the socket is closed. */
  private wait(early: Early): void {
    const waiting = this.#early;
    if (!waiting) return;
    waiting.messages.push(early);
    waiting.bytes += early.bytes;
    if (waiting.bytes > this.settings.maxInboundQueueBytes) this.connection.close(1009, 'inbound queue full');
  }

  /** Called by the heartbeat: the client was silent for an interval. */
  heartbeatPing(): void {
    this.#session?.sendUncounted({ msg: 'ping' });
  }

  /** Called by the heartbeat: no answer within the timeout; the socket closes, the session is parked. */
  heartbeatTimedOut(): void {
    this.settings.logger.debug({ session: this.#session?.id }, 'heartbeat timed out');
    this.connection.close(1000, 'heartbeat timeout');
    this.closed();
  }

  /** A new session (its `connected` is sent by the session). */
  private open(): DdpSession {
    const info: ConnectionInfo = {
      id: cryptoRandom.id(),
      protocol: 'ddp',
      clientAddress: this.connection.remoteAddress,
      httpHeaders: this.connection.headers,
    };
    return new DdpSession(this.settings.core, info, this.connection, this.settings);
  }

  /**
   * Resumes the parked session named by `connect.session` if `connect.receivedCount` is a count it can serve;
   * otherwise ends that session (the client starts over with a new one) and returns undefined.
   */
  private resume(message: ConnectMessage): DdpSession | undefined {
    const parked = this.settings.parked;
    const { session: id, receivedCount } = message;
    if (!parked || id === undefined) return undefined;
    const session = parked.take(id);
    if (!session) return undefined;
    if (receivedCount !== undefined && session.resume(this.connection, receivedCount)) return session;
    this.settings.logger.debug(
      { session: id, receivedCount, sent: session.sentCount },
      'DDP resumption refused: receivedCount does not match',
    );
    session.end();
    return undefined;
  }

  /** `failed`, flushed before the close (meteor#14746), then nothing more is processed. */
  private fail(version: string): void {
    this.send({ msg: 'failed', version });
    this.#state = 'closed';
    this.connection.close(1000, 'DDP version negotiation failed');
  }

  /** The client's `disconnect`: end the session now (no resumption), then close the socket. */
  private disconnect(): void {
    this.closed(true);
    this.connection.close(1000, 'disconnect');
  }

  /** Called by the connection once it has closed. */
  connectionClosed(): void {
    this.settings.connections.delete(this);
    this.closed();
  }

  /**
   * The socket is gone (or going): park the session for resumption, or end it; `graceful` (the client sent
   * `disconnect`): end it. Idempotent.
   */
  private closed(graceful = false): void {
    if (this.#state === 'closed' && !this.#session) return;
    this.#state = 'closed';
    this.stopHeartbeat();
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    const parked = this.settings.parked;
    if (graceful || !parked || session.ended) {
      session.end();
      return;
    }
    this.park(session);
  }

  /** Parks a session whose socket is gone for its grace period (or ends it, without resumption). */
  private park(session: DdpSession): void {
    const parked = this.settings.parked;
    if (!parked) {
      session.end();
      return;
    }
    session.detach(() => parked.take(session.id));
    parked.park(session);
  }

  // ---- outbound before a session exists --------------------------------------------------------------------

  private sendError(reason: string, offendingMessage?: unknown): void {
    if (this.#session) {
      this.#session.sendError(reason, offendingMessage);
      return;
    }
    this.send(
      offendingMessage === undefined ? { msg: 'error', reason } : { msg: 'error', reason, offendingMessage },
    );
  }

  /** Writes a message that belongs to no session (handshake errors, `failed`): not counted. */
  private send(message: ServerMessage): void {
    this.connection.send(encodeServerMessage(message));
  }
}

function unreachable(value: never): never {
  throw new Error(`unhandled DDP message ${JSON.stringify(value)}`);
}
