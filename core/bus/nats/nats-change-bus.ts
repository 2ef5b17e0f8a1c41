/**
 * {@link ChangeBus} over NATS JetStream, for fleets (docs/deployment-nats.md): the elected pump relays the outbox to a
 * stream (nats-relay.ts, capture modes `outbox` and `logical`), and each process reads only the subjects of the tables
 * it watches ({@link NatsChangeBus.watch}: its live observers' tables, as they come and go), plus its channel's
 * control subject (fences, resyncs): no LISTEN connection, no PostgreSQL work per process and change.
 *
 * Contracts (those of the PostgreSQL bus, change-bus.ts):
 * - One ordered consumer per subject: the control subject's from `start()`, a table's from its first watch, each
 *   starting after the stream's last message at that time (a watcher reads its snapshot after `ready`: a change
 *   committed later is stored later). The last release closes the table's consumer; the other subjects' consumers
 *   are untouched, so switching loses and repeats nothing. Changes of one table reach handlers in stream order, which
 *   is outbox order, which per row is commit order. Tables are independent streams of events; only fences need an
 *   order across them.
 * - A fence carries, per table, the position of the last change published before it (`w`); it is delivered once
 *   every change at or below those positions of the tables this process consumes (their consumers open) was delivered (fences in their
 *   own order). So `updated` follows every change the method's transaction made, on every protocol.
 * - Lost connection, NATS restart: the client reconnects and each ordered consumer resumes after the last message it
 *   delivered (JetStream replaces the outbox replay). A message at or below a subject's last delivered position is a
 *   duplicate and dropped. A message whose predecessor on its subject (`q`) is past the last delivered one means
 *   messages were lost (the stream's retention deleted them while this process was away): `resync` is delivered
 *   before it.
 * - `connected` is false while NATS is unreachable (readiness says so). After `close()` nothing is delivered.
 */
import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { PumpRelay } from '../../capture/pump-source.js';
import { type Logger, silentLogger } from '../../logger.js';
import { type BusEvent, type ChangeBus, DEFAULT_CHANGE_CHANNEL, type TableWatch } from '../change-bus.js';
import { toEvent } from '../payloads.js';
import { NatsRelay } from './nats-relay.js';
import {
  ChunkAssembler,
  checkStreamName,
  controlSubject,
  DEFAULT_NATS_STREAM,
  DEFAULT_NATS_URL,
  ensureStream,
  tableSubject,
} from './nats-stream.js';

/** Options of {@link NatsChangeBus}. */
export interface NatsChangeBusOptions {
  /** NATS server URL(s), comma-separated (default `nats://127.0.0.1:4222`). */
  readonly url?: string;
  /** Stream name and subject prefix (default `pgrt`): one per database. */
  readonly stream?: string;
  /** The channel (default `pgrt_changes`): the capture's. */
  readonly channel?: string;
  /** Stream retention when this process creates the stream, in ms (default 1 h). */
  readonly retentionMs?: number;
  readonly logger?: Logger;
}

type Payload = Record<string, unknown>;

/** How long one pull request waits for messages, in ms (the client pulls again at once). */
const PULL_EXPIRES_MS = 5000;
/** The server's heartbeat on an idle pull, in ms: two missed ones reset the consumer after its last message. */
const IDLE_HEARTBEAT_MS = 1000;

type State = 'idle' | 'starting' | 'started' | 'closed';

/** A watched table: its subject, its watches, its consumer once open. */
interface Watched {
  readonly table: string;
  readonly subject: string;
  /** Watches not released. */
  count: number;
  /** The consumer is open: its changes are delivered, fences wait for them. */
  open: boolean;
  messages?: ConsumerMessages | undefined;
  /** Resolves once open (or released, or the bus closed). */
  ready?: Promise<void>;
  resolve?: () => void;
  opening?: Promise<void>;
}

/** The JetStream change bus. */
export class NatsChangeBus implements ChangeBus {
  readonly #url: string;
  readonly #stream: string;
  readonly #channel: string;
  readonly #retentionMs: number | undefined;
  readonly #logger: Logger;
  readonly #control: string;
  /** Watched table → its consumer. */
  #watched = new Map<string, Watched>();
  #handlers: ReadonlyArray<(event: BusEvent) => void> = [];
  #state: State = 'idle';
  #up = false;
  #nc: NatsConnection | undefined;
  #jsm: JetStreamManager | undefined;
  /** The control subject's consumer. */
  #control$: ConsumerMessages | undefined;
  /** Subject → position of the last message delivered from it (at start: the stream's last position). */
  #delivered = new Map<string, number>();
  /** Subject → the chunks of a big message received so far. */
  #assemblers = new Map<string, ChunkAssembler>();
  /** Control payloads not yet delivered (a fence waits for its tables' changes). */
  #pending: Payload[] = [];
  #seq = 0;

  constructor(options: NatsChangeBusOptions = {}) {
    this.#url = options.url ?? DEFAULT_NATS_URL;
    this.#stream = options.stream ?? DEFAULT_NATS_STREAM;
    checkStreamName(this.#stream);
    this.#channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
    this.#retentionMs = options.retentionMs;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'nats-change-bus' });
    this.#control = controlSubject(this.#stream, this.#channel);
  }

  get connected(): boolean {
    return this.#state === 'started' && this.#up;
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** The subjects this bus consumes (diagnostics, tests). */
  get subjects(): readonly string[] {
    return [this.#control, ...[...this.#watched.values()].filter((w) => w.open).map((w) => w.subject)];
  }

  watch(tables: readonly string[]): TableWatch {
    const entries = [...new Set(tables)].map((table) => {
      let entry = this.#watched.get(table);
      if (!entry) {
        let resolve: () => void = () => {};
        const ready = new Promise<void>((r) => {
          resolve = r;
        });
        entry = { table, subject: tableSubject(this.#stream, this.#channel, table), count: 0, open: false };
        entry.ready = ready;
        entry.resolve = resolve;
        this.#watched.set(table, entry);
        if (this.#state === 'started')
          this.#openEntry(entry).catch((error: unknown) =>
            this.#logger.error({ err: error, table }, 'consuming a table failed'),
          );
      }
      entry.count++;
      return entry;
    });
    let released = false;
    return {
      ready: Promise.all(entries.map((entry) => entry.ready)).then(() => {}),
      release: () => {
        if (released) return;
        released = true;
        for (const entry of entries) this.#unwatch(entry);
      },
    };
  }

  pumpRelay(): PumpRelay {
    return new NatsRelay({
      url: this.#url,
      stream: this.#stream,
      logger: this.#logger,
      ...(this.#retentionMs === undefined ? {} : { retentionMs: this.#retentionMs }),
    });
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.#handlers = [...this.#handlers, handler];
    return () => {
      this.#handlers = this.#handlers.filter((h) => h !== handler);
    };
  }

  async start(): Promise<void> {
    if (this.#state === 'closed') throw new Error('NatsChangeBus is closed');
    if (this.#state !== 'idle') return;
    this.#state = 'starting';
    try {
      await this.#open();
    } catch (error) {
      await this.#closeConsumers();
      await this.#nc?.close().catch(() => {});
      this.#nc = undefined;
      if (this.#now() === 'starting') this.#state = 'idle';
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#pending = [];
    await this.#closeConsumers();
    for (const entry of this.#watched.values()) entry.resolve?.();
    const nc = this.#nc;
    this.#nc = undefined;
    await nc?.close().catch(() => {});
  }

  /** The state, read afresh (TypeScript would keep a narrowing across awaits). */
  #now(): State {
    return this.#state;
  }

  async #open(): Promise<void> {
    const nc = await connect({
      servers: this.#url.split(','),
      name: 'pgrt-bus',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    this.#nc = nc;
    this.#up = true;
    this.#watchStatus(nc);
    const jsm = await jetstreamManager(nc);
    this.#jsm = jsm;
    await ensureStream(jsm, this.#stream, this.#retentionMs);
    const end = await this.#streamEnd();
    this.#delivered.set(this.#control, end.position);
    const messages = await this.#consume(this.#control, end.seq, (message) =>
      this.#receive(this.#control, message),
    );
    this.#control$ = messages;
    if (this.#now() === 'closed') {
      await messages.close().catch(() => {});
      return;
    }
    this.#state = 'started';
    // Tables watched before the start: consumed from now on, before start resolves.
    await Promise.all([...this.#watched.values()].map((entry) => this.#openEntry(entry)));
    this.#logger.info(
      { stream: this.#stream, subjects: this.subjects.length, from: end.seq + 1 },
      'consuming',
    );
  }

  /** The stream's last sequence and the outbox position of its last message (0 and 0 when empty). */
  async #streamEnd(): Promise<{ seq: number; position: number }> {
    const jsm = this.#jsm!;
    const info = await jsm.streams.info(this.#stream);
    let position = 0;
    if (info.state.messages > 0) {
      const last = await jsm.streams.getMessage(this.#stream, { seq: info.state.last_seq });
      const p = last ? parse(last.data)?.p : undefined;
      if (typeof p === 'number') position = p;
    }
    return { seq: info.state.last_seq, position };
  }

  /** An ordered consumer of `subject` from stream sequence `after + 1`. */
  async #consume(
    subject: string,
    after: number,
    callback: (message: JsMsg) => void,
  ): Promise<ConsumerMessages> {
    const consumer = await jetstream(this.#nc!).consumers.get(this.#stream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: after + 1,
    });
    // Short pulls and heartbeats: a pull lost in a NATS restart is noticed within seconds, not the default 30 s.
    const messages = await consumer.consume({
      callback,
      expires: PULL_EXPIRES_MS,
      idle_heartbeat: IDLE_HEARTBEAT_MS,
    });
    this.#watchConsumer(subject, messages);
    return messages;
  }

  /** Opens a watched table's consumer (once), retrying while NATS refuses; resolves its watchers when it is open. */
  #openEntry(entry: Watched): Promise<void> {
    entry.opening ??= (async () => {
      for (let attempt = 0; ; attempt++) {
        if (this.#state === 'closed' || this.#watched.get(entry.table) !== entry) break;
        try {
          const end = await this.#streamEnd();
          if (this.#now() === 'closed' || this.#watched.get(entry.table) !== entry) break;
          this.#delivered.set(entry.subject, end.position);
          const messages = await this.#consume(entry.subject, end.seq, (message) => {
            if (this.#watched.get(entry.table) === entry) this.#receive(entry.subject, message);
          });
          if (this.#now() === 'closed' || this.#watched.get(entry.table) !== entry) {
            await messages.close().catch(() => {});
            break;
          }
          entry.messages = messages;
          entry.open = true;
          this.#logger.debug({ table: entry.table, from: end.seq + 1 }, 'consuming a table');
          break;
        } catch (error) {
          this.#logger.warn(
            { err: error, table: entry.table, attempt },
            'consuming a table failed; retrying',
          );
          await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
        }
      }
      entry.resolve?.();
    })();
    return entry.opening;
  }

  /** Drops one watch of a table; the last one closes its consumer (fences stop waiting for it). */
  #unwatch(entry: Watched): void {
    if (--entry.count > 0 || this.#watched.get(entry.table) !== entry) return;
    this.#watched.delete(entry.table);
    entry.open = false;
    entry.resolve?.();
    this.#delivered.delete(entry.subject);
    this.#assemblers.delete(entry.subject);
    entry.messages
      ?.close()
      .catch((error: unknown) =>
        this.#logger.warn({ err: error, table: entry.table }, 'closing a consumer failed'),
      );
    this.#flushControl();
  }

  async #closeConsumers(): Promise<void> {
    const all = [this.#control$, ...[...this.#watched.values()].map((entry) => entry.messages)];
    this.#control$ = undefined;
    for (const entry of this.#watched.values()) {
      entry.messages = undefined;
      entry.open = false;
    }
    for (const messages of all) await messages?.close().catch(() => {});
  }

  /** Follows the connection's state (`connected`), logging losses and recoveries. */
  #watchStatus(nc: NatsConnection): void {
    const follow = async (): Promise<void> => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') {
          this.#up = false;
          if (this.#state !== 'closed') this.#logger.warn({ server: status.server }, 'NATS connection lost');
        } else if (status.type === 'reconnect') {
          this.#up = true;
          this.#logger.info({ server: status.server }, 'NATS connection back');
        }
      }
    };
    follow().catch((error: unknown) => this.#logger.warn({ err: error }, 'NATS status watch ended'));
  }

  /** Logs a consumer's notable notifications (recreated after a reset or a server restart). */
  #watchConsumer(subject: string, messages: ConsumerMessages): void {
    const follow = async (): Promise<void> => {
      for await (const status of messages.status()) {
        if (status.type === 'ordered_consumer_recreated')
          this.#logger.info({ subject, consumer: status.name }, 'consumer recreated; resuming');
        else if (status.type === 'heartbeats_missed')
          this.#logger.warn({ subject, count: status.count }, 'consumer heartbeats missed; resetting');
      }
    };
    follow().catch((error: unknown) =>
      this.#logger.warn({ err: error, subject }, 'consumer status watch ended'),
    );
  }

  #receive(subject: string, message: JsMsg): void {
    if (this.#state === 'closed') return;
    const received = parse(message.data);
    const last = this.#delivered.get(subject);
    if (typeof received?.p === 'number' && last !== undefined && received.p <= last) return; // a duplicate
    // A message too big for one NATS message arrives in chunks (nats-stream.ts): delivered once whole.
    const whole = received && this.#assembler(subject).add(received);
    if (whole === undefined && received?.chunk !== undefined) return;
    const payload = typeof whole === 'string' ? parseText(whole) : whole;
    const p = payload?.p;
    if (!payload || typeof p !== 'number') {
      this.#logger.warn({ subject, seq: message.seq }, 'malformed message skipped');
      return;
    }
    const q = payload.q;
    if (typeof q === 'number' && last !== undefined && q > last) {
      this.#logger.warn(
        { subject, after: last, missing: q },
        'messages lost (past the stream retention); resyncing',
      );
      this.#deliver({ kind: 'resync', seq: this.#seq + 1 });
    }
    this.#delivered.set(subject, p);
    if (subject === this.#control) this.#pending.push(payload);
    else this.#deliverPayload(payload);
    this.#flushControl();
  }

  /** Delivers control payloads in order while the head's fence has every change it waits for. */
  #flushControl(): void {
    while (this.#pending.length > 0 && this.#state !== 'closed') {
      const head = this.#pending[0]!;
      if (!this.#fenceReady(head)) return;
      this.#pending.shift();
      this.#deliverPayload(head);
    }
  }

  #fenceReady(payload: Payload): boolean {
    const w = payload.w;
    if (typeof w !== 'object' || w === null) return true;
    for (const [table, position] of Object.entries(w as Record<string, unknown>)) {
      const entry = this.#watched.get(table);
      if (!entry?.open || typeof position !== 'number') continue;
      if ((this.#delivered.get(entry.subject) ?? 0) < position) return false;
    }
    return true;
  }

  #assembler(subject: string): ChunkAssembler {
    let assembler = this.#assemblers.get(subject);
    if (!assembler) {
      assembler = new ChunkAssembler();
      this.#assemblers.set(subject, assembler);
    }
    return assembler;
  }

  #deliverPayload(payload: Payload): void {
    const event = toEvent(payload, this.#seq + 1);
    if (!event) {
      this.#logger.warn({ position: payload.p }, 'malformed payload skipped');
      return;
    }
    this.#deliver(event);
  }

  #deliver(event: BusEvent): void {
    this.#seq = event.seq;
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#logger.error({ err: error, seq: event.seq, kind: event.kind }, 'bus handler threw');
      }
    }
  }
}

function parse(data: Uint8Array): Payload | undefined {
  return parseText(new TextDecoder().decode(data));
}

function parseText(text: string): Payload | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Payload)
      : undefined;
  } catch {
    return undefined;
  }
}
