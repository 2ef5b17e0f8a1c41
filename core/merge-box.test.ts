import assert from 'node:assert/strict';
import { clone } from './ejson.js';
import { deepFreeze, RecordingSink, ReferenceView, replay } from './fixtures/merge-box-reference.js';
import {
  diffSnapshots,
  type Fields,
  MergeBox,
  MergeBoxError,
  type PublicationStrategy,
  type Snapshot,
} from './merge-box.js';
import { createWithSeeds } from './random/alea.js';

/** Meteor's `newView` helper from session_view_tests.js, over one collection 'test'. */
function newView(strategy: PublicationStrategy = 'SERVER_MERGE') {
  const sink = new RecordingSink();
  const box = new MergeBox(sink, () => strategy);
  const collection = 'test';
  return {
    box,
    sink,
    added: (sub: string, id: string, fields: Fields) => box.added(sub, collection, id, fields),
    /** Meteor's `changed(sub, id, {key: value | undefined})`: undefined values become `cleared`. */
    changed: (sub: string, id: string, changed: Fields) => {
      const fields: Fields = {};
      const cleared: string[] = [];
      for (const [key, value] of Object.entries(changed)) {
        if (value === undefined) cleared.push(key);
        else fields[key] = value;
      }
      box.changed(sub, collection, id, fields, cleared);
    },
    removed: (sub: string, id: string) => box.removed(sub, collection, id),
    /** Each of `subs` removes `id` in turn: nothing is sent until the last one, whose removal sends `removed`. */
    removedBy(subs: readonly string[], id: string) {
      for (const [i, sub] of subs.entries()) {
        box.removed(sub, collection, id);
        if (i === subs.length - 1) assert.deepEqual(sink.calls.shift(), { fun: 'removed', id, collection });
        assert.deepEqual(sink.calls, [], `after ${sub} removed ${id}`);
      }
    },
    expectResult(
      expected:
        | { fun: 'added'; id: string; fields: Fields }
        | { fun: 'changed'; id: string; changed: Fields }
        | { fun: 'removed'; id: string },
    ) {
      const call = sink.calls.shift();
      assert.deepEqual(call, { ...expected, collection });
    },
    expectNoResult() {
      assert.deepEqual(sink.calls, []);
    },
  };
}

describe('MergeBox: Meteor session view cases', () => {
  it('exists reveal', () => {
    const v = newView();
    v.added('A', 'A1', {});
    v.expectResult({ fun: 'added', id: 'A1', fields: {} });
    v.expectNoResult();
    v.added('B', 'A1', {});
    v.expectNoResult();
    v.removedBy(['A', 'B'], 'A1');
  });

  it('added a second field in another sub', () => {
    const v = newView();
    v.added('A', 'A1', { a: 'foo' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { a: 'foo' } });
    v.added('B', 'A1', { a: 'foo', b: 'bar' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { b: 'bar' } });
    v.removedBy(['A', 'B'], 'A1');
  });

  it('field reveal', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.added('B', 'A1', { foo: 'baz' });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 'baz' } });
    v.expectNoResult();
    v.removed('B', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.expectNoResult();
  });

  it('field change', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.changed('A', 'A1', { foo: 'baz' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 'baz' } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.expectNoResult();
  });

  it('field clear', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.changed('A', 'A1', { foo: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: undefined } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.expectNoResult();
  });

  it('change makes a new field', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.changed('A', 'A1', { baz: 'quux' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { baz: 'quux' } });
    v.expectNoResult();
  });

  it('add, remove, add', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.removed('A', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.expectNoResult();
  });

  it('field clear reveal', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.added('B', 'A1', { foo: 'baz' });
    v.changed('A', 'A1', { foo: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 'baz' } });
    v.expectNoResult();
    v.removedBy(['A', 'B'], 'A1');
  });

  it('change to canonical value produces no change', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    // First come, first served: B's value waits, the client keeps "bar".
    v.added('B', 'A1', { foo: 'baz' });
    v.expectNoResult();
    v.changed('B', 'A1', { foo: 'bar' });
    v.expectNoResult();
    v.removedBy(['A', 'B'], 'A1');
  });

  it('new field of canonical value produces no change', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.added('B', 'A1', {});
    v.changed('B', 'A1', { foo: 'bar' });
    v.expectNoResult();
    v.removedBy(['A', 'B'], 'A1');
  });

  it('clear all clears only once', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.added('B', 'A1', { foo: 'bar' });
    v.added('C', 'A1', { foo: 'bar' });
    v.changed('A', 'A1', { foo: undefined });
    v.changed('B', 'A1', { foo: undefined });
    v.changed('C', 'A1', { foo: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: undefined } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectNoResult();
    v.removed('B', 'A1');
    v.expectNoResult();
  });

  it('change all changes only once', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.added('B', 'A1', { foo: 'bar' });
    v.added('C', 'A1', { foo: 'bar' });
    v.changed('B', 'A1', { foo: 'baz' });
    v.changed('A', 'A1', { foo: 'baz' });
    v.changed('C', 'A1', { foo: 'baz' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 'baz' } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectNoResult();
    v.removed('B', 'A1');
    v.expectNoResult();
  });

  it('multiple operations at once in a change', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar', baz: 'quux' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar', baz: 'quux' } });
    v.added('B', 'A1', { foo: 'baz' });
    v.changed('A', 'A1', { thing: 'stuff', foo: undefined, baz: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 'baz', thing: 'stuff', baz: undefined } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectResult({ fun: 'changed', id: 'A1', changed: { thing: undefined } });
    v.expectNoResult();
    v.removed('B', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.expectNoResult();
  });

  it('more than one document', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar', baz: 'quux' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar', baz: 'quux' } });
    v.added('A', 'A2', { foo: 'baz' });
    v.expectResult({ fun: 'added', id: 'A2', fields: { foo: 'baz' } });
    v.changed('A', 'A1', { thing: 'stuff', foo: undefined, baz: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { thing: 'stuff', foo: undefined, baz: undefined } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.removed('A', 'A2');
    v.expectResult({ fun: 'removed', id: 'A2' });
    v.expectNoResult();
  });

  it('multiple docs removed', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar', baz: 'quux' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar', baz: 'quux' } });
    v.added('A', 'A2', { foo: 'baz' });
    v.expectResult({ fun: 'added', id: 'A2', fields: { foo: 'baz' } });
    v.removed('A', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.removed('A', 'A2');
    v.expectResult({ fun: 'removed', id: 'A2' });
    v.expectNoResult();
  });

  it('complicated sequence', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar', baz: 'quux' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar', baz: 'quux' } });
    v.added('A', 'A2', { foo: 'eats' });
    v.expectResult({ fun: 'added', id: 'A2', fields: { foo: 'eats' } });
    v.added('B', 'A1', { foo: 'baz' });
    v.changed('A', 'A1', { thing: 'stuff', foo: undefined, baz: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 'baz', thing: 'stuff', baz: undefined } });
    v.expectNoResult();
    v.removed('A', 'A1');
    v.removed('A', 'A2');
    v.expectResult({ fun: 'changed', id: 'A1', changed: { thing: undefined } });
    v.expectResult({ fun: 'removed', id: 'A2' });
    v.expectNoResult();
    v.removed('B', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.expectNoResult();
  });

  it('added becomes changed', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 'bar' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { foo: 'bar' } });
    v.added('B', 'A1', { hi: 'there' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { hi: 'there' } });
    v.removed('A', 'A1');
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: undefined } });
    v.removed('B', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
  });

  it('weird key names', () => {
    const v = newView();
    v.added('A', 'A1', {});
    v.expectResult({ fun: 'added', id: 'A1', fields: {} });
    v.changed('A', 'A1', { constructor: 'bla' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { constructor: 'bla' } });
  });

  it('clear undefined value', () => {
    const v = newView();
    v.added('A', 'A1', { field: 'value' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { field: 'value' } });
    v.changed('A', 'A1', { field: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { field: undefined } });
    v.expectNoResult();
    v.changed('A', 'A1', { field: undefined });
    v.expectNoResult();
  });
});

describe('MergeBox: SERVER_MERGE details', () => {
  it('compares with EJSON.equals: an equal Date, binary or object is no change', () => {
    const v = newView();
    v.added('A', 'A1', { at: new Date(5), bytes: new Uint8Array([1]), obj: { a: 1, b: 2 } });
    v.sink.drain();
    v.changed('A', 'A1', { at: new Date(5), bytes: Buffer.from([1]), obj: { b: 2, a: 1 } });
    v.expectNoResult();
    v.changed('A', 'A1', { at: new Date(6) });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { at: new Date(6) } });
  });

  it('a non-holder of the visible value changing it sends nothing, and is revealed later', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 1 });
    v.added('B', 'A1', { foo: 2 });
    v.sink.drain();
    v.changed('B', 'A1', { foo: 3 });
    v.expectNoResult();
    v.changed('A', 'A1', { foo: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 3 } });
  });

  it('a subscription that re-sets a field it cleared goes to the back of the line', () => {
    const v = newView();
    v.added('A', 'A1', { foo: 1 });
    v.added('B', 'A1', { foo: 2 });
    v.sink.drain();
    v.changed('A', 'A1', { foo: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 2 } });
    v.changed('A', 'A1', { foo: 1 });
    v.expectNoResult();
    v.removed('B', 'A1');
    v.expectResult({ fun: 'changed', id: 'A1', changed: { foo: 1 } });
  });

  it('is back on the single-holder path after sharing, and keeps working', () => {
    const v = newView();
    v.added('A', 'A1', { a: 1, s: 'x' });
    v.added('B', 'A1', { b: 2, s: 'y' });
    v.removed('A', 'A1');
    v.sink.drain();
    assert.deepEqual(v.box.snapshot().get('test')?.get('A1'), { b: 2, s: 'y' });
    v.changed('B', 'A1', { s: 'z', b: undefined });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { s: 'z', b: undefined } });
    v.added('C', 'A1', { c: 3, s: 'w' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { c: 3 } });
    v.removed('B', 'A1');
    v.expectResult({ fun: 'changed', id: 'A1', changed: { s: 'w' } });
    v.removed('C', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
  });

  it('ignores _id in added, changed and cleared', () => {
    const v = newView();
    v.added('A', 'A1', { _id: 'A1', a: 1 });
    v.expectResult({ fun: 'added', id: 'A1', fields: { a: 1 } });
    v.box.changed('A', 'test', 'A1', { _id: 'zzz' }, ['_id']);
    v.expectNoResult();
  });

  it('treats undefined values in fields as cleared, and a key both set and cleared as set', () => {
    const v = newView();
    v.added('A', 'A1', { a: 1, b: 2, u: undefined });
    v.expectResult({ fun: 'added', id: 'A1', fields: { a: 1, b: 2 } });
    v.box.changed('A', 'test', 'A1', { a: undefined, b: 3 }, ['b', 'b', 'missing']);
    v.expectResult({ fun: 'changed', id: 'A1', changed: { b: 3, a: undefined } });
    v.expectNoResult();
  });

  it('keeps a __proto__ field as a field', () => {
    const v = newView();
    const fields = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as Fields;
    v.added('A', 'A1', fields);
    const call = v.sink.drain()[0];
    assert.ok(call?.fun === 'added');
    assert.ok(Object.hasOwn(call.fields, '__proto__'));
    assert.equal(Object.getPrototypeOf(v.box.snapshot().get('test')?.get('A1')), Object.prototype);
    assert.deepEqual(Object.keys(v.box.snapshot().get('test')?.get('A1') ?? {}), ['__proto__', 'a']);
  });

  it('clones values on the way in: later mutation by the publisher does not leak', () => {
    const sink = new RecordingSink();
    const received: Fields[] = [];
    const box = new MergeBox({
      added: (collection, id, fields) => {
        received.push(fields);
        sink.added(collection, id, fields);
      },
      changed: (collection, id, fields, cleared) => sink.changed(collection, id, fields, cleared),
      removed: (collection, id) => sink.removed(collection, id),
    });
    const doc = { tags: ['a'], meta: { n: 1 } };
    box.added('A', 'c', 'x', doc);
    doc.tags.push('b');
    doc.meta.n = 2;
    assert.deepEqual(box.snapshot().get('c')?.get('x'), { tags: ['a'], meta: { n: 1 } });
    const change = { meta: { n: 5 } };
    box.changed('A', 'c', 'x', change, []);
    change.meta.n = 6;
    assert.deepEqual(box.snapshot().get('c')?.get('x'), { tags: ['a'], meta: { n: 5 } });
    // What the sink got earlier is not mutated by later changes either.
    assert.deepEqual(received[0], { tags: ['a'], meta: { n: 1 } });
  });

  it("with keepInput, keeps the publisher's objects: hands them on, never copies nor writes to them", () => {
    const sink = new RecordingSink();
    const received: Fields[] = [];
    const box = new MergeBox(
      {
        added: (collection, id, fields) => {
          received.push(fields);
          sink.added(collection, id, fields);
        },
        changed: (collection, id, fields, cleared) => sink.changed(collection, id, fields, cleared),
        removed: (collection, id) => sink.removed(collection, id),
      },
      undefined,
      { reuseInput: true, keepInput: true },
    );
    const doc = deepFreeze({ tags: ['a'], n: 1 });
    box.added('A', 'c', 'x', doc);
    assert.equal(received[0], doc, 'the same object, not a copy');
    box.changed('A', 'c', 'x', deepFreeze({ n: 2 }), []);
    box.added('B', 'c', 'x', deepFreeze({ n: 3, m: { k: 1 } }));
    box.removed('A', 'c', 'x');
    assert.deepEqual(
      sink.drain().map((call) => (call.fun === 'changed' ? call.changed : call.fun)),
      ['added', { n: 2 }, { m: { k: 1 } }, { tags: undefined, n: 3 }],
    );
    assert.deepEqual(box.snapshot().get('c')?.get('x'), { n: 3, m: { k: 1 } });
    assert.deepEqual(doc, { tags: ['a'], n: 1 });
  });

  it('keeps collections apart', () => {
    const sink = new RecordingSink();
    const box = new MergeBox(sink);
    box.added('A', 'c1', 'x', { a: 1 });
    box.added('A', 'c2', 'x', { a: 2 });
    assert.ok(box.has('c1', 'x') && box.has('c2', 'x') && !box.has('c3', 'x'));
    box.removed('A', 'c1', 'x');
    assert.ok(!box.has('c1', 'x') && box.has('c2', 'x'));
    assert.deepEqual(
      sink.drain().map((call) => `${call.fun} ${call.collection}`),
      ['added c1', 'added c2', 'removed c1'],
    );
  });
});

describe('MergeBox: contract violations', () => {
  for (const strategy of ['SERVER_MERGE', 'NO_MERGE_MULTI'] as const) {
    it(`throws MergeBoxError and sends nothing (${strategy})`, () => {
      const v = newView(strategy);
      v.added('A', 'A1', { a: 1 });
      v.sink.drain();
      const code = (expected: string) => (error: unknown) =>
        error instanceof MergeBoxError && error.code === expected && error.name === 'MergeBoxError';
      assert.throws(() => v.changed('A', 'nope', { a: 2 }), code('unknown-document'));
      assert.throws(() => v.removed('A', 'nope'), code('unknown-document'));
      assert.throws(() => v.changed('B', 'A1', { a: 2 }), code('not-held'));
      assert.throws(() => v.removed('B', 'A1'), code('not-held'));
      assert.throws(() => v.added('A', 'A1', { a: 2 }), code('already-held'));
      v.added('B', 'A1', {});
      assert.throws(() => v.added('B', 'A1', {}), code('already-held'));
      assert.throws(() => v.removed('C', 'A1'), code('not-held'));
      v.expectNoResult();
    });
  }
});

describe('MergeBox: publication strategies', () => {
  it('NO_MERGE_NO_HISTORY passes everything through and forgets it', () => {
    const v = newView('NO_MERGE_NO_HISTORY');
    v.added('A', 'A1', { a: 1, _id: 'A1' });
    v.added('B', 'A1', { a: 2 });
    v.changed('A', 'A1', { a: 3, b: undefined });
    v.removed('A', 'A1');
    v.expectResult({ fun: 'added', id: 'A1', fields: { a: 1 } });
    v.expectResult({ fun: 'added', id: 'A1', fields: { a: 2 } });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { a: 3, b: undefined } });
    v.expectResult({ fun: 'removed', id: 'A1' });
    assert.ok(!v.box.has('test', 'A1'));
    v.box.removeSubscription('B', new Map([['test', new Set(['A1'])]]));
    v.expectNoResult();
    assert.equal(v.box.snapshot().size, 0);
  });

  it('NO_MERGE passes everything through and removes the ids a stopped subscription published', () => {
    const v = newView('NO_MERGE');
    v.added('A', 'A1', { a: 1 });
    v.added('A', 'A2', { a: 2 });
    v.changed('A', 'A1', { a: 1 });
    v.sink.drain();
    v.box.removeSubscription('A', new Map([['test', new Set(['A1', 'A2'])]]));
    v.expectResult({ fun: 'removed', id: 'A1' });
    v.expectResult({ fun: 'removed', id: 'A2' });
    v.expectNoResult();
  });

  it('NO_MERGE_MULTI tracks holders without merging fields', () => {
    const v = newView('NO_MERGE_MULTI');
    v.added('A', 'A1', { a: 1, s: 'x' });
    v.expectResult({ fun: 'added', id: 'A1', fields: { a: 1, s: 'x' } });
    // No precedence: the second subscription's fields all go out.
    v.added('B', 'A1', { s: 'y' });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { s: 'y' } });
    v.added('C', 'A1', {});
    v.expectNoResult();
    v.changed('A', 'A1', { a: 1 });
    v.expectResult({ fun: 'changed', id: 'A1', changed: { a: 1 } });
    v.removed('A', 'A1');
    v.expectNoResult();
    v.box.removeSubscription('B', new Map([['test', new Set(['A1', 'unknown'])]]));
    v.expectNoResult();
    assert.ok(v.box.has('test', 'A1'));
    assert.deepEqual(v.box.snapshot().get('test')?.get('A1'), {});
    v.removed('C', 'A1');
    v.expectResult({ fun: 'removed', id: 'A1' });
    assert.ok(!v.box.has('test', 'A1'));
    v.added('A', 'A1', {});
    v.expectResult({ fun: 'added', id: 'A1', fields: {} });
  });

  it('asks for each collection strategy once and applies it per collection', () => {
    const asked: string[] = [];
    const sink = new RecordingSink();
    const box = new MergeBox(sink, (collection) => {
      asked.push(collection);
      return collection === 'queue' ? 'NO_MERGE_NO_HISTORY' : 'SERVER_MERGE';
    });
    box.added('A', 'queue', 'm', { text: 'hi' });
    box.added('B', 'queue', 'm', { text: 'hi' });
    box.added('A', 'docs', 'd', { text: 'hi' });
    box.added('B', 'docs', 'd', { text: 'hi' });
    box.removed('A', 'docs', 'd');
    assert.deepEqual(asked, ['queue', 'docs']);
    assert.deepEqual(
      sink.drain().map((call) => `${call.fun} ${call.collection}`),
      ['added queue', 'added queue', 'added docs'],
    );
  });
});

describe('MergeBox: removeSubscription', () => {
  it('removes what only the subscription held and reveals what others hold', () => {
    const sink = new RecordingSink();
    const box = new MergeBox(sink);
    box.added('A', 'c', 'only-a', { x: 1 });
    box.added('A', 'c', 'shared', { x: 1, y: 1 });
    box.added('B', 'c', 'shared', { x: 2 });
    box.added('A', 'd', 'other', {});
    box.added('B', 'd', 'b-only', {});
    sink.drain();
    box.removeSubscription(
      'A',
      new Map([
        ['c', new Set(['only-a', 'shared'])],
        ['d', new Set(['other', 'b-only'])],
      ]),
    );
    assert.deepEqual(sink.drain(), [
      { fun: 'removed', collection: 'c', id: 'only-a' },
      { fun: 'changed', collection: 'c', id: 'shared', changed: { x: 2, y: undefined } },
      { fun: 'removed', collection: 'd', id: 'other' },
    ]);
    assert.deepEqual(
      box.snapshot(),
      new Map([
        ['c', new Map([['shared', { x: 2 }]])],
        ['d', new Map([['b-only', {}]])],
      ]),
    );
    // Idempotent: a second call finds nothing to do.
    box.removeSubscription('A', new Map([['c', new Set(['only-a', 'shared'])]]));
    assert.deepEqual(sink.drain(), []);
  });
});

describe('snapshot and diffSnapshots', () => {
  it('diffs as Meteor _diffCollectionViews: removed, changed with cleared, added', () => {
    const before: Snapshot = new Map([
      [
        'c',
        new Map<string, Fields>([
          ['gone', { a: 1 }],
          ['same', { a: 1, d: new Date(1) }],
          ['edited', { a: 1, b: 2, c: { deep: [1] } }],
        ]),
      ],
      ['dropped', new Map([['x', {}]])],
    ]);
    const after: Snapshot = new Map([
      [
        'c',
        new Map<string, Fields>([
          ['same', { d: new Date(1), a: 1 }],
          ['edited', { a: 1, c: { deep: [2] }, e: 5 }],
          ['new', { n: 1 }],
        ]),
      ],
      ['fresh', new Map([['y', { z: 0 }]])],
    ]);
    const sink = new RecordingSink();
    diffSnapshots(before, after, sink);
    assert.deepEqual(sink.drain(), [
      { fun: 'removed', collection: 'c', id: 'gone' },
      { fun: 'changed', collection: 'c', id: 'edited', changed: { c: { deep: [2] }, e: 5, b: undefined } },
      { fun: 'added', collection: 'c', id: 'new', fields: { n: 1 } },
      { fun: 'removed', collection: 'dropped', id: 'x' },
      { fun: 'added', collection: 'fresh', id: 'y', fields: { z: 0 } },
    ]);
    diffSnapshots(after, after, sink);
    assert.deepEqual(sink.drain(), []);
  });

  it('replays into a box that reaches the same snapshot', () => {
    const sink = new RecordingSink();
    const box = new MergeBox(sink);
    box.added('A', 'c', '1', { a: 1 });
    box.added('B', 'c', '1', { b: 2 });
    box.added('B', 'c', '2', { c: 3 });
    const client = replay(sink.drain());
    assert.deepEqual(client, box.snapshot());
    const next = new MergeBox(new RecordingSink());
    next.added('A', 'c', '1', { a: 9 });
    next.added('A', 'c', '3', {});
    diffSnapshots(box.snapshot(), next.snapshot(), sink);
    assert.deepEqual(replay(sink.drain(), client), next.snapshot());
  });

  it('reruns (login/logout): withholds tracked output, then sends only the difference', () => {
    const sink = new RecordingSink();
    const box = new MergeBox(sink, (collection) => (collection === 'log' ? 'NO_MERGE' : 'SERVER_MERGE'));
    box.added('N1', 'c', 'kept', { a: 1, b: 1 });
    box.added('N1', 'c', 'lost', { a: 1 });
    box.added('N1', 'log', 'l1', { t: 1 });
    const client = replay(sink.drain());
    const before = box.beginRerun();
    assert.ok(!box.has('c', 'kept'));
    box.added('N1', 'c', 'kept', { a: 1, b: 2 });
    box.added('N1', 'c', 'won', { w: true });
    box.added('N1', 'log', 'l2', { t: 2 });
    // Pass-through collections still send during the rerun.
    assert.deepEqual(sink.drain(), [{ fun: 'added', collection: 'log', id: 'l2', fields: { t: 2 } }]);
    box.endRerun(before);
    assert.deepEqual(sink.drain(), [
      { fun: 'changed', collection: 'c', id: 'kept', changed: { b: 2 } },
      { fun: 'removed', collection: 'c', id: 'lost' },
      { fun: 'added', collection: 'c', id: 'won', fields: { w: true } },
    ]);
    box.changed('N1', 'c', 'kept', { a: 5 }, []);
    assert.deepEqual(sink.drain(), [{ fun: 'changed', collection: 'c', id: 'kept', changed: { a: 5 } }]);
    assert.ok(client.get('c')?.has('kept'));
  });
});

describe('MergeBox: randomized against a reference', () => {
  const configurations = [
    ['copying what it is given', {}],
    ["keeping the publishers' objects, as sessions do", { reuseInput: true, keepInput: true }],
  ] as const;
  for (const [label, options] of configurations) {
    const keeps = 'keepInput' in options;
    it(`keeps the client view equal to the merge of three subscriptions, with only legal messages (${label})`, () => {
      const random = createWithSeeds('merge-box-fuzz');
      const subs = ['A', 'B', 'C'];
      const ids = ['d1', 'd2', 'd3', 'd4'];
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
      const values = [1, 2, 'x', null, { n: 1 }, { n: 2 }, [1, 2], new Date(7), new Uint8Array([3])];
      const randomValue = () => clone(random.choice(values));
      const randomFields = (): Fields => {
        const fields: Fields = {};
        for (const key of keys) if (random.fraction() < 0.4) fields[key] = randomValue();
        // A merge box keeping the publisher's objects must never write to them: frozen, a write would throw.
        return keeps ? deepFreeze(fields) : fields;
      };

      for (let round = 0; round < 20; round++) {
        const sink = new RecordingSink();
        const box = new MergeBox(sink, undefined, options);
        const reference = new ReferenceView();
        const held = new Map(subs.map((sub) => [sub, new Set<string>()]));
        let client: Snapshot = new Map();

        for (let step = 0; step < 300; step++) {
          const sub = random.choice(subs) ?? 'A';
          const id = random.choice(ids) ?? 'd1';
          const mine = held.get(sub) ?? new Set();
          const dice = random.fraction();
          if (dice < 0.03) {
            box.removeSubscription(sub, new Map([['c', new Set(mine)]]));
            for (const doc of mine) reference.removed(sub, doc);
            mine.clear();
          } else if (!mine.has(id)) {
            const fields = randomFields();
            box.added(sub, 'c', id, fields);
            reference.added(sub, id, fields);
            mine.add(id);
            // The publisher mutating its objects afterwards must not matter (unless it promised not to).
            if (!keeps) {
              for (const value of Object.values(fields))
                if (value && typeof value === 'object') Object.assign(value, { n: 'mutated' });
            }
          } else if (dice < 0.8) {
            const fields = randomFields();
            const cleared = keys.filter((key) => !(key in fields) && random.fraction() < 0.25);
            box.changed(sub, 'c', id, fields, cleared);
            reference.changed(sub, id, fields, cleared);
          } else {
            box.removed(sub, 'c', id);
            reference.removed(sub, id);
            mine.delete(id);
          }
          client = replay(sink.drain(), client);
          const expected = reference.view('c');
          assert.deepEqual(client, expected, `round ${round} step ${step}`);
          assert.deepEqual(box.snapshot(), expected);
          for (const doc of ids) assert.equal(box.has('c', doc), expected.get('c')?.has(doc) ?? false);
        }
      }
    });
  }
});
