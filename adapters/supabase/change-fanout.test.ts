/**
 * The fan-out of one table's changes (no sockets): each distinct filter and rule is tested once per change however
 * many channels share it, each distinct frame is encoded once (channels with the same serializer, topic and ids get
 * the very same string), and a channel's several matching bindings get one push listing their ids.
 */
import assert from 'node:assert/strict';
import type { ColumnInfo, TableInfo } from '../../core/database/table-info.js';
import type { Matcher } from '../../core/query/matcher.js';
import { type ChangeSink, type FanoutBinding, Receiver, sendChange, TableFanout } from './change-fanout.js';
import { compileFilter, parseFilter, type RowFilter } from './change-filter.js';
import { renderedTable } from './change-payload.js';
import type { Vsn } from './serializer.js';

const columns = new Map<string, ColumnInfo>([
  ['id', { name: 'id', kind: 'int', pgType: 'int4' }],
  ['title', { name: 'title', kind: 'text', pgType: 'text' }],
]);
const info: TableInfo = {
  schema: 'public',
  name: 't',
  qualifiedName: 'public.t',
  key: columns.get('id') as ColumnInfo,
  columns,
};
const table = renderedTable(info, new Map([['id', 'int4']]));

/** A channel that records the frames it is sent. */
class Channel extends Receiver implements ChangeSink {
  readonly frames: (string | Uint8Array)[] = [];
  constructor(
    readonly topic: string,
    readonly vsn: Vsn = '2.0.0',
  ) {
    super();
    this.sink = this;
  }
  sendFrame(frame: string | Uint8Array): void {
    this.frames.push(frame);
  }
}

/** Counts the calls of the filters (and rules) it makes. */
class Calls {
  filters = 0;
  rules = 0;

  filter(text: string): RowFilter {
    const compiled = compileFilter(info, parseFilter(text) as never);
    return (row) => {
      this.filters++;
      return compiled(row);
    };
  }

  rule(test: (row: Record<string, unknown>) => boolean): Matcher {
    return (row) => {
      this.rules++;
      return test(row);
    };
  }
}

function binding(
  receiver: Receiver,
  id: number,
  filter: RowFilter,
  filterKey: string,
  rule: { rows: Matcher; key: string | undefined } | undefined = undefined,
): FanoutBinding {
  return {
    id,
    event: '*',
    table,
    filter,
    filterKey,
    rows: rule?.rows,
    rowsKey: rule === undefined ? '' : rule.key,
    receiver,
    soloKey: undefined,
  };
}

let epoch = 0;

function dispatch(fanout: TableFanout, row: Record<string, unknown>): number {
  const reached = fanout.match(fanout.change('INSERT', row, row.id), ++epoch);
  return sendChange(reached, JSON.stringify({ record: row }));
}

describe('supabase: change fan-out', () => {
  it('tests a filter shared by many channels once per change, and encodes their frame once', () => {
    const calls = new Calls();
    const fanout = new TableFanout(table);
    const channels = Array.from({ length: 50 }, () => new Channel('realtime:room'));
    for (const channel of channels)
      fanout.add(binding(channel, 7, calls.filter('title=eq.a'), '[["title","eq","a"]]'));
    assert.equal(dispatch(fanout, { id: 1, title: 'a' }), 1);
    assert.equal(calls.filters, 1);
    const frame = channels[0]?.frames[0];
    assert.equal(typeof frame, 'string');
    for (const channel of channels) assert.equal(channel.frames[0], frame);
    assert.deepEqual(JSON.parse(frame as string), [
      null,
      null,
      'realtime:room',
      'postgres_changes',
      { ids: [7], data: { record: { id: 1, title: 'a' } } },
    ]);
    dispatch(fanout, { id: 2, title: 'b' });
    assert.equal(calls.filters, 2);
    for (const channel of channels) assert.equal(channel.frames.length, 1);
  });

  it('one frame per serializer, topic and ids', () => {
    const calls = new Calls();
    const fanout = new TableFanout(table);
    const all = calls.filter('');
    const a1 = new Channel('realtime:a');
    const a2 = new Channel('realtime:a');
    const a1v1 = new Channel('realtime:a', '1.0.0');
    const b = new Channel('realtime:b');
    const other = new Channel('realtime:a');
    for (const channel of [a1, a2, a1v1, b]) fanout.add(binding(channel, 1, all, '[]'));
    fanout.add(binding(other, 2, all, '[]'));
    assert.equal(dispatch(fanout, { id: 1, title: 'x' }), 4);
    assert.equal(a1.frames[0], a2.frames[0]);
    assert.notEqual(a1.frames[0], a1v1.frames[0]);
    assert.equal(JSON.parse(a1v1.frames[0] as string).topic, 'realtime:a');
    assert.equal((JSON.parse(b.frames[0] as string) as unknown[])[2], 'realtime:b');
    assert.deepEqual((JSON.parse(other.frames[0] as string) as { ids: number[] }[])[4]?.ids, [2]);
  });

  it("lists a channel's matching bindings in one push, each id once, and skips the others", () => {
    const calls = new Calls();
    const fanout = new TableFanout(table);
    const channel = new Channel('realtime:room');
    fanout.add(binding(channel, 30, calls.filter('title=eq.a'), '[["title","eq","a"]]'));
    fanout.add(binding(channel, 10, calls.filter(''), '[]'));
    fanout.add(binding(channel, 10, calls.filter(''), '[]'));
    fanout.add(binding(channel, 20, calls.filter('title=eq.b'), '[["title","eq","b"]]'));
    dispatch(fanout, { id: 1, title: 'a' });
    assert.equal(channel.frames.length, 1);
    assert.deepEqual((JSON.parse(channel.frames[0] as string) as { ids: number[] }[])[4]?.ids, [10, 30]);
  });

  it('tests an equal rule once per change; a rule without a key alone; removed bindings get nothing', () => {
    const calls = new Calls();
    const fanout = new TableFanout(table);
    const all = calls.filter('');
    const mine = { rows: calls.rule((row) => row.title === 'a'), key: '{"title":"a"}' };
    const shared = Array.from({ length: 10 }, () => new Channel('realtime:room'));
    const bindings = shared.map((channel) => binding(channel, 1, all, '[]', mine));
    for (const b of bindings) fanout.add(b);
    const alone = [new Channel('realtime:room'), new Channel('realtime:room')];
    for (const channel of alone)
      fanout.add(binding(channel, 1, all, '[]', { rows: calls.rule(() => true), key: undefined }));
    dispatch(fanout, { id: 1, title: 'a' });
    assert.equal(calls.rules, 3);
    for (const channel of [...shared, ...alone]) assert.equal(channel.frames.length, 1);
    dispatch(fanout, { id: 2, title: 'b' });
    for (const channel of shared) assert.equal(channel.frames.length, 1);
    for (const channel of alone) assert.equal(channel.frames.length, 2);
    for (const b of bindings) fanout.delete(b);
    assert.equal(fanout.size, 2);
    dispatch(fanout, { id: 3, title: 'a' });
    for (const channel of shared) assert.equal(channel.frames.length, 1);
  });
});
