/**
 * postgres_changes, driven by the core's change bus: the same committed changes, in commit order, that feed DDP and
 * WAMP subscriptions (so a psql write, a DDP method and a WAMP call all reach supabase-js clients), spilled rows
 * included (the bus fetches them).
 *
 * A channel's bindings are prepared at its join ({@link PostgresChanges.prepare}): each binding's schema/table
 * (wildcards expand to the opted-in tables), event and filter are parsed, each table's rule is asked (a `false`
 * refuses the join; a selector narrows the rows), and each binding gets its id (echoed in the join reply). Once
 * the reply is out the subscription is activated: every change of a table it watches is matched (event, filter,
 * rule), and each channel with matching bindings gets one push `postgres_changes {ids: [matching binding ids],
 * data}` (Extensions.PostgresCdcRls.MessageDispatcher). change-fanout.ts does that once per distinct filter, rule
 * and frame rather than once per channel.
 */
import type { BusEvent, TableWatch } from '../../core/bus/change-bus.js';
import type { Logger } from '../../core/logger.js';
import { canonicalJson, isPlainObject } from '../../core/query/compare.js';
import { compileMatcher, type Matcher } from '../../core/query/matcher.js';
import { parseSelector, type Selector } from '../../core/query/selector.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import type { TableAccessRequest } from './access.js';
import {
  type ChangeSink,
  type EventFilter,
  type FanoutBinding,
  Receiver,
  sendChange,
  TableFanout,
} from './change-fanout.js';
import { compileFilter, type FilterCondition, filterProblem, parseFilter } from './change-filter.js';
import { type ChangeType, type RenderedTable, renderChange } from './change-payload.js';
import { unauthorized } from './errors.js';
import type { PostgresChangesParams } from './join-config.js';
import type { CatalogEntry, TableCatalog } from './table-catalog.js';

export type { ChangeSink } from './change-fanout.js';

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

/** One binding resolved to one table. */
interface TableBinding extends FanoutBinding {
  readonly entry: CatalogEntry;
  rows: Matcher | undefined;
  rowsKey: string | undefined;
  readonly receiver: Subscription;
}

/** Options of {@link PostgresChanges}. */
export interface PostgresChangesOptions {
  readonly maxRecordBytes: number;
}

/** The process's postgres_changes: bindings by table, fed by the bus. */
export class PostgresChanges {
  readonly #byTable = new Map<string, TableFanout>();
  /** The bus's watch of each table with bindings (a bus that filters tables, NATS). */
  readonly #watches = new Map<string, TableWatch>();
  #unsubscribe: (() => void) | undefined;
  /** Dispatches so far: each one's number marks the receivers it reached (change-fanout.ts). */
  #epoch = 0;

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
      const problem = filterProblem(table.info, parsed.conditions);
      if (problem !== undefined) return exception(parsed, problem);
      const rule = await ruleMatcher(entry, table, { ...request, table: entry.name });
      subscription.bindings.push({
        id,
        event: parsed.event,
        table,
        entry,
        filter: compileFilter(table.info, parsed.conditions),
        filterKey: parsed.conditionsKey,
        rows: rule.rows,
        rowsKey: rule.key,
        receiver: subscription,
        soloKey: undefined,
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
      let fanout = this.#byTable.get(name);
      if (!fanout) {
        fanout = new TableFanout(binding.table);
        this.#byTable.set(name, fanout);
        const watch = this.core.bus.watch?.([name]);
        if (watch) this.#watches.set(name, watch);
      }
      fanout.add(binding);
    }
  }

  /** Removes a subscription's bindings. */
  delete(bindings: readonly TableBinding[]): void {
    for (const binding of bindings) {
      const name = binding.table.info.qualifiedName;
      const fanout = this.#byTable.get(name);
      if (!fanout) continue;
      fanout.delete(binding);
      if (fanout.size > 0) continue;
      this.#byTable.delete(name);
      this.#watches.get(name)?.release();
      this.#watches.delete(name);
    }
  }

  /** Stops listening (shutdown). */
  close(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#byTable.clear();
    for (const watch of this.#watches.values()) watch.release();
    this.#watches.clear();
  }

  #dispatch(event: BusEvent): void {
    if (event.kind !== 'change') return;
    const fanout = this.#byTable.get(event.table);
    if (!fanout) return;
    const type: ChangeType = event.op === 'insert' ? 'INSERT' : event.op === 'update' ? 'UPDATE' : 'DELETE';
    // Filters and rules test the new row; a DELETE's old row (replica identity full), else its key (walrus).
    const receivers = fanout.match(fanout.change(type, event.row ?? event.old, event.key), ++this.#epoch);
    if (receivers.length === 0) return;
    const data = renderChange(fanout.table, type, event, {
      maxRecordBytes: this.options.maxRecordBytes,
      commitTime: event.committedAt ?? Date.now(),
    });
    sendChange(receivers, data);
  }
}

/** A channel's subscription. */
class Subscription extends Receiver implements ChangeSubscription {
  replyBindings: readonly Readonly<Record<string, unknown>>[] = [];
  readonly bindings: TableBinding[] = [];
  problem: string | undefined;
  #removed = false;

  constructor(private readonly changes: PostgresChanges) {
    super();
  }

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
    const rules = new Map<TableBinding, RuleRows>();
    for (const binding of this.bindings) {
      rules.set(
        binding,
        await ruleMatcher(binding.entry, binding.table, { ...request, table: binding.entry.name }),
      );
    }
    // Delivering bindings move to the group of their new rule (between two changes: nothing is missed).
    const delivering = this.sink !== undefined && !this.#removed;
    if (delivering) this.changes.delete(this.bindings);
    for (const [binding, rule] of rules) {
      binding.rows = rule.rows;
      binding.rowsKey = rule.key;
    }
    if (delivering) this.changes.add(this.bindings);
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
  /** The conditions as text: bindings with the same text filter alike. */
  readonly conditionsKey: string;
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
    conditionsKey: filters,
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

/** The rows a rule lets through: its matcher (undefined: every row) and its key (see {@link selectorKey}). */
interface RuleRows {
  readonly rows: Matcher | undefined;
  readonly key: string | undefined;
}

const EVERY_ROW: RuleRows = { rows: undefined, key: '' };

/** The row matcher of a table's rule for this request; rejects with `Unauthorized` when the rule refuses. */
async function ruleMatcher(
  entry: CatalogEntry,
  table: RenderedTable,
  request: TableAccessRequest,
): Promise<RuleRows> {
  if (entry.rule === true) return EVERY_ROW;
  const verdict = await entry.rule(request);
  if (verdict === true) return EVERY_ROW;
  if (verdict === false) throw unauthorized(request.channel);
  const selector = verdict as Selector;
  return { rows: compileMatcher(parseSelector(table.info, selector)), key: selectorKey(selector) };
}

/**
 * A selector as canonical text when it is plain JSON (strings, finite numbers, booleans, null, arrays, plain
 * objects): equal texts select the same rows, so bindings with them share one test. Undefined for anything else
 * (a Date, a RegExp, …), whose text could confuse two different selectors: such a binding is tested alone.
 */
function selectorKey(selector: Selector): string | undefined {
  const plain = (value: unknown): boolean => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
    if (typeof value === 'number') return Number.isFinite(value);
    if (Array.isArray(value)) return value.every(plain);
    return isPlainObject(value) && Object.values(value).every(plain);
  };
  return plain(selector) ? canonicalJson(selector) : undefined;
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
