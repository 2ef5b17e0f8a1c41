/**
 * The capture modes built on row triggers (core/database/migrations/0001_notify.sql, 0002_outbox.sql,
 * 0007_old_rows.sql):
 * - {@link notifyCapture}: `pgrt.capture_row()` NOTIFYs each change in the writer's transaction; fences are
 *   `pgrt.fence` NOTIFYs. Zero setup, but every notifying commit takes PostgreSQL's cluster-wide notify lock.
 * - {@link outboxCapture}: `pgrt.capture_row_outbox()` appends each change to `pgrt.outbox`; fences are appended
 *   after the transaction's changes (`pgrt.fence_outbox`); the elected pump drains the outbox (outbox-source.ts).
 * Both install an `AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW` trigger `pgrt_capture` and an `AFTER TRUNCATE`
 * statement trigger `pgrt_capture_truncate` with the table's {@link triggerArguments} as TG_ARGV. Whether updates and
 * deletes carry the old row is the table's REPLICA IDENTITY (FULL: they do), read at each install: a table altered
 * later gets its new setting when the capture is next installed (the next start, or `pgrt migrate`).
 */
import type { Database, Queryable } from '../database/database.js';
import { quoteLiteral, quoteTable } from '../database/row-codec.js';
import type { TableInfo } from '../database/table-info.js';
import { CAPTURE_TRIGGER, CAPTURE_TRUNCATE_TRIGGER, dropTriggers, unpublish } from './capture-ddl.js';
import type { CaptureArguments, CaptureMode, CaptureModeName } from './capture-mode.js';
import { OutboxSource } from './outbox-source.js';
import type { PumpSource, PumpSourceOptions } from './pump-source.js';

/** The SQL functions of one trigger-based mode (`regprocedure` text for the triggers). */
interface TriggerFunctions {
  readonly row: string;
  readonly truncate: string;
  readonly fence: string;
  readonly emit: string;
}

/**
 * The TG_ARGV of both capture triggers: channel, key column, threshold, old rows (`full`: updates and deletes carry
 * the old row, the table's replica identity being FULL; `key`: they do not), then the exact columns.
 */
export function triggerArguments(args: CaptureArguments, oldRows: boolean): string[] {
  return [
    args.channel,
    args.keyColumn,
    String(args.thresholdBytes),
    oldRows ? 'full' : 'key',
    ...args.exactColumns,
  ];
}

/** True when `table`'s REPLICA IDENTITY is FULL (`pg_class.relreplident = 'f'`). */
export async function replicaIdentityFull(
  client: Queryable,
  table: Pick<TableInfo, 'schema' | 'name'>,
): Promise<boolean> {
  const result = await client.query<{ full: boolean }>(
    `SELECT relreplident = 'f' AS full FROM pg_catalog.pg_class WHERE oid = $1::regclass`,
    [quoteTable(table)],
  );
  return result.rows[0]?.full === true;
}

/** A trigger-based capture mode. */
class TriggerCapture implements CaptureMode {
  constructor(
    readonly name: Extract<CaptureModeName, 'notify' | 'outbox'>,
    readonly outbox: boolean,
    private readonly functions: TriggerFunctions,
  ) {}

  async check(): Promise<void> {}

  async install(client: Queryable, table: TableInfo, args: CaptureArguments): Promise<void> {
    const values = triggerArguments(args, await replicaIdentityFull(client, table));
    const target = quoteTable(table);
    await unpublish(client, table);
    const existing = await client.query<{ name: string; args: Buffer; fn: string }>(
      `SELECT tgname AS name, tgargs AS args, tgfoid::regprocedure::text AS fn FROM pg_catalog.pg_trigger
       WHERE tgrelid = $1::regclass AND tgname IN ($2, $3)`,
      [target, CAPTURE_TRIGGER, CAPTURE_TRUNCATE_TRIGGER],
    );
    const wanted = values.join('\0');
    const current = existing.rows.filter((row) => decodeArgs(row.args) === wanted).map((row) => row.fn);
    if (current.includes(this.functions.row) && current.includes(this.functions.truncate)) return;
    await dropTriggers(client, table);
    const argList = values.map(quoteLiteral).join(', ');
    await client.query(
      `CREATE TRIGGER ${CAPTURE_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON ${target}
       FOR EACH ROW EXECUTE FUNCTION ${this.functions.row.slice(0, -2)}(${argList})`,
    );
    await client.query(
      `CREATE TRIGGER ${CAPTURE_TRUNCATE_TRIGGER} AFTER TRUNCATE ON ${target}
       FOR EACH STATEMENT EXECUTE FUNCTION ${this.functions.truncate.slice(0, -2)}(${argList})`,
    );
  }

  async prepare(): Promise<void> {}

  async fenceInTransaction(client: Queryable, channel: string, id: string): Promise<boolean> {
    const result = await client.query<{ f: boolean }>(`SELECT ${this.functions.fence}($1, $2) AS f`, [
      channel,
      id,
    ]);
    return result.rows[0]?.f === true;
  }

  async emit(db: Queryable, channel: string, payload: string): Promise<void> {
    await db.query(`SELECT ${this.functions.emit}($1, $2)`, [channel, payload]);
  }

  pumpSource(db: Database, options: PumpSourceOptions): PumpSource | undefined {
    return this.outbox ? new OutboxSource(db, options) : undefined;
  }
}

/** Capture mode `notify` (the default): NOTIFY in the writer's transaction. */
export const notifyCapture: CaptureMode = new TriggerCapture('notify', false, {
  row: 'pgrt.capture_row()',
  truncate: 'pgrt.capture_truncate()',
  fence: 'pgrt.fence',
  emit: 'pg_notify',
});

/** Capture mode `outbox`: triggers append to `pgrt.outbox`; the elected pump notifies. */
export const outboxCapture: CaptureMode = new TriggerCapture('outbox', true, {
  row: 'pgrt.capture_row_outbox()',
  truncate: 'pgrt.capture_truncate_outbox()',
  fence: 'pgrt.fence_outbox',
  emit: 'pgrt.outbox_append',
});

// tgargs: each argument followed by a NUL byte.
function decodeArgs(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.endsWith('\0') ? text.slice(0, -1) : text;
}
