/**
 * The `logical` capture mode's replication client: one walsender session (`replication: 'database'`) running
 * `START_REPLICATION … LOGICAL` on the capture slot with pgoutput (publication `pgrt_capture`, messages on). It
 * hands each committed transaction (decoder.ts) to its owner, in commit order, and reports back the position the
 * owner made durable (standby status updates), so the slot keeps exactly the WAL not yet appended. It drives pg's
 * protocol through a "submittable" (the documented extension point pg-cursor and pg-copy-streams use).
 */
import type pg from 'pg';
import type { Database } from '../../database/database.js';
import { quoteIdent, quoteLiteral } from '../../database/row-codec.js';
import { type Logger, silentLogger } from '../../logger.js';
import { LOGICAL_PUBLICATION } from '../capture-ddl.js';
import { type DecodedTransaction, TransactionDecoder } from './decoder.js';
import { formatLsn } from './pgoutput.js';

/** Least time between two unforced standby status updates, in ms. */
const STATUS_MIN_INTERVAL_MS = 100;

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

/** Options of {@link LogicalStream.open}. */
export interface LogicalStreamOptions {
  readonly slot: string;
  /** `application_name` of the walsender session (default `pgrt-pump-stream`). */
  readonly applicationName?: string;
  /** Receives each committed transaction, in commit order (synchronously, as it is decoded). */
  readonly onTransaction: (transaction: DecodedTransaction) => void;
  /** Called once when the stream ends: `error` unless {@link LogicalStream.close} ended it. */
  readonly onEnd: (error: Error | undefined) => void;
  readonly logger?: Logger;
  /** Standby status update interval while idle, in ms (default 10000; wal_sender_timeout defaults to 60 s). */
  readonly statusIntervalMs?: number;
  /**
   * Settings of the walsender session, made before streaming: the column text in the WAL is what the types' output
   * functions write under them (the pump passes DateStyle ISO and its own TimeZone and extra_float_digits, the
   * preconditions of column-json.ts).
   */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * A pg "submittable" that runs START_REPLICATION and receives the CopyBoth stream (`pg` routes a submittable's
 * protocol messages to its handle* methods: the documented extension point pg-cursor and pg-copy-streams use).
 */
class ReplicationCommand {
  readonly text: string;
  connection: { sendCopyFromChunk(chunk: Buffer): void } | undefined;

  constructor(
    text: string,
    private readonly onData: (chunk: Buffer) => void,
    private readonly onEnd: (error: Error | undefined) => void,
  ) {
    this.text = text;
  }

  submit(connection: { query(text: string): void; sendCopyFromChunk(chunk: Buffer): void }): void {
    this.connection = connection;
    connection.query(this.text);
  }

  handleCopyData(message: { chunk: Buffer }): void {
    this.onData(message.chunk);
  }

  handleError(error: Error): void {
    this.onEnd(error);
  }

  handleReadyForQuery(): void {
    this.onEnd(undefined);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
}

/** What {@link LogicalStream} touches of the connection's net.Socket. */
interface ReplicationSocket {
  pause(): void;
  resume(): void;
}

/** A running START_REPLICATION session on the capture slot. */
export class LogicalStream {
  readonly #client: pg.Client;
  readonly #command: ReplicationCommand;
  readonly #options: LogicalStreamOptions;
  readonly #logger: Logger;
  readonly #decoder = new TransactionDecoder();
  /** Everything up to here is durable on our side (acknowledged as flushed). */
  #confirmed = 0n;
  /** The last WAL position the server said it sent (keepalives): safe to confirm when nothing is pending. */
  #serverEnd = 0n;
  /** Transactions handed to onTransaction and not yet confirmed. */
  #pending = 0;
  #statusTimer: NodeJS.Timeout;
  #statusSentAt = Number.NEGATIVE_INFINITY;
  #ended = false;

  private constructor(client: pg.Client, options: LogicalStreamOptions, startLsn: bigint) {
    this.#client = client;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#confirmed = startLsn;
    const text =
      `START_REPLICATION SLOT ${quoteIdent(options.slot)} LOGICAL ${formatLsn(startLsn)} ` +
      `(proto_version '1', publication_names ${quoteLiteral(LOGICAL_PUBLICATION)}, messages 'true')`;
    this.#command = new ReplicationCommand(
      text,
      (chunk) => this.#receive(chunk),
      (error) => this.#end(error ?? new Error('replication stream ended by the server')),
    );
    client.on('error', (error) => this.#end(error));
    client.on('end', () => this.#end(new Error('replication connection closed')));
    // A submittable: pg hands it the connection and returns it (no promise); @types/pg's Connection lacks
    // sendCopyFromChunk, hence the cast.
    client.query(this.#command as unknown as pg.Submittable);
    const interval = options.statusIntervalMs ?? 10_000;
    this.#statusTimer = setInterval(() => this.#sendStatus(true), interval);
    this.#statusTimer.unref();
  }

  /**
   * Opens a walsender session and starts streaming the slot from `startLsn` (the server starts at the slot's
   * confirmed position when that is later).
   */
  static async open(db: Database, startLsn: bigint, options: LogicalStreamOptions): Promise<LogicalStream> {
    const client = await db.connectDedicated({
      applicationName: options.applicationName ?? 'pgrt-pump-stream',
      replication: true,
    });
    const settings = Object.entries(options.settings ?? {});
    if (settings.length > 0) {
      try {
        // A walsender takes simple queries only: no parameters.
        await client.query(
          `SELECT ${settings.map(([name, value]) => `set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`).join(', ')}`,
        );
      } catch (error) {
        await client.end().catch(() => {});
        throw error;
      }
    }
    return new LogicalStream(client, options, startLsn);
  }

  /** Transactions decoded and not yet confirmed. */
  get pending(): number {
    return this.#pending;
  }

  /** Stops reading the socket (the server waits): the pump's queue is full. */
  pause(): void {
    this.#socket().pause();
  }

  /** Reads the socket again after {@link pause}. */
  resume(): void {
    this.#socket().resume();
  }

  /**
   * Reports every transaction that committed up to `endLsn` as durable (appended to the outbox): the server may
   * recycle that WAL and will not send those transactions again.
   */
  confirm(endLsn: bigint, transactions: number): void {
    this.#pending -= transactions;
    if (endLsn > this.#confirmed) this.#confirmed = endLsn;
    this.#sendStatus();
  }

  /** Stops streaming and closes the connection (idempotent); the last confirmed position is reported first. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#sendStatus(true);
    this.#ended = true;
    clearInterval(this.#statusTimer);
    this.#client.removeAllListeners('error');
    this.#client.on('error', () => {});
    await this.#client.end().catch(() => {});
  }

  #socket(): ReplicationSocket {
    return (this.#client as unknown as { connection: { stream: ReplicationSocket } }).connection.stream;
  }

  #end(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#statusTimer);
    this.#client.removeAllListeners('error');
    this.#client.on('error', () => {});
    this.#client.end().catch(() => {});
    this.#options.onEnd(error);
  }

  #receive(chunk: Buffer): void {
    if (this.#ended) return;
    try {
      const kind = chunk[0];
      if (kind === 0x77) {
        // 'w' XLogData: start LSN, server WAL end, send time, then one pgoutput message.
        const transaction = this.#decoder.decode(chunk, 25);
        if (transaction) {
          this.#pending++;
          this.#options.onTransaction(transaction);
        }
      } else if (kind === 0x6b) {
        // 'k' keepalive: server WAL end, send time, reply requested.
        const serverEnd = chunk.readBigUInt64BE(1);
        if (serverEnd > this.#serverEnd) this.#serverEnd = serverEnd;
        // The walsender sends one whenever it waits while our reported position is behind what it sent (about
        // once per commit under load): answering each would be a write per commit, so only a requested reply
        // (byte 17) is immediate; otherwise the throttled status carries our position.
        this.#sendStatus(chunk[17] === 1);
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'logical decoding message not understood; restarting the stream');
      this.#end(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Standby status update: written = flushed = applied = the confirmed position (or the server's end when idle). At
   * most one per {@link STATUS_MIN_INTERVAL_MS} unless `force`: the position only decides how much WAL the slot
   * keeps, and what the pump appended is skipped if re-sent.
   */
  #sendStatus(force = false): void {
    const connection = this.#command.connection;
    if (this.#ended || !connection) return;
    const now = performance.now();
    if (!force && now - this.#statusSentAt < STATUS_MIN_INTERVAL_MS) return;
    this.#statusSentAt = now;
    if (this.#pending === 0 && !this.#decoder.inTransaction && this.#serverEnd > this.#confirmed) {
      // Nothing decoded is waiting: everything the server sent so far is ours (transactions that touched no
      // captured table are skipped by pgoutput), so the slot need not keep it.
      this.#confirmed = this.#serverEnd;
    }
    const status = Buffer.alloc(34);
    status[0] = 0x72; // 'r'
    status.writeBigUInt64BE(this.#confirmed, 1);
    status.writeBigUInt64BE(this.#confirmed, 9);
    status.writeBigUInt64BE(this.#confirmed, 17);
    status.writeBigUInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_US, 25);
    // Byte 33 (ask the server to reply) stays 0: the server's keepalives ask us, not the other way round.
    connection.sendCopyFromChunk(status);
  }
}
