/**
 * The `logical` capture mode's source (DESIGN.md decision 4, docs/reference.md "Capture modes"): instead of
 * triggers appending to `pgrt.outbox` in every writer's transaction, the elected pump (outbox-pump.ts) streams the
 * WAL of the captured tables through a logical replication slot (`pgoutput`, publication `pgrt_capture`) and
 * appends what it decodes to the same outbox, so listeners, replay and retention are those of the outbox mode and
 * writers pay nothing beyond `wal_level=logical`.
 *
 * - {@link LogicalStream}: one walsender session (`replication: 'database'`) running START_REPLICATION; it
 *   assembles pgoutput messages (pgoutput.ts) into committed transactions, in commit order, and reports back the
 *   position the pump has made durable (standby status updates), so the slot keeps exactly the WAL not yet
 *   appended.
 * - {@link logicalAppendQuery}: one SQL statement that appends a batch of transactions as the same payloads the
 *   triggers write, built in Node from the WAL text where column-json.ts knows every column's type, else in SQL
 *   (column text → the type's input function → `to_jsonb`, exact numbers via `pgrt.exact`), gathered into
 *   notifications of several changes; `pgrt.logical_append` appends them (one outbox row per notification), notifies
 *   them and records the batch's last commit LSN atomically. Building every payload in SQL was most of the pump
 *   backend's CPU (bench/ingest.ts, logical: ~54 µs per row with it, ~8 without).
 *
 * Exactly once: the pump acknowledges a commit LSN only after `pgrt.logical_append` committed it, and the function
 * ignores a batch whose LSN is not past `decoded_through`; a stream restarted after a crash re-sends from the
 * slot's confirmed position and what was already appended is skipped (`skipThrough`).
 *
 * Differences from the triggers, documented: an UPDATE that changes nothing is still delivered (the merge box
 * finds no difference); an UPDATE that leaves a TOASTed (large, out-of-line) value unchanged does not carry it in
 * the WAL, and the pump fills it from the row as it is when the batch is appended (a later committed change of that
 * value may show early; the change that made it arrives next, so clients converge all the same).
 */
import type pg from 'pg';
import type { Database } from '../database/database.js';
import { quoteIdent, quoteLiteral, quoteTable } from '../database/row-codec.js';
import { LOGICAL_PUBLICATION } from '../database/schema.js';
import { type Logger, silentLogger } from '../logger.js';
import { type ColumnFormat, columnFormat, jsonbKeyOrder } from './column-json.js';
import { decodePgoutput, formatLsn, type RelationColumn, type TupleValues } from './pgoutput.js';

/** Prefix of pgrt's logical decoding messages (`pgrt.logical_emit`): content is `channel \n payload`. */
export const MESSAGE_PREFIX = 'pgrt';

/** The payload op of each row message. */
const ROW_OPS = { insert: 'i', update: 'u', delete: 'd' } as const;

/** Least time between two unforced standby status updates, in ms. */
const STATUS_MIN_INTERVAL_MS = 100;

/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
const PG_EPOCH_US = 946_684_800_000_000n;

/** A relation as the stream last described it. */
export interface StreamRelation {
  readonly oid: number;
  /** `schema.table`, as payloads name tables. */
  readonly table: string;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly RelationColumn[];
}

/** One change of a decoded transaction. */
export type DecodedChange =
  | {
      readonly kind: 'row';
      readonly op: 'i' | 'u' | 'd';
      readonly relation: StreamRelation;
      /** The new row (insert, update) or the old key / old row (delete). */
      readonly values: TupleValues;
      /** Update: the old key ('K') or old row ('O') when the server sent one (the key changed, or REPLICA IDENTITY FULL). */
      readonly old: TupleValues | undefined;
    }
  | { readonly kind: 'truncate'; readonly relations: readonly StreamRelation[] }
  | { readonly kind: 'message'; readonly channel: string; readonly payload: string };

/** A committed transaction, as decoded. */
export interface DecodedTransaction {
  readonly xid: number;
  /** End of its commit record: acknowledging it releases the WAL up to here. */
  readonly endLsn: bigint;
  readonly changes: readonly DecodedChange[];
}

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
  readonly #relations = new Map<number, StreamRelation>();
  #current: { xid: number; changes: DecodedChange[] } | undefined;
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
    client.query(this.#command as unknown as pg.QueryConfig);
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
        this.#message(chunk, 25);
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

  #message(data: Buffer, offset: number): void {
    const message = decodePgoutput(data, offset);
    switch (message.tag) {
      case 'begin':
        this.#current = { xid: message.xid, changes: [] };
        return;
      case 'relation':
        this.#relations.set(message.oid, {
          oid: message.oid,
          table: `${message.schema}.${message.name}`,
          schema: message.schema,
          name: message.name,
          columns: message.columns,
        });
        return;
      case 'insert':
      case 'update':
      case 'delete':
        this.#push({
          kind: 'row',
          op: ROW_OPS[message.tag],
          relation: this.#relation(message.relation),
          // A delete carries the old key (or old row) only.
          values: message.tag === 'delete' ? message.old : message.values,
          old: message.tag === 'update' ? message.old : undefined,
        });
        return;
      case 'truncate':
        this.#push({ kind: 'truncate', relations: message.relations.map((oid) => this.#relation(oid)) });
        return;
      case 'message': {
        if (message.prefix !== MESSAGE_PREFIX || !message.transactional) return;
        const text = message.content.toString('utf8');
        const newline = text.indexOf('\n');
        if (newline < 0) return;
        this.#push({ kind: 'message', channel: text.slice(0, newline), payload: text.slice(newline + 1) });
        return;
      }
      case 'commit': {
        const current = this.#current;
        this.#current = undefined;
        if (!current) return;
        this.#pending++;
        this.#options.onTransaction({ xid: current.xid, endLsn: message.endLsn, changes: current.changes });
        return;
      }
      default:
        return;
    }
  }

  #push(change: DecodedChange): void {
    if (!this.#current) throw new Error('pgoutput: change outside a transaction');
    this.#current.changes.push(change);
  }

  #relation(oid: number): StreamRelation {
    const relation = this.#relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change of relation ${oid} before its description`);
    return relation;
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
    if (this.#pending === 0 && this.#current === undefined && this.#serverEnd > this.#confirmed) {
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

/** What the pump knows of a captured table (`pgrt.logical_tables`). */
export interface CapturedTable {
  readonly channel: string;
  readonly key: string;
  readonly exact: readonly string[];
}

/** The SQL and parameters of one {@link logicalAppendQuery}. */
export interface AppendQuery {
  readonly text: string;
  readonly values: unknown[];
  /** Payloads (changes) it appends. */
  readonly count: number;
  /** Notifications it sends: payloads are gathered into notifications of at most `threshold` bytes. */
  readonly notifications: number;
  /** Set when `text` is the same for every batch like it: run it as this prepared statement (parsed once). */
  readonly name?: string;
}

/** JSON (114) and jsonb (3802) values are JSON already: they go into the record's JSON as themselves. */
const JSON_TYPES = new Set([114, 3802]);

/**
 * int8 (20) and numeric (1700): their text is already the exact decimal `pgrt.exact` would put in the row JSON, so
 * the pump patches them in from the WAL text instead of calling it. Other exact columns (money: converted through
 * numeric) still go through `pgrt.exact`.
 */
const EXACT_TYPES = new Set([20, 1700]);

/** Separates the payloads in the one text parameter that carries them: JSON text has no raw control characters. */
const SEPARATOR = '\u001e';

/**
 * What a payload adds to a notification of several (`[<element>,<element>]`): its `{` becomes `{"p":<id>,` (an id
 * has at most 19 digits), plus the `,` before the next element.
 */
const ELEMENT_BYTES = 5 + 19 + 1;

/** How rows of one relation become payloads in Node (the fast path, column-json.ts). */
interface RowPlan {
  readonly captured: CapturedTable;
  /** `"t":"<schema.table>","o":"` (payloads travel without their opening brace) */
  readonly head: string;
  readonly keyIndex: number;
  /** The key column's format; undefined: deletes (and key changes) of this table take the SQL path. */
  readonly keyFormat: ColumnFormat | undefined;
  /** Every column in jsonb key order with its `"name": ` prefix; undefined: inserts and updates take the SQL path. */
  readonly columns:
    | ReadonlyArray<{ readonly index: number; readonly prefix: string; readonly format: ColumnFormat }>
    | undefined;
}

const rowPlans = new WeakMap<StreamRelation, RowPlan>();

function rowPlan(relation: StreamRelation, captured: CapturedTable): RowPlan {
  const cached = rowPlans.get(relation);
  if (cached?.captured === captured) return cached;
  const formats = relation.columns.map((column) =>
    columnFormat(column.typeOid, EXACT_TYPES.has(column.typeOid) && captured.exact.includes(column.name)),
  );
  const keyIndex = relation.columns.findIndex((column) => column.name === captured.key);
  const complete = formats.every((format) => format !== undefined);
  const plan: RowPlan = {
    captured,
    head: `"t":${JSON.stringify(relation.table)},"o":"`,
    keyIndex,
    keyFormat: formats[keyIndex],
    columns: complete
      ? jsonbKeyOrder(relation.columns.map((column) => column.name)).map((index) => ({
          index,
          prefix: `${JSON.stringify(relation.columns[index]!.name)}: `,
          format: formats[index]!,
        }))
      : undefined,
  };
  rowPlans.set(relation, plan);
  return plan;
}

/** The row's JSON as `to_jsonb` (+ pgrt.exact) writes it, or undefined when it needs the SQL path. */
function rowJson(plan: RowPlan, values: TupleValues): string | undefined {
  if (!plan.columns) return undefined;
  let json = '{';
  for (const column of plan.columns) {
    const value = values[column.index];
    if (value === undefined) return undefined; // an unchanged TOASTed value: read from the table in SQL
    if (json.length > 1) json += ', ';
    json += column.prefix + (value === null ? 'null' : column.format(value));
  }
  return `${json}}`;
}

/** One table's rows in a batch that take the SQL path: `[position, toast, {column: text}, {exact}]` JSON texts. */
interface TableRows {
  readonly relation: StreamRelation;
  readonly captured: CapturedTable;
  readonly rows: string[];
}

/**
 * One statement appending `transactions` (in order) through `pgrt.logical_append`, or undefined when none of them
 * holds a change of a captured table (then only the position needs acknowledging). Changes of tables missing from
 * `tables` are skipped.
 *
 * Payloads are built in Node where column-json.ts knows every column's type (the common case; the statement then
 * only appends), else in SQL: column text → `jsonb_populate_record` (the type's input function) → `to_jsonb`
 * (+ exact columns). Node also gathers consecutive payloads of one channel into notifications of at most `threshold`
 * bytes (reckoning 19 digits per position); a payload built in SQL, or too big to share one, is notified alone. The
 * payloads travel without their opening brace as one text parameter (split in SQL at U+001E), the rest as small
 * arrays. Parameter `$1` (the batch's LSN) is left for the caller to set.
 */
export function logicalAppendQuery(
  transactions: readonly DecodedTransaction[],
  tables: ReadonlyMap<string, CapturedTable>,
  threshold: number,
): AppendQuery | undefined {
  // Per payload: its text without the opening '{' ('' when built in SQL) and its notification (1-based); per
  // notification: its channel.
  const payloads: string[] = [];
  const chunks: number[] = [];
  const channels: string[] = [];
  // The notification being filled: its channel and size, if another payload may still join it.
  let open: { channel: string; bytes: number } | undefined;
  // SQL path: per payload [position, head, tail, key column, has a row]; per table the rows to convert.
  const built: string[] = [];
  const groups = new Map<string, TableRows>();

  const push = (channel: string, body: string): void => {
    const bytes = 1 + Buffer.byteLength(body) + ELEMENT_BYTES;
    if (open && open.channel === channel && open.bytes + bytes <= threshold) {
      open.bytes += bytes;
    } else {
      channels.push(channel);
      // '[' + elements + ']': 1 + the elements' bytes (each counted with one ',').
      open = 1 + bytes <= threshold ? { channel, bytes: 1 + bytes } : undefined;
    }
    payloads.push(body);
    chunks.push(channels.length);
  };
  const pushSql = (
    relation: StreamRelation,
    captured: CapturedTable,
    op: 'i' | 'u' | 'd',
    values: TupleValues,
    tail: string,
  ): void => {
    channels.push(captured.channel);
    open = undefined;
    payloads.push('');
    chunks.push(channels.length);
    const position = payloads.length;
    let group = groups.get(relation.table);
    if (!group) {
      group = { relation, captured, rows: [] };
      groups.set(relation.table, group);
    }
    let json = '{';
    let exact = '{';
    let toast = false;
    relation.columns.forEach((column, index) => {
      const value = values[index];
      if (value === undefined) {
        toast = true;
        return;
      }
      const name = JSON.stringify(column.name);
      const text = value === null ? 'null' : JSON.stringify(value);
      if (json.length > 1) json += ',';
      json += `${name}:${value !== null && JSON_TYPES.has(column.typeOid) ? value : text}`;
      // bigint and numeric go out as their exact text (what pgrt.exact makes of to_jsonb's number), NULL as null.
      if (EXACT_TYPES.has(column.typeOid) && captured.exact.includes(column.name)) {
        if (exact.length > 1) exact += ',';
        exact += `${name}:${text}`;
      }
    });
    group.rows.push(`[${position},${toast && op !== 'd'},${json}},${exact}}]`);
    const head = `"t":${JSON.stringify(relation.table)},"o":"${op}","k":`;
    built.push(JSON.stringify([position, head, tail, captured.key, op !== 'd']));
  };
  const row = (
    relation: StreamRelation,
    captured: CapturedTable,
    op: 'i' | 'u' | 'd',
    values: TupleValues,
    tail: string,
  ): void => {
    const plan = rowPlan(relation, captured);
    const key = plan.keyFormat ? values[plan.keyIndex] : undefined;
    if (key !== undefined) {
      const k = key === null ? 'null' : plan.keyFormat!(key);
      if (op === 'd') {
        push(captured.channel, `${plan.head}d","k":${k}${tail}}`);
        return;
      }
      const json = rowJson(plan, values);
      if (json !== undefined) {
        push(captured.channel, `${plan.head}${op}","k":${k}${tail},"r":${json}}`);
        return;
      }
    }
    pushSql(relation, captured, op, values, tail);
  };

  for (const transaction of transactions) {
    const tail = `,"x":"${transaction.xid}"`;
    for (const change of transaction.changes) {
      if (change.kind === 'message') {
        // A payload is a JSON object, which never holds a raw U+001E; one that does is malformed anyway (listeners
        // skip it), but must not split.
        push(change.channel, change.payload.slice(1).replaceAll(SEPARATOR, '\\u001e'));
        continue;
      }
      if (change.kind === 'truncate') {
        for (const relation of change.relations) {
          const captured = tables.get(relation.table);
          if (captured) push(captured.channel, `"t":${JSON.stringify(relation.table)},"o":"t"${tail}}`);
        }
        continue;
      }
      const captured = tables.get(change.relation.table);
      if (!captured) continue;
      if (change.op === 'u' && change.old) {
        const keyIndex = change.relation.columns.findIndex((column) => column.name === captured.key);
        const oldKey = change.old[keyIndex];
        if (oldKey !== undefined && oldKey !== change.values[keyIndex]) {
          // The key changed: a delete of the old key, then an insert of the new row (as the triggers do).
          row(change.relation, captured, 'd', change.old, tail);
          row(change.relation, captured, 'i', change.values, tail);
          continue;
        }
      }
      row(change.relation, captured, change.op, change.values, tail);
    }
  }
  if (payloads.length === 0) return undefined;
  // Each payload preceded by the separator, so that one empty payload still makes one element ([2:] drops the first).
  const values: unknown[] = [
    null,
    threshold,
    channels,
    `{${chunks.join(',')}}`,
    SEPARATOR + payloads.join(SEPARATOR),
  ];
  const call = (list: string) =>
    `SELECT pgrt.logical_append($1::pg_lsn, $2::int, $3::text[], $4::int[], ${list}) AS appended`;
  const count = payloads.length;
  if (built.length === 0) {
    return {
      text: call('(string_to_array($5, chr(30)))[2:]'),
      values,
      count,
      notifications: channels.length,
      name: 'pgrt_logical_append',
    };
  }
  values.push(`[${built.join(',')}]`);
  const parts: string[] = [];
  for (const group of groups.values()) {
    const table = quoteTable(group.relation);
    const key = quoteIdent(group.captured.key);
    values.push(`[${group.rows.join(',')}]`);
    const v = '(u.x -> 2)::jsonb';
    const record =
      // ROW(cur.*): a bare `cur` would name a column called cur, if the table has one.
      `jsonb_populate_record(CASE WHEN (u.x ->> 1)::bool THEN (SELECT ROW(cur.*)::${table} FROM ${table} cur ` +
      `WHERE cur.${key} = (jsonb_populate_record(NULL::${table}, ${v})).${key}) END, ${v})`;
    const rest = group.captured.exact.filter(
      (name) => !EXACT_TYPES.has(group.relation.columns.find((column) => column.name === name)?.typeOid ?? 0),
    );
    const converted =
      rest.length > 0
        ? `pgrt.exact(to_jsonb(${record}), ${quoteLiteral(`{${rest.map((c) => JSON.stringify(c)).join(',')}}`)}::text[])`
        : `to_jsonb(${record})`;
    const json = `${converted} || (u.x -> 3)::jsonb`;
    parts.push(
      `SELECT (u.x ->> 0)::int8 AS i, ${json} AS r FROM json_array_elements($${values.length}::json) AS u(x)`,
    );
  }
  const text =
    'WITH s AS (SELECT (e.x ->> 0)::int8 AS i, e.x ->> 1 AS head, e.x ->> 2 AS tail, e.x ->> 3 AS keycol, ' +
    '(e.x ->> 4)::bool AS hasrow FROM json_array_elements($6::json) AS e(x)), ' +
    `d AS (${parts.join(' UNION ALL ')}) ` +
    call(
      'ARRAY(SELECT CASE WHEN s.i IS NULL THEN f.p ELSE s.head || (d.r -> s.keycol)::text || s.tail || ' +
        `CASE WHEN s.hasrow THEN ',"r":' || d.r::text ELSE '' END || '}' END ` +
        'FROM unnest((string_to_array($5, chr(30)))[2:]) WITH ORDINALITY AS f(p, i) ' +
        'LEFT JOIN s ON s.i = f.i LEFT JOIN d ON d.i = f.i ORDER BY f.i)',
    );
  return { text, values, count, notifications: channels.length };
}

/** The capture slot's name: one per database (slots are cluster-wide), `pgrt_<database oid>`. */
export async function logicalSlotName(db: Pick<Database, 'query'>): Promise<string> {
  const result = await db.query<{ slot: string }>(
    "SELECT 'pgrt_' || oid AS slot FROM pg_catalog.pg_database WHERE datname = current_database()",
  );
  const slot = result.rows[0]?.slot;
  if (!slot) throw new Error('cannot name the capture slot: current database not found');
  return slot;
}

/**
 * Checks that logical decoding is possible and creates the capture slot if it is missing. Creating it waits for
 * the transactions running at that moment to end. When a slot existed before (the outbox records a decoded
 * position) and is gone, changes may have been lost in between: listeners are told to resync.
 */
export async function ensureLogicalSlot(db: Database, logger: Logger = silentLogger): Promise<string> {
  const level = await db.query<{ wal_level: string }>('SHOW wal_level');
  if (level.rows[0]?.wal_level !== 'logical') {
    throw new Error(
      `capture 'logical' needs wal_level=logical (it is ${level.rows[0]?.wal_level}): ` +
        "ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL; or use capture 'outbox'",
    );
  }
  const slot = await logicalSlotName(db);
  const existing = await db.query<{ plugin: string; status: string | null }>(
    'SELECT plugin, wal_status AS status FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  const found = existing.rows[0];
  if (found?.status === 'lost') {
    // Invalidated (it retained more than max_slot_wal_keep_size): it can never stream again, and what it had not
    // delivered is gone. Replace it; listeners resync below, since the outbox records a decoded position.
    logger.error(
      { slot },
      'the logical capture slot was invalidated (max_slot_wal_keep_size); recreating it',
    );
    await db.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [slot]);
  } else if (found) {
    if (found.plugin !== 'pgoutput') {
      throw new Error(`replication slot ${slot} exists with plugin ${found.plugin}, not pgoutput`);
    }
    return slot;
  }
  try {
    await db.query("SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
  } catch (error) {
    if ((error as { code?: string }).code === '42710') return slot; // created by another process meanwhile
    throw error;
  }
  logger.info({ slot }, 'created the logical capture slot');
  const state = await db.query<{ decoded: string | null }>(
    'SELECT decoded_through::text AS decoded FROM pgrt.outbox_state',
  );
  if (state.rows[0]?.decoded != null) {
    logger.warn(
      { slot },
      'the logical capture slot was missing: changes may have been lost; listeners resync',
    );
    await db.query(
      `SELECT pgrt.logical_emit(channel, '{"resync":true}') FROM (SELECT DISTINCT channel FROM pgrt.logical_tables) c`,
    );
  }
  return slot;
}

/** Reads `pgrt.logical_tables`. */
export async function readCapturedTables(db: Pick<Database, 'query'>): Promise<Map<string, CapturedTable>> {
  const result = await db.query<{
    table_name: string;
    channel: string;
    key_column: string;
    exact_columns: string[];
  }>('SELECT table_name, channel, key_column, exact_columns FROM pgrt.logical_tables');
  return new Map(
    result.rows.map((row) => [
      row.table_name,
      { channel: row.channel, key: row.key_column, exact: row.exact_columns },
    ]),
  );
}
