/**
 * The publishing side of the NATS change bus: runs inside the elected pump (core/capture/outbox-pump.ts, as its
 * {@link PumpRelay}) and moves the rows the pump has passed (`id <= pumped_through`, so every one is final and in
 * commit order per row) from `pgrt.outbox` to the JetStream stream, one message per payload, on the subject of its
 * table or its channel's control subject (nats-stream.ts). Both capture modes that fill the outbox (`outbox`,
 * `logical`) are relayed alike: the outbox is the order, the stream is the transport.
 *
 * Position. The relay keeps no state in PostgreSQL: the stream is the truth. On taking over (and after any failed
 * publish) it reads the stream's last message and continues after its position; with an empty stream (new, or every
 * message past the stream's retention) it starts after `deleted_through`, i.e. relays every row the outbox still
 * holds (none was relayed: the pump's retention never deletes a row the relay has not published, and the stream keeps
 * messages longer than the outbox keeps rows). Each publish expects the previous message as the stream's last one and
 * carries its position as `Nats-Msg-Id`: a relay that failed half-way, or a deposed one, can neither reorder nor
 * duplicate the stream.
 *
 * Failures (NATS down, a rejected publish) are logged and retried after a delay; they never fail the pump's step: the
 * pump keeps moving the outbox, the rows wait (retention keeps them), and consumers resume from the stream once
 * NATS is back. After `close()` nothing is published.
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import type { PassedRow, PassedRows, PumpRelay, PumpStep } from '../../capture/pump-source.js';
import { type Logger, silentLogger } from '../../logger.js';
import { rowPayloads } from '../payloads.js';
import {
  chunk,
  controlSubject,
  DEFAULT_NATS_STREAM,
  DEFAULT_NATS_URL,
  ensureStream,
  tableSubject,
} from './nats-stream.js';

/** Options of {@link NatsRelay}. */
export interface NatsRelayOptions {
  /** NATS server URL(s), comma-separated (default `nats://127.0.0.1:4222`). */
  readonly url?: string;
  /** Stream name and subject prefix (default `pgrt`): one per database. */
  readonly stream?: string;
  /** Stream retention when the relay creates it, in ms (default 1 h). */
  readonly retentionMs?: number;
  /** Outbox rows read per step (default 1000). */
  readonly batchRows?: number;
  /** Delay before retrying after a failure, in ms (default 500). */
  readonly retryMs?: number;
  readonly logger?: Logger;
}

type Payload = Record<string, unknown>;

/** How long a publish waits for the stream's acknowledgement, in ms (then the batch is retried from the stream). */
const PUBLISH_TIMEOUT_MS = 2000;

/** Batches published and not yet acknowledged, at most. */
const MAX_INFLIGHT = 4;

/** Where the relay continues: the last position published and, per subject, the last position on it. */
interface Cursor {
  /** Acknowledged by the stream through here. */
  position: number;
  /** Published (acknowledged or not) through here. */
  sent: number;
  /** The stream's last message id (its position) when known: the next publish expects it. */
  lastMsgId: string | undefined;
  /** Per subject: the position of its last message. */
  readonly last: Map<string, number>;
  /** Per channel: table → the position of its last change (a fence's `w`). */
  readonly tables: Map<string, Map<string, number>>;
  /** The stream ends with chunk `index` of message `p` (a relay stopped within it): continue after that chunk. */
  partial?: { readonly p: number; readonly index: number } | undefined;
}

/** The JetStream relay of one pump. */
export class NatsRelay implements PumpRelay {
  readonly #url: string;
  readonly #stream: string;
  readonly #retentionMs: number | undefined;
  readonly #batchRows: number;
  readonly #retryMs: number;
  readonly #logger: Logger;
  #nc: NatsConnection | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #cursor: Cursor | undefined;
  /** Rows may be waiting (a full batch, a failure, a takeover): step even if the pump moved nothing. */
  #pending = true;
  #retryAt = 0;
  #failures = 0;
  #closed = false;
  #published = 0;
  #reads = 0;
  #chunked = 0;
  /** Batches published and not yet acknowledged, oldest first. */
  #inflight: Promise<void>[] = [];
  /** Why an in-flight batch failed (the next step starts over from the stream). */
  #failure: unknown;

  constructor(options: NatsRelayOptions = {}) {
    this.#url = options.url ?? DEFAULT_NATS_URL;
    this.#stream = options.stream ?? DEFAULT_NATS_STREAM;
    this.#retentionMs = options.retentionMs;
    this.#batchRows = options.batchRows ?? 1000;
    this.#retryMs = options.retryMs ?? 500;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'nats-relay' });
  }

  /** The last position published (undefined until known): the pump's retention deletes nothing past it. */
  get relayedThrough(): number | undefined {
    return this.#cursor?.position;
  }

  /** Messages published (diagnostics, tests). */
  get published(): number {
    return this.#published;
  }

  /** Outbox reads of its own (catching up); the rows of the pump's steps need none (diagnostics, tests). */
  get reads(): number {
    return this.#reads;
  }

  /** Payloads too big for one message, published in chunks (diagnostics, tests). */
  get chunked(): number {
    return this.#chunked;
  }

  async lead(): Promise<void> {
    this.#cursor = undefined;
    this.#pending = true;
    this.#retryAt = 0;
  }

  async step(client: pg.Client, step: PumpStep): Promise<boolean> {
    const passed = step.passed;
    const moved = step.sent > 0 || (passed !== undefined && passed.through > passed.after);
    if (this.#closed || (!moved && !this.#pending) || performance.now() < this.#retryAt) return false;
    try {
      if (this.#failure !== undefined) {
        const failure = this.#failure;
        await Promise.allSettled(this.#inflight);
        this.#failure = undefined;
        throw failure;
      }
      const more = await this.#relay(client, passed);
      this.#pending = more;
      if (this.#failures > 0)
        this.#logger.info({ position: this.#cursor?.position }, 'relaying to NATS again');
      this.#failures = 0;
      return more;
    } catch (error) {
      if (this.#closed) return false;
      this.#failures++;
      this.#pending = true;
      this.#cursor = undefined; // re-read the stream's end before the next publish
      this.#retryAt = performance.now() + this.#retryMs;
      if (this.#failures === 1 || this.#failures % 20 === 0)
        this.#logger.warn({ err: error, failures: this.#failures }, 'relaying to NATS failed; retrying');
      return false;
    }
  }

  async stop(): Promise<void> {
    this.#cursor = undefined;
    this.#pending = true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#inflight);
    const nc = this.#nc ?? (await this.#connecting?.catch(() => undefined));
    this.#nc = undefined;
    await nc?.close().catch(() => {});
  }

  async #connection(): Promise<NatsConnection> {
    if (this.#nc && !this.#nc.isClosed()) return this.#nc;
    this.#connecting ??= connect({
      servers: this.#url.split(','),
      name: 'pgrt-relay',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }).finally(() => {
      this.#connecting = undefined;
    });
    const nc = await this.#connecting;
    if (this.#closed) {
      await nc.close().catch(() => {});
      throw new Error('NatsRelay is closed');
    }
    this.#nc = nc;
    this.#js = jetstream(nc);
    this.#jsm = await jetstreamManager(nc);
    return nc;
  }

  /**
   * Publishes one batch without waiting for its acknowledgements (the pump's next step need not wait for NATS; at
   * most {@link MAX_INFLIGHT} batches are in flight); resolves whether rows remain past it. The batch is the rows the
   * pump's step passed when they follow what was published (the common case: no read of its own), else rows read
   * from the outbox after the cursor (a takeover, a failure: catching up). A failed batch is seen by the next step,
   * which re-reads the stream's end (the expectation chain makes every later publish fail too, so nothing is stored
   * out of order).
   */
  async #relay(client: pg.Client, passed: PassedRows | undefined): Promise<boolean> {
    await this.#connection();
    // A new cursor reads the stream's end: what an earlier cursor still has in flight must be there (or not) first.
    if (!this.#cursor) await Promise.allSettled(this.#inflight);
    const cursor = this.#cursor ?? (await this.#seek(client));
    this.#cursor = cursor;
    while (this.#inflight.length >= MAX_INFLIGHT) await this.#inflight[0];
    const batch =
      passed !== undefined && cursor.sent >= passed.after
        ? { rows: passed.rows, through: passed.through, more: false }
        : await this.#read(client, cursor.sent);
    if (batch.rows.length === 0) {
      if (batch.through > cursor.sent && this.#inflight.length === 0) {
        // Ids of transactions that never committed: nothing to publish, nothing to wait for.
        cursor.sent = batch.through;
        cursor.position = Math.max(cursor.position, batch.through);
      }
      return batch.more;
    }
    const js = this.#js!;
    const acks: Promise<unknown>[] = [];
    let through = cursor.sent;
    for (const row of batch.rows) {
      const id = row.id;
      const fast = id > through ? fastChange(row.payload) : undefined;
      const payloads = fast ? [{ p: id, t: fast }] : (rowPayloads({ id, payload: row.payload }) ?? []);
      for (const payload of payloads) {
        const p = payload.p;
        if (typeof p !== 'number' || p <= through) continue;
        const { subject, body } = fast
          ? this.#changeMessage(cursor, row.channel, fast, p, row.payload)
          : this.#message(cursor, row.channel, payload, p);
        for (const [index, part] of this.#parts(p, body).entries()) {
          // A predecessor stopped half-way through this message's chunks: the stream has these already.
          if (cursor.partial?.p === p && index <= cursor.partial.index) continue;
          const expect = cursor.lastMsgId === undefined ? {} : { expect: { lastMsgID: cursor.lastMsgId } };
          acks.push(
            js.publish(subject, part.body, { msgID: part.id, timeout: PUBLISH_TIMEOUT_MS, ...expect }),
          );
          cursor.lastMsgId = part.id;
        }
        through = p;
      }
      through = Math.max(through, id);
    }
    through = Math.max(through, batch.through);
    cursor.sent = through;
    const published = Promise.allSettled(acks).then((settled) => {
      this.#inflight = this.#inflight.filter((b) => b !== published);
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) this.#failure ??= (failed as PromiseRejectedResult).reason ?? new Error('publish failed');
      else if (this.#cursor === cursor) {
        cursor.position = Math.max(cursor.position, through);
        this.#published += acks.length;
      }
    });
    this.#inflight.push(published);
    return batch.more;
  }

  /** Reads up to `batchRows` outbox rows past `after`, up to the pump's position, and that position (one snapshot). */
  async #read(
    client: pg.Client,
    after: number,
  ): Promise<{ rows: PassedRow[]; through: number; more: boolean }> {
    this.#reads++;
    const result = await client.query<{
      pumped: string;
      id: string | null;
      channel: string;
      payload: string;
    }>(
      `SELECT s.pumped_through AS pumped, o.id, o.channel, o.payload FROM pgrt.outbox_state s
         LEFT JOIN LATERAL (SELECT id, channel, payload FROM pgrt.outbox
                             WHERE id > $1 AND id <= s.pumped_through ORDER BY id LIMIT $2) o ON true
        ORDER BY o.id`,
      [after, this.#batchRows],
    );
    const rows: PassedRow[] = [];
    for (const row of result.rows) {
      if (row.id !== null) rows.push({ id: Number(row.id), channel: row.channel, payload: row.payload });
    }
    const more = rows.length >= this.#batchRows;
    const pumped = Number(result.rows[0]?.pumped ?? after);
    return { rows, through: more ? rows.at(-1)!.id : pumped, more };
  }

  /**
   * The messages of one body: itself when it fits NATS's `max_payload`, else {@link chunk} messages of its text
   * (consumers put them together: a big row is delivered like any other, not resynced).
   */
  #parts(p: number, body: string): Array<{ id: string; body: string }> {
    const max = this.#nc?.info?.max_payload ?? 1024 * 1024;
    if (body.length * 3 <= max - 512 || Buffer.byteLength(body) <= max - 512)
      return [{ id: String(p), body }];
    const parts = chunk(p, body, max);
    this.#chunked++;
    return parts;
  }

  /**
   * The subject and body of one table change given as its outbox text (the common case: no parse, the position and
   * predecessor go in front of the payload's own fields); updates the cursor's per-subject positions.
   */
  #changeMessage(
    cursor: Cursor,
    channel: string,
    table: string,
    p: number,
    text: string,
  ): { subject: string; body: string } {
    const subject = tableSubject(this.#stream, channel, table);
    const q = cursor.last.get(subject);
    cursor.last.set(subject, p);
    tablesOf(cursor, channel).set(table, p);
    return { subject, body: `{"p":${p},${q === undefined ? '' : `"q":${q},`}${text.slice(1)}` };
  }

  /** The subject and body of one payload; updates the cursor's per-subject positions. */
  #message(cursor: Cursor, channel: string, payload: Payload, p: number): { subject: string; body: string } {
    const table = typeof payload.t === 'string' ? payload.t : undefined;
    const subject =
      table === undefined
        ? controlSubject(this.#stream, channel)
        : tableSubject(this.#stream, channel, table);
    const q = cursor.last.get(subject);
    cursor.last.set(subject, p);
    const tables = tablesOf(cursor, channel);
    const message: Payload = { ...payload, ...(q === undefined ? {} : { q }) };
    if (table !== undefined) tables.set(table, p);
    else if (typeof payload.f === 'string') message.w = Object.fromEntries(tables);
    return { subject, body: JSON.stringify(message) };
  }

  /** Where to continue: after the stream's last message, or (empty stream) after the outbox's retention horizon. */
  async #seek(client: pg.Client): Promise<Cursor> {
    const jsm = this.#jsm!;
    await ensureStream(jsm, this.#stream, this.#retentionMs);
    const info = await jsm.streams.info(this.#stream, { subjects_filter: `${this.#stream}.>` });
    const cursor: Cursor = { position: 0, sent: 0, lastMsgId: undefined, last: new Map(), tables: new Map() };
    if (info.state.messages > 0) {
      const last = await jsm.streams.getMessage(this.#stream, { seq: info.state.last_seq });
      const end = last ? messageEnd(last.data) : undefined;
      if (end !== undefined) {
        const lastP = end.complete ? end.p : end.p - 1;
        cursor.position = lastP;
        cursor.sent = lastP;
        cursor.lastMsgId = end.id;
        if (!end.complete) cursor.partial = { p: end.p, index: end.index };
        for (const subject of Object.keys(info.state.subjects ?? {})) {
          const message = await jsm.streams.getMessage(this.#stream, { last_by_subj: subject });
          const text = message ? new TextDecoder().decode(message.data) : undefined;
          const parsed = text ? (JSON.parse(text) as Payload) : undefined;
          // A chunk carries no `t`: the predecessors of its subject's next message stay unknown (no `q`).
          if (typeof parsed?.p !== 'number' || parsed.chunk !== undefined) continue;
          cursor.last.set(subject, parsed.p);
          if (typeof parsed.t === 'string') {
            tablesOf(cursor, subject.split('.')[1] ?? '').set(parsed.t, parsed.p);
          }
        }
        this.#logger.info(
          { position: lastP, subjects: cursor.last.size },
          'relay continues after the stream',
        );
        return cursor;
      }
    }
    const state = await client.query<{ deleted: string }>(
      'SELECT deleted_through AS deleted FROM pgrt.outbox_state',
    );
    cursor.position = Number(state.rows[0]?.deleted ?? 0);
    cursor.sent = cursor.position;
    this.#logger.info({ position: cursor.position }, 'stream empty: relaying every row the outbox holds');
    return cursor;
  }
}

/** `{"t":"<table>",…`: an outbox row of one table change (the triggers' payload); its table, unless escaped. */
const CHANGE_PREFIX = /^\{"t":"([^"\\]*)",/;

/** The table of an outbox row that holds one table change (not an array, no escapes in the name), else undefined. */
function fastChange(text: string): string | undefined {
  return CHANGE_PREFIX.exec(text)?.[1];
}

/** The table → position map of `channel` in `cursor`. */
function tablesOf(cursor: Cursor, channel: string): Map<string, number> {
  let tables = cursor.tables.get(channel);
  if (!tables) {
    tables = new Map();
    cursor.tables.set(channel, tables);
  }
  return tables;
}

/**
 * Where a stored message leaves the stream: its position, its `Nats-Msg-Id`, and whether it ends its message (a chunk
 * before the last does not: {@link chunk}). Undefined when it is not a message of this stream's format.
 */
function messageEnd(
  data: Uint8Array,
): { p: number; id: string; complete: boolean; index: number } | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as Payload;
    if (typeof value.p !== 'number') return undefined;
    const { chunk, chunks } = value;
    if (typeof chunk !== 'number' || typeof chunks !== 'number' || chunk === chunks - 1)
      return { p: value.p, id: String(value.p), complete: true, index: 0 };
    return { p: value.p, id: `${value.p}.${chunk}`, complete: false, index: chunk };
  } catch {
    return undefined;
  }
}
