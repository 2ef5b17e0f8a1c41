/**
 * postgres_changes, driven by the core's change bus: the same committed changes, in commit order, that feed DDP and
 * WAMP subscriptions (so a psql write, a DDP method and a WAMP call all reach supabase-js clients), spilled rows
 * included (the bus fetches them).
 *
 * A channel's bindings are prepared at its join ({@link PostgresChanges.prepare}): each binding's schema/table
 * (wildcards expand to the opted-in tables), event and filter are parsed, each table's rule is asked (a `false`
 * refuses the join; a selector narrows the rows), and each binding gets its id (echoed in the join reply). Once
 * the reply is out the subscription is activated: every change of a table it watches is matched (event, filter,
 * rule) per binding, and each channel with matching bindings gets one push
 * `postgres_changes {ids: [matching binding ids], data}` (Extensions.PostgresCdcRls.MessageDispatcher); `data` is
 * rendered once per change (change-payload.ts) and each distinct frame encoded once.
 */
import type { BusEvent } from '../../core/bus/change-bus.js';
import { decodeKey, decodeRow } from '../../core/database/row-codec.js';
import type { Logger } from '../../core/logger.js';
import { compileMatcher, type Matcher } from '../../core/query/matcher.js';
import { parseSelector, type Selector } from '../../core/query/selector.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { TableAccessRequest } from './access.js';
import {
  compileFilter,
  type FilterCondition,
  parseFilter,
  type RowFilter,
  unknownFilterColumn,
} from './change-filter.js';
import { type ChangeType, type RenderedTable, renderChange } from './change-payload.js';
import { unauthorized } from './errors.js';
import type { PostgresChangesParams } from './join-config.js';
import { encodeMessage, type Vsn } from './serializer.js';
import type { CatalogEntry, TableCatalog } from './table-catalog.js';

/** Where a subscription's pushes go (a channel). */
export interface ChangeSink {
  readonly topic: string;
  readonly vsn: Vsn;
  sendFrame(frame: string | Uint8Array): void;
}

/** A channel's postgres_changes, prepared at its join. */
export interface ChangeSubscription {
  /** The join reply's `postgres_changes`: each binding as sent, plus its `id`, in the order sent. */
  readonly replyBindings: readonly Readonly<Record<string, unknown>>[];
  readonly bindingCount: number;
  /** Why the bindings cannot be served (the `system` error message), or undefined. */
  readonly problem: string | undefined;
  /** Starts delivering (after the join reply). */
  activate(sink: ChangeSink): void;
  /** The user changed: the rules run again; rejects with `Unauthorized` when one now refuses. */
  reauthorize(request: TableAccessRequestBase): Promise<void>;
  /** Stops delivering (idempotent; also before activation). */
  remove(): void;
}

/** An access request without its table. */
export type TableAccessRequestBase = Omit<TableAccessRequest, 'table'>;

/** The event filter of a binding: `*` or one type. */
type EventFilter = '*' | ChangeType;

/** One binding resolved to one table. */
interface TableBinding {
  readonly id: number;
  readonly event: EventFilter;
  readonly table: RenderedTable;
  readonly entry: CatalogEntry;
  readonly filter: RowFilter;
  /** The rule's selector matcher; undefined: every row. */
  rows: Matcher | undefined;
  readonly subscription: Subscription;
}

/** Options of {@link PostgresChanges}. */
export interface PostgresChangesOptions {
  readonly maxRecordBytes: number;
}

/** The process's postgres_changes: bindings by table, fed by the bus. */
export class PostgresChanges {
  readonly #byTable = new Map<string, Set<TableBinding>>();
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly core: RealtimeCore,
    readonly catalog: TableCatalog,
    private readonly options: PostgresChangesOptions,
    private readonly logger: Logger,
  ) {}

  /** Prepares a channel's bindings (see the module header). Rejects with `Unauthorized` when a rule refuses. */
  async prepare(
    params: readonly PostgresChangesParams[],
    request: TableAccessRequestBase,
  ): Promise<ChangeSubscription> {
    const subscription = new Subscription(this);
    const replies: Record<string, unknown>[] = [];
    for (const binding of params) {
      const id = bindingId(binding);
      replies.push({ ...binding, id });
      if (subscription.problem !== undefined) continue;
      const problem = await this.#resolve(subscription, id, binding, request);
      if (problem !== undefined) subscription.fail(problem);
    }
    subscription.replyBindings = replies;
    return subscription;
  }

  async #resolve(
    subscription: Subscription,
    id: number,
    binding: PostgresChangesParams,
    request: TableAccessRequestBase,
  ): Promise<string | undefined> {
    const parsed = parseBinding(binding);
    if (typeof parsed === 'string') return parsed;
    // Only captured tables (registered collections) have changes to serve.
    const entries = this.#entries(parsed.schema, parsed.table).filter((entry) => entry.captured);
    if (entries.length === 0) return notEnabled(parsed);
    for (const entry of entries) {
      let table: RenderedTable;
      try {
        table = await this.catalog.table(entry.name);
      } catch (error) {
        this.logger.warn(
          { err: error, table: entry.name },
          'supabase: opted-in table cannot be introspected',
        );
        return notEnabled(parsed);
      }
      const missing = unknownFilterColumn(table.info, parsed.conditions);
      if (missing !== undefined) return exception(parsed, `invalid column for filter ${missing}`);
      const rows = await ruleMatcher(entry, table, { ...request, table: entry.name });
      subscription.bindings.push({
        id,
        event: parsed.event,
        table,
        entry,
        filter: compileFilter(table.info, parsed.conditions),
        rows,
        subscription,
      });
    }
    return undefined;
  }

  /** The opted-in tables a binding's schema/table names (`*` for any). */
  #entries(schema: string, table: string): CatalogEntry[] {
    if (schema !== '*' && table !== '*') {
      const entry = this.catalog.entry(`${schema}.${table}`);
      return entry ? [entry] : [];
    }
    return [...this.catalog.entries()].filter((entry) => {
      const [s, t] = entry.name.split('.', 2) as [string, string];
      return (schema === '*' || s === schema) && (table === '*' || t === table);
    });
  }

  /** Adds an activated subscription's bindings; the bus is listened to from the first one on. */
  add(bindings: readonly TableBinding[]): void {
    this.#unsubscribe ??= this.core.bus.subscribe((event) => this.#dispatch(event));
    for (const binding of bindings) {
      const name = binding.table.info.qualifiedName;
      let set = this.#byTable.get(name);
      if (!set) {
        set = new Set();
        this.#byTable.set(name, set);
      }
      set.add(binding);
    }
  }

  /** Removes a subscription's bindings. */
  delete(bindings: readonly TableBinding[]): void {
    for (const binding of bindings) {
      const name = binding.table.info.qualifiedName;
      const set = this.#byTable.get(name);
      if (!set) continue;
      set.delete(binding);
      if (set.size === 0) this.#byTable.delete(name);
    }
  }

  /** Stops listening (shutdown). */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#byTable.clear();
  }

  #dispatch(event: BusEvent): void {
    if (event.kind !== 'change') return;
    const bindings = this.#byTable.get(event.table);
    if (!bindings) return;
    const type: ChangeType = event.op === 'insert' ? 'INSERT' : event.op === 'update' ? 'UPDATE' : 'DELETE';
    const matched = this.#match(bindings, type, event.row, event.key);
    if (matched.size === 0) return;
    const first = bindings.values().next().value as TableBinding;
    const data = renderChange(first.table, type, event.row, event.key, {
      maxRecordBytes: this.options.maxRecordBytes,
      receivedAt: Date.now(),
    });
    const frames = new Map<string, string>();
    for (const [subscription, ids] of matched) {
      const sink = subscription.sink;
      if (!sink) continue;
      const cacheKey = `${sink.vsn}\0${sink.topic}\0${ids.join(',')}`;
      let frame = frames.get(cacheKey);
      if (frame === undefined) {
        const payload = `{"ids":${JSON.stringify(ids)},"data":${data}}`;
        frame = encodeMessage(
          sink.vsn,
          { joinRef: null, ref: null, topic: sink.topic, event: 'postgres_changes', payload: null },
          payload,
        );
        frames.set(cacheKey, frame);
      }
      sink.sendFrame(frame);
    }
  }

  /** The ids of the matching bindings, per subscription. */
  #match(
    bindings: ReadonlySet<TableBinding>,
    type: ChangeType,
    row: Readonly<Record<string, unknown>> | undefined,
    key: unknown,
  ): Map<Subscription, number[]> {
    const matched = new Map<Subscription, number[]>();
    // The record filters and rules test: the new row; for DELETE the old record, i.e. the key alone.
    let record = row;
    let decoded: Record<string, unknown> | undefined;
    for (const binding of bindings) {
      if (binding.event !== '*' && binding.event !== type) continue;
      if (record === undefined) record = { [binding.table.info.key.name]: key };
      if (!binding.filter(record)) continue;
      if (binding.rows) {
        decoded ??=
          row === undefined
            ? { [binding.table.info.key.name]: decodeKey(binding.table.info, key) }
            : decodeRow(binding.table.info, row);
        if (!binding.rows(decoded)) continue;
      }
      const ids = matched.get(binding.subscription);
      if (!ids) matched.set(binding.subscription, [binding.id]);
      else if (!ids.includes(binding.id)) ids.push(binding.id);
    }
    return matched;
  }
}

/** A channel's subscription. */
class Subscription implements ChangeSubscription {
  replyBindings: readonly Readonly<Record<string, unknown>>[] = [];
  readonly bindings: TableBinding[] = [];
  problem: string | undefined;
  sink: ChangeSink | undefined;
  #removed = false;

  constructor(private readonly changes: PostgresChanges) {}

  get bindingCount(): number {
    return this.replyBindings.length;
  }

  fail(problem: string): void {
    this.problem = problem;
    this.bindings.length = 0;
  }

  activate(sink: ChangeSink): void {
    if (this.#removed || this.problem !== undefined) return;
    this.sink = sink;
    this.changes.add(this.bindings);
  }

  async reauthorize(request: TableAccessRequestBase): Promise<void> {
    const matchers = new Map<TableBinding, Matcher | undefined>();
    for (const binding of this.bindings) {
      matchers.set(
        binding,
        await ruleMatcher(binding.entry, binding.table, { ...request, table: binding.entry.name }),
      );
    }
    for (const [binding, rows] of matchers) binding.rows = rows;
  }

  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    if (this.sink) this.changes.delete(this.bindings);
    this.sink = undefined;
  }
}

/** A binding's parsed parameters. */
interface ParsedBinding {
  readonly event: EventFilter;
  readonly schema: string;
  readonly table: string;
  readonly conditions: readonly FilterCondition[];
  /** For error messages, as Supabase logs them. */
  readonly log: string;
}

/**
 * Supabase's parse_subscription_params: schema+table(+filter), schema alone (every table), table alone (schema
 * `public`); anything else is an error. `event` is `*` or INSERT/UPDATE/DELETE (any case; other values mean `*`).
 */
function parseBinding(params: PostgresChangesParams): ParsedBinding | string {
  const event = eventFilter(params.event);
  const { schema, table, filter } = params;
  const has = (name: string): boolean => Object.hasOwn(params, name) && params[name] !== undefined;
  let parsed: { schema: string; table: string; conditions: readonly FilterCondition[] } | undefined;
  if (typeof schema === 'string' && typeof table === 'string' && typeof filter === 'string') {
    const conditions = parseFilter(filter);
    if (typeof conditions === 'string') return conditions;
    parsed = { schema, table, conditions };
  } else if (typeof schema === 'string' && typeof table === 'string' && !has('filter')) {
    parsed = { schema, table, conditions: [] };
  } else if (typeof schema === 'string' && !has('table') && !has('filter')) {
    parsed = { schema, table: '*', conditions: [] };
  } else if (typeof table === 'string' && !has('schema') && !has('filter')) {
    parsed = { schema: 'public', table, conditions: [] };
  }
  if (!parsed) {
    return `No subscription params provided. Please provide at least a \`schema\` or \`table\` to subscribe to: ${JSON.stringify(params)}`;
  }
  const filters = JSON.stringify(
    parsed.conditions.map((c) => [c.column, c.negate ? `not.${c.operator}` : c.operator, c.value]),
  );
  return {
    event,
    ...parsed,
    log: `event: ${event}, schema: ${parsed.schema}, table: ${parsed.table}, filters: ${filters}`,
  };
}

function eventFilter(value: unknown): EventFilter {
  if (typeof value !== 'string') return '*';
  const upper = value.toUpperCase();
  return upper === 'INSERT' || upper === 'UPDATE' || upper === 'DELETE' ? upper : '*';
}

/** Supabase's message for a table it does not publish (here: not opted in, or not a registered collection). */
function notEnabled(parsed: ParsedBinding): string {
  return `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [${parsed.log}]`;
}

/** Supabase's message for parameters the subscription check rejects. */
function exception(parsed: ParsedBinding, message: string): string {
  return `Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: [${parsed.log}]. Exception: ${message}`;
}

/** The row matcher of a table's rule for this request; rejects with `Unauthorized` when the rule refuses. */
async function ruleMatcher(
  entry: CatalogEntry,
  table: RenderedTable,
  request: TableAccessRequest,
): Promise<Matcher | undefined> {
  if (entry.rule === true) return undefined;
  const verdict = await entry.rule(request);
  if (verdict === true) return undefined;
  if (verdict === false) throw unauthorized(request.channel);
  return compileMatcher(parseSelector(table.info, verdict as Selector));
}

/** A binding's id: a 27-bit hash of its parameters, as Supabase's `:erlang.phash2(params)` (an integer). */
function bindingId(params: PostgresChangesParams): number {
  let hash = 0x811c9dc5;
  const text = JSON.stringify(params);
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) & 0x7ffffff;
}
