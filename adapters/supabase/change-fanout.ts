/**
 * The fan-out of one table's changes to the activated postgres_changes bindings, done once per distinct thing
 * rather than once per subscriber:
 * - **Matching**: bindings are grouped by what decides whether a change reaches them — the event, the filter
 *   (its parsed conditions) and the app's row rule (its selector; none = every row). Each group is tested once
 *   per change; its bindings all follow the verdict.
 * - **Frames**: the receiving channels are grouped by what makes their frame differ — serializer version, topic
 *   and the ids of their matching bindings (a push carries `join_ref` and `ref` null: Supabase sends changes
 *   through Phoenix's fastlane, `[null, null, topic, "postgres_changes", {ids, data}]`). `data` is rendered once
 *   (change-payload.ts) and each distinct frame encoded once; channels sharing a frame get the same string, which
 *   the WebSocket transport also frames once (transports/websocket-endpoint.ts).
 *
 * The channels' writes of one event-loop turn are coalesced by their sockets (supabase-socket.ts).
 */
import { decodeKey, decodeRow } from '../../core/database/row-codec.js';
import type { Row } from '../../core/database/table-info.js';
import type { Matcher } from '../../core/query/matcher.js';
import type { RowFilter } from './change-filter.js';
import type { ChangeType, RenderedTable } from './change-payload.js';
import { encodeMessage, type Vsn } from './serializer.js';

/** The event filter of a binding: `*` or one type. */
export type EventFilter = '*' | ChangeType;

/** Where a subscription's pushes go (a channel). */
export interface ChangeSink {
  readonly topic: string;
  readonly vsn: Vsn;
  sendFrame(frame: string | Uint8Array): void;
}

/** What the fan-out needs of an activated binding. */
export interface FanoutBinding {
  readonly id: number;
  readonly event: EventFilter;
  readonly table: RenderedTable;
  readonly filter: RowFilter;
  /** The filter's conditions as text: bindings with equal texts share one test. */
  readonly filterKey: string;
  /** The rule's selector matcher; undefined: every row. */
  readonly rows: Matcher | undefined;
  /** The rule's selector as canonical text ('' for every row), or undefined when it cannot be compared. */
  readonly rowsKey: string | undefined;
  readonly receiver: Receiver;
  /** The frame grouping key when this binding alone matches in its channel: made at activation. */
  soloKey: string | undefined;
}

/**
 * A channel's side of a dispatch: which of its bindings matched the change being dispatched. Kept on the channel's
 * subscription (no map or array per channel per change).
 */
export class Receiver {
  sink: ChangeSink | undefined;
  /** The dispatch this receiver was last reached by. */
  epoch = 0;
  /** The first matching binding of that dispatch; later ones' ids in {@link more}. */
  first: FanoutBinding | undefined;
  more: number[] | undefined;
}

/** One group of bindings that a change reaches or not together. */
class BindingGroup {
  readonly bindings = new Set<FanoutBinding>();

  constructor(
    readonly event: EventFilter,
    readonly filter: RowFilter,
    readonly rows: Matcher | undefined,
  ) {}
}

/** The change being dispatched, as the groups test it. */
interface DispatchedChange {
  readonly type: ChangeType;
  /** What filters test: the new row as the bus carries it; for DELETE the old record, i.e. the key alone. */
  readonly record: Readonly<Record<string, unknown>>;
  /** What rules test: the record decoded, made on first need. */
  decoded(): Row;
}

/** The activated bindings of one table. */
export class TableFanout {
  readonly #groups = new Map<string, BindingGroup>();
  /** Groups of bindings whose rule cannot be compared: one binding each. */
  readonly #alone = new Map<FanoutBinding, BindingGroup>();
  #size = 0;

  constructor(readonly table: RenderedTable) {}

  get size(): number {
    return this.#size;
  }

  add(binding: FanoutBinding): void {
    const sink = binding.receiver.sink;
    if (sink) binding.soloKey = frameKey(sink, String(binding.id));
    const key = groupKey(binding);
    let group = key === undefined ? undefined : this.#groups.get(key);
    if (!group) {
      group = new BindingGroup(binding.event, binding.filter, binding.rows);
      if (key === undefined) this.#alone.set(binding, group);
      else this.#groups.set(key, group);
    }
    if (group.bindings.has(binding)) return;
    group.bindings.add(binding);
    this.#size++;
  }

  delete(binding: FanoutBinding): void {
    const key = groupKey(binding);
    const group = key === undefined ? this.#alone.get(binding) : this.#groups.get(key);
    if (!group?.bindings.delete(binding)) return;
    this.#size--;
    if (group.bindings.size > 0) return;
    if (key === undefined) this.#alone.delete(binding);
    else this.#groups.delete(key);
  }

  /**
   * The receivers `change` reaches, each with its matching bindings in {@link Receiver.first}/{@link
   * Receiver.more}; `epoch` is this dispatch's number (never reused).
   */
  match(change: DispatchedChange, epoch: number): Receiver[] {
    const reached: Receiver[] = [];
    for (const group of this.#groups.values()) collect(group, change, epoch, reached);
    for (const group of this.#alone.values()) collect(group, change, epoch, reached);
    return reached;
  }

  /** The change as groups test it (see {@link DispatchedChange}). */
  change(
    type: ChangeType,
    row: Readonly<Record<string, unknown>> | undefined,
    key: unknown,
  ): DispatchedChange {
    const info = this.table.info;
    let decoded: Row | undefined;
    return {
      type,
      record: row ?? { [info.key.name]: key },
      decoded: () => {
        decoded ??= row === undefined ? { [info.key.name]: decodeKey(info, key) } : decodeRow(info, row);
        return decoded;
      },
    };
  }
}

function collect(group: BindingGroup, change: DispatchedChange, epoch: number, reached: Receiver[]): void {
  if (group.event !== '*' && group.event !== change.type) return;
  if (!group.filter(change.record)) return;
  if (group.rows && !group.rows(change.decoded())) return;
  for (const binding of group.bindings) {
    const receiver = binding.receiver;
    if (receiver.epoch !== epoch) {
      receiver.epoch = epoch;
      receiver.first = binding;
      receiver.more = undefined;
      reached.push(receiver);
    } else if (binding.id !== receiver.first?.id) {
      // A channel's identical bindings share an id (Supabase's hash of the parameters): listed once.
      if (receiver.more === undefined) receiver.more = [binding.id];
      else if (!receiver.more.includes(binding.id)) receiver.more.push(binding.id);
    }
  }
}

/** A binding's group: equal keys test every change alike. Undefined: a rule that cannot be compared. */
function groupKey(binding: FanoutBinding): string | undefined {
  if (binding.rowsKey === undefined) return undefined;
  return `${binding.event}\0${binding.filterKey}\0${binding.rowsKey}`;
}

/** What makes a frame differ: serializer version, topic, the ids (join_ref and ref are null in every push). */
function frameKey(sink: ChangeSink, ids: string): string {
  return `${sink.vsn}\0${sink.topic}\0${ids}`;
}

/**
 * Sends one rendered change (`data`, the payload's JSON) to the receivers a dispatch reached: each distinct frame
 * encoded once. Returns the number of distinct frames.
 */
export function sendChange(receivers: readonly Receiver[], data: string): number {
  const frames = new Map<string, string>();
  for (const receiver of receivers) {
    const sink = receiver.sink;
    const first = receiver.first;
    if (!sink || !first) continue;
    let ids: string;
    let key: string | undefined;
    if (receiver.more === undefined) {
      ids = String(first.id);
      key = first.soloKey;
    } else {
      ids = [first.id, ...receiver.more].sort((a, b) => a - b).join(',');
    }
    key ??= frameKey(sink, ids);
    let frame = frames.get(key);
    if (frame === undefined) {
      frame = encodeMessage(
        sink.vsn,
        { joinRef: null, ref: null, topic: sink.topic, event: 'postgres_changes', payload: null },
        `{"ids":[${ids}],"data":${data}}`,
      );
      frames.set(key, frame);
    }
    sink.sendFrame(frame);
  }
  return frames.size;
}
