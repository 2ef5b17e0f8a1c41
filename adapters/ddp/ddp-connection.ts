/**
 * One DDP connection: the protocol state machine over a neutral {@link Connection}, mapping DDP messages to a
 * core {@link Session} and the session's output back to DDP (reference/ddp.md §1.3–1.8, Meteor's exact
 * behaviour and strings).
 *
 * States: `handshake` (only `connect` is accepted; anything else → `Must connect first`), `open` (a session
 * exists), `closed`. `ping`/`pong` are answered out of band; every other message is processed strictly in
 * order, one at a time, unless a method calls `unblock()`. Bad input gets Meteor's top-level `error` and the
 * connection stays usable.
 */
import type { Connection } from '../../core/connection.js';
import type { ConnectionInfo, Fields } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import { cryptoRandom } from '../../core/random/random-stream.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { MethodOutcome, Session, SessionOutput } from '../../core/session.js';
import {
  type ClientMessage,
  encodeServerMessage,
  parseClientMessage,
  type ServerMessage,
} from './ddp-codec.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';
import { toWireError } from './to-wire-error.js';

/** DDP versions this server speaks, in preference order. */
export const SUPPORTED_DDP_VERSIONS = ['1', 'pre2', 'pre1'] as const;

/** Per-connection settings (from the adapter's options). */
export interface DdpConnectionSettings {
  readonly heartbeat: HeartbeatOptions;
  /** Messages longer than this many bytes get `error "Message too large"` and are dropped. */
  readonly maxMessageBytes: number;
  /** Answer client pings (Meteor's `respondToPings`, default true). */
  readonly respondToPings: boolean;
}

type State = 'handshake' | 'open' | 'closed';

/** Runs DDP over one connection. */
export class DdpConnection implements SessionOutput {
  #state: State = 'handshake';
  #session: Session | undefined;
  #version = '1';
  #heartbeat: Heartbeat | undefined;
  readonly #queue: ClientMessage[] = [];
  #processing = false;
  readonly #logger: Logger;

  constructor(
    private readonly connection: Connection,
    private readonly core: RealtimeCore,
    private readonly settings: DdpConnectionSettings,
    logger: Logger,
  ) {
    this.#logger = logger;
    connection.onMessage((data) => this.#receive(data));
    connection.onClose(() => this.#closed());
  }

  // ---- inbound ---------------------------------------------------------------------------------------------

  #receive(data: string | Uint8Array): void {
    if (this.#state === 'closed') return;
    this.#heartbeat?.messageReceived();
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    if (Buffer.byteLength(text, 'utf8') > this.settings.maxMessageBytes) {
      this.#sendError('Message too large');
      return;
    }
    const parsed = parseClientMessage(text);
    if (parsed.kind === 'bad-request') {
      this.#sendError('Bad request');
      return;
    }
    if (parsed.kind === 'parse-error') {
      this.#sendError('Parse error');
      return;
    }
    const { message, raw } = parsed;
    if (!message.msg) {
      this.#sendError('Bad request', raw);
      return;
    }
    if (message.msg === 'connect') {
      if (this.#state === 'open') {
        this.#sendError('Already connected', raw);
        return;
      }
      this.#connect(message);
      return;
    }
    if (this.#state !== 'open') {
      this.#sendError('Must connect first', raw);
      return;
    }
    if (this.#version !== 'pre1') {
      if (message.msg === 'ping') {
        if (this.settings.respondToPings)
          this.#send({ msg: 'pong', ...(message.id === undefined ? {} : { id: message.id }) });
        return;
      }
      if (message.msg === 'pong') return;
    }
    this.#queue.push(message);
    if (!this.#processing) void this.#drain();
  }

  #connect(message: ClientMessage): void {
    const { version, support } = message;
    const valid =
      typeof version === 'string' &&
      Array.isArray(support) &&
      support.every((v) => typeof v === 'string') &&
      support.includes(version);
    if (!valid) {
      this.#fail(SUPPORTED_DDP_VERSIONS[0]);
      return;
    }
    const supported: readonly string[] = SUPPORTED_DDP_VERSIONS;
    const chosen = (support as string[]).find((v) => supported.includes(v)) ?? SUPPORTED_DDP_VERSIONS[0];
    if (chosen !== version) {
      this.#fail(chosen);
      return;
    }

    this.#version = version;
    const info: ConnectionInfo = {
      id: cryptoRandom.id(),
      protocol: 'ddp',
      clientAddress: this.connection.remoteAddress,
      httpHeaders: this.connection.headers,
    };
    this.#session = this.core.openSession(info, this);
    this.#state = 'open';
    this.#send({ msg: 'connected', session: info.id });
    if (version !== 'pre1') {
      this.#heartbeat = new Heartbeat(
        this.settings.heartbeat,
        () => this.#send({ msg: 'ping' }),
        () => {
          this.#logger.debug({ session: info.id }, 'heartbeat timed out');
          this.connection.close(1000, 'heartbeat timeout');
          this.#closed();
        },
      );
      this.#heartbeat.start();
    }
    void this.#session.startUniversal();
  }

  /** `failed`, flushed before the close (meteor#14746), then nothing more is processed. */
  #fail(version: string): void {
    this.#send({ msg: 'failed', version });
    this.#state = 'closed';
    this.connection.close(1000, 'DDP version negotiation failed');
  }

  async #drain(): Promise<void> {
    this.#processing = true;
    try {
      while (this.#queue.length > 0 && this.#state === 'open') {
        const message = this.#queue.shift()!;
        await this.#process(message);
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'DDP message processing failed');
    } finally {
      this.#processing = false;
    }
  }

  /** Processes one queued message; resolves when the next one may start. */
  async #process(message: ClientMessage): Promise<void> {
    const session = this.#session!;
    switch (message.msg) {
      case 'sub': {
        const { id, name, params } = message;
        if (
          typeof id !== 'string' ||
          typeof name !== 'string' ||
          ('params' in message && !Array.isArray(params))
        ) {
          this.#sendError('Malformed subscription', message);
          return;
        }
        await session.subscribe(id, name, (params as unknown[] | undefined) ?? []);
        return;
      }
      case 'unsub':
        session.unsubscribe(message.id as string);
        return;
      case 'method': {
        const { id, method, params, randomSeed } = message;
        if (
          typeof id !== 'string' ||
          typeof method !== 'string' ||
          ('params' in message && !Array.isArray(params)) ||
          ('randomSeed' in message && typeof randomSeed !== 'string')
        ) {
          this.#sendError('Malformed method invocation', message);
          return;
        }
        let unblock: () => void = () => {};
        const unblocked = new Promise<void>((resolve) => {
          unblock = resolve;
        });
        const done = session.call(id, method, (params as unknown[] | undefined) ?? [], {
          randomSeed: randomSeed as string | undefined,
          onUnblock: unblock,
        });
        await Promise.race([done, unblocked]);
        return;
      }
      default:
        this.#sendError('Bad request', message);
        return;
    }
  }

  #closed(): void {
    if (this.#state === 'closed' && !this.#session) return;
    this.#state = 'closed';
    this.#heartbeat?.stop();
    this.#queue.length = 0;
    this.#session?.close();
    this.#session = undefined;
  }

  // ---- outbound (SessionOutput) ----------------------------------------------------------------------------

  added(collection: string, id: string, fields: Fields): void {
    this.#send({ msg: 'added', collection, id, fields });
  }

  changed(collection: string, id: string, fields: Fields, cleared: readonly string[]): void {
    this.#send({ msg: 'changed', collection, id, fields, cleared });
  }

  removed(collection: string, id: string): void {
    this.#send({ msg: 'removed', collection, id });
  }

  ready(subIds: readonly string[]): void {
    this.#send({ msg: 'ready', subs: subIds });
  }

  nosub(subId: string, error?: unknown): void {
    this.#send(
      error === undefined
        ? { msg: 'nosub', id: subId }
        : { msg: 'nosub', id: subId, error: toWireError(error) },
    );
  }

  result(methodId: string, outcome: MethodOutcome): void {
    this.#send(
      outcome.ok
        ? { msg: 'result', id: methodId, result: outcome.value }
        : { msg: 'result', id: methodId, error: toWireError(outcome.error) },
    );
  }

  updated(methodIds: readonly string[]): void {
    this.#send({ msg: 'updated', methods: methodIds });
  }

  #sendError(reason: string, offendingMessage?: unknown): void {
    this.#send(
      offendingMessage === undefined ? { msg: 'error', reason } : { msg: 'error', reason, offendingMessage },
    );
  }

  #send(message: ServerMessage): void {
    this.connection.send(encodeServerMessage(message));
  }
}
