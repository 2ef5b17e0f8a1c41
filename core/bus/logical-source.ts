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
 * - {@link logicalAppendQuery}: one SQL statement that turns a batch of transactions into the same payloads the
 *   triggers write (column text → the type's input function → `to_jsonb`, exact numbers via `pgrt.exact`) and hands
 *   them to `pgrt.logical_append`, which appends, notifies and records the batch's last commit LSN atomically.
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
import { decodePgoutput, formatLsn, type RelationColumn, type TupleValues } from './pgoutput.js';

/** Prefix of pgrt's logical decoding messages (`pgrt.logical_emit`): content is `channel \n payload`. */
export const MESSAGE_PREFIX = 'pgrt';

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
    return new LogicalStream(client, options, startLsn);
  }

  /** Transactions decoded and not yet confirmed. */
  get pending(): number {
    return this.#pending;
  }

  /** Stops reading the socket (the server waits): the pump's queue is full. */
  pause(): void {
    (this.#client as unknown as { connection: { stream: { pause(): void } } }).connection.stream.pause();
  }

  /** Reads the socket again after {@link pause}. */
  resume(): void {
    (this.#client as unknown as { connection: { stream: { resume(): void } } }).connection.stream.resume();
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
        this.#message(chunk.subarray(25));
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

  #message(data: Buffer): void {
    const message = decodePgoutput(data);
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
        this.#push({
          kind: 'row',
          op: 'i',
          relation: this.#relation(message.relation),
          values: message.values,
          old: undefined,
        });
        return;
      case 'update':
        this.#push({
          kind: 'row',
          op: 'u',
          relation: this.#relation(message.relation),
          values: message.values,
          old: message.old,
        });
        return;
      case 'delete':
        this.#push({
          kind: 'row',
          op: 'd',
          relation: this.#relation(message.relation),
          values: message.old,
          old: undefined,
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
  /** Payloads it appends. */
  readonly count: number;
}

/** JSON (114) and jsonb (3802) values are JSON already: they go into the record's JSON as themselves. */
const JSON_TYPES = new Set([114, 3802]);

/**
 * int8 (20) and numeric (1700): their text is already the exact decimal `pgrt.exact` would put in the row JSON, so
 * the pump patches them in from the WAL text instead of calling it. Other exact columns (money: converted through
 * numeric) still go through `pgrt.exact`.
 */
const EXACT_TYPES = new Set([20, 1700]);

/** One table's rows in a batch: `[position, toast, {column: text}]` JSON texts. */
interface TableRows {
  readonly relation: StreamRelation;
  readonly captured: CapturedTable;
  readonly rows: string[];
}

/**
 * One statement appending `transactions` (in order) through `pgrt.logical_append`, or undefined when none of them
 * holds a change of a captured table (then only the position needs acknowledging). Changes of tables missing from
 * `tables` are skipped. The batch travels as JSON text parameters (serialised natively, parsed once by the
 * server), not as arrays, whose element-by-element escaping in `pg` cost more than the rest of the step.
 */
export function logicalAppendQuery(
  transactions: readonly DecodedTransaction[],
  tables: ReadonlyMap<string, CapturedTable>,
  threshold: number,
): AppendQuery | undefined {
  // Per payload: [channel, head, payload, key column, has a row]. head null: payload is the whole payload;
  // otherwise the payload is head || key JSON || payload (the tail) || ',"r":' || row JSON (if any) || '}'.
  const changes: string[] = [];
  const groups = new Map<string, TableRows>();
  const literal = (channel: string, payload: string): void => {
    changes.push(JSON.stringify([channel, null, payload, null, false]));
  };
  const row = (
    relation: StreamRelation,
    captured: CapturedTable,
    op: 'i' | 'u' | 'd',
    values: TupleValues,
    tail: string,
  ): void => {
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
    group.rows.push(`[${changes.length + 1},${toast && op !== 'd'},${json}},${exact}}]`);
    const head = `{"t":${JSON.stringify(relation.table)},"o":"${op}","k":`;
    changes.push(JSON.stringify([captured.channel, head, tail, captured.key, op !== 'd']));
  };
  for (const transaction of transactions) {
    const tail = `,"x":"${transaction.xid}"`;
    for (const change of transaction.changes) {
      if (change.kind === 'message') {
        literal(change.channel, change.payload);
        continue;
      }
      if (change.kind === 'truncate') {
        for (const relation of change.relations) {
          const captured = tables.get(relation.table);
          if (captured) literal(captured.channel, `{"t":${JSON.stringify(relation.table)},"o":"t"${tail}}`);
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
  if (changes.length === 0) return undefined;
  const values: unknown[] = [null, threshold, `[${changes.join(',')}]`];
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
  const rows =
    parts.length > 0 ? parts.join(' UNION ALL ') : 'SELECT NULL::int8 AS i, NULL::jsonb AS r WHERE false';
  const text =
    'WITH c AS (SELECT e.i, e.x ->> 0 AS channel, e.x ->> 1 AS head, e.x ->> 2 AS payload, e.x ->> 3 AS keycol, ' +
    '(e.x ->> 4)::bool AS body FROM json_array_elements($3::json) WITH ORDINALITY AS e(x, i)), ' +
    `d AS (${rows}), ` +
    "o AS (SELECT c.i, c.channel, CASE WHEN c.head IS NULL THEN c.payload ELSE c.head || (d.r -> c.keycol)::text || c.payload || CASE WHEN c.body THEN ',\"r\":' || d.r::text ELSE '' END || '}' END AS payload " +
    'FROM c LEFT JOIN d ON d.i = c.i) ' +
    'SELECT pgrt.logical_append($1::pg_lsn, $2::int, ARRAY(SELECT channel FROM o ORDER BY i), ' +
    'ARRAY(SELECT payload FROM o ORDER BY i)) AS appended';
  return { text, values, count: changes.length };
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
