/**
 * The `logical` capture mode's batch statement: {@link logicalAppendQuery} turns decoded transactions into ONE call of
 * `pgrt.logical_append` that appends them to the outbox as the same payloads the triggers write — built in Node from
 * the WAL text where column-json.ts knows every column's type, else in SQL (column text → the type's input function
 * → `to_jsonb`, exact numbers via `pgrt.exact`) — gathered into notifications of several changes, notifies them
 * and records the batch's last commit LSN atomically. Building every payload in SQL was most of the pump backend's
 * CPU (bench/ingest.ts, logical: ~54 µs per row with it, ~8 without).
 */
import { quoteIdent, quoteLiteral, quoteTable } from '../../database/row-codec.js';
import { type ColumnFormat, columnFormat, jsonbKeyOrder } from './column-json.js';
import type { DecodedTransaction, StreamRelation } from './decoder.js';
import type { TupleValues } from './pgoutput.js';

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

/**
 * One tuple for the SQL path, `[position, toast, {column: text}, {exact}]`: `toast` when it has unchanged TOASTed
 * values (and is the new row: they are then read from the table).
 */
function sqlRow(
  relation: StreamRelation,
  captured: CapturedTable,
  position: number,
  newRow: boolean,
  values: TupleValues,
): string {
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
  return `[${position},${toast && newRow},${json}},${exact}}]`;
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
 * arrays. Parameter `$1` (the batch's LSN) is left for the caller to set. `relayed` (the NATS bus): the statement
 * calls `pgrt.logical_step` without notifying and returns the rows it appended (ids, row_channels, payloads after
 * pumped_from) for the pump's relay.
 */
export function logicalAppendQuery(
  transactions: readonly DecodedTransaction[],
  tables: ReadonlyMap<string, CapturedTable>,
  threshold: number,
  relayed = false,
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
    old: TupleValues | undefined,
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
    group.rows.push(sqlRow(relation, captured, position, op !== 'd', values));
    // The old row (`b`) is converted under the negated position.
    if (old) group.rows.push(sqlRow(relation, captured, -position, false, old));
    const head = `"t":${JSON.stringify(relation.table)},"o":"${op}","k":`;
    built.push(JSON.stringify([position, head, tail, captured.key, op !== 'd', old !== undefined]));
  };
  /** One change's payload; `old`: the old row to carry as `b` (replica identity FULL). */
  const row = (
    relation: StreamRelation,
    captured: CapturedTable,
    op: 'i' | 'u' | 'd',
    values: TupleValues,
    tail: string,
    old: TupleValues | undefined,
  ): void => {
    const plan = rowPlan(relation, captured);
    const key = plan.keyFormat ? values[plan.keyIndex] : undefined;
    const oldJson = old ? rowJson(plan, old) : '';
    if (key !== undefined && oldJson !== undefined) {
      const k = key === null ? 'null' : plan.keyFormat!(key);
      const b = old ? `,"b":${oldJson}` : '';
      if (op === 'd') {
        push(captured.channel, `${plan.head}d","k":${k}${tail}${b}}`);
        return;
      }
      const json = rowJson(plan, values);
      if (json !== undefined) {
        push(captured.channel, `${plan.head}${op}","k":${k}${tail},"r":${json}${b}}`);
        return;
      }
    }
    pushSql(relation, captured, op, values, tail, old);
  };

  for (const transaction of transactions) {
    const tail = `,"x":"${transaction.xid}","c":${transaction.commitTime}`;
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
      // REPLICA IDENTITY FULL: updates and deletes carry the old row (`b`), and an update's unchanged TOASTed
      // values are the old row's (as Supabase's walrus fills them), with no read of the table.
      const full = change.relation.full && change.op !== 'i';
      const old = full ? (change.op === 'd' ? change.values : change.old) : undefined;
      let values = change.values;
      if (change.op === 'u' && old) values = values.map((value, i) => (value === undefined ? old[i] : value));
      if (change.op === 'u' && change.old) {
        const keyIndex = change.relation.columns.findIndex((column) => column.name === captured.key);
        const oldKey = change.old[keyIndex];
        if (oldKey !== undefined && oldKey !== values[keyIndex]) {
          // The key changed: a delete of the old key, then an insert of the new row (as the triggers do).
          row(change.relation, captured, 'd', change.old, tail, old);
          row(change.relation, captured, 'i', values, tail, undefined);
          continue;
        }
      }
      row(change.relation, captured, change.op, values, tail, old);
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
    relayed
      ? 'SELECT s.appended, s.pumped_from, s.pumped, s.ids, s.row_channels, s.payloads FROM ' +
        `pgrt.logical_step($1::pg_lsn, $2::int, $3::text[], $4::int[], ${list}, false) s`
      : `SELECT pgrt.logical_append($1::pg_lsn, $2::int, $3::text[], $4::int[], ${list}) AS appended`;
  const count = payloads.length;
  if (built.length === 0) {
    return {
      text: call('(string_to_array($5, chr(30)))[2:]'),
      values,
      count,
      notifications: channels.length,
      name: relayed ? 'pgrt_logical_step' : 'pgrt_logical_append',
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
    '(e.x ->> 4)::bool AS hasrow, (e.x ->> 5)::bool AS hasold FROM json_array_elements($6::json) AS e(x)), ' +
    `d AS (${parts.join(' UNION ALL ')}) ` +
    call(
      'ARRAY(SELECT CASE WHEN s.i IS NULL THEN f.p ELSE s.head || (d.r -> s.keycol)::text || s.tail || ' +
        `CASE WHEN s.hasrow THEN ',"r":' || d.r::text ELSE '' END || ` +
        `CASE WHEN s.hasold THEN ',"b":' || o.r::text ELSE '' END || '}' END ` +
        'FROM unnest((string_to_array($5, chr(30)))[2:]) WITH ORDINALITY AS f(p, i) ' +
        'LEFT JOIN s ON s.i = f.i LEFT JOIN d ON d.i = f.i LEFT JOIN d AS o ON o.i = -f.i ORDER BY f.i)',
    );
  return { text, values, count, notifications: channels.length };
}
