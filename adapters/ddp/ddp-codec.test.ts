import assert from 'node:assert/strict';
import { MergeBox } from '../../core/merge-box.js';
import { encodeServerMessage, parseClientMessage } from './ddp-codec.js';

describe('DDP codec', () => {
  it('encodes EJSON fields and results, omits empty fields and cleared, drops undefined results', () => {
    assert.equal(
      encodeServerMessage({
        msg: 'added',
        collection: 'c',
        id: 'x',
        fields: { d: new Date(5), n: Number.NaN },
      }),
      '{"msg":"added","collection":"c","id":"x","fields":{"d":{"$date":5},"n":{"$InfNaN":0}}}',
    );
    assert.equal(
      encodeServerMessage({ msg: 'changed', collection: 'c', id: 'x', fields: {}, cleared: ['a'] }),
      '{"msg":"changed","collection":"c","id":"x","cleared":["a"]}',
    );
    assert.equal(
      encodeServerMessage({ msg: 'result', id: '1', result: undefined }),
      '{"msg":"result","id":"1"}',
    );
    assert.equal(
      encodeServerMessage({ msg: 'result', id: '1', result: { $date: 1 } }),
      '{"msg":"result","id":"1","result":{"$escape":{"$date":1}}}',
    );
  });

  it('parses params as EJSON and reports what Meteor calls Bad request and Parse error', () => {
    const parsed = parseClientMessage('{"msg":"method","id":"1","method":"m","params":[{"$date":7}]}');
    assert.ok(parsed.kind === 'message' && parsed.message.msg === 'method');
    assert.ok(parsed.message.params[0] instanceof Date);
    assert.equal(parseClientMessage('{nope').kind, 'bad-request');
    assert.equal(parseClientMessage('{"id":"1"}').kind, 'no-msg');
    assert.equal(parseClientMessage('[1,2]').kind, 'no-msg');
    assert.equal(parseClientMessage('42').kind, 'bad-request');
    assert.equal(parseClientMessage('null').kind, 'bad-request');
    assert.equal(
      parseClientMessage('{"msg":"method","params":[{"$type":"unknownType","$value":1}]}').kind,
      'parse-error',
    );
  });

  it('serializes one observer emission once for every session it reaches', () => {
    let reads = 0;
    const fields = {
      get title() {
        reads++;
        return 'shared';
      },
    };
    // Two sessions' merge boxes receive the same emission; their sinks encode it.
    const frames: string[] = [];
    const sink = {
      added: (collection: string, id: string, f: Record<string, unknown>) =>
        frames.push(encodeServerMessage({ msg: 'added', collection, id, fields: f })),
      changed: () => {},
      removed: () => {},
    };
    const a = new MergeBox(sink, undefined, { reuseInput: true });
    const b = new MergeBox(sink, undefined, { reuseInput: true });
    a.added('N1', 'c', 'x', fields);
    const readsAfterFirst = reads;
    b.added('N1', 'c', 'x', fields);
    assert.equal(frames[0], frames[1]);
    assert.equal(frames[0], '{"msg":"added","collection":"c","id":"x","fields":{"title":"shared"}}');
    // The second session copies the value into its merge box (one read) but does not encode again.
    assert.equal(reads - readsAfterFirst, 1, 'encoded once, not once per session');
  });

  it('gives sessions with different merge-box state each their own message for one shared emission', () => {
    // One emission with EJSON values (date, binary, NaN) reaches three sessions. Session b already holds the
    // document through another subscription, so it gets a `changed` with only the keys it lacks; a and c get the
    // shared `added`, encoded once. Then an unrelated message in between must not be served from the cache.
    const fields = {
      when: new Date(Date.UTC(2024, 0, 2)),
      bytes: new Uint8Array([1, 2, 255]),
      n: Number.NaN,
    };
    const frames: string[][] = [[], [], []];
    const boxes = frames.map(
      (out) =>
        new MergeBox(
          {
            added: (collection, id, f) =>
              out.push(encodeServerMessage({ msg: 'added', collection, id, fields: f })),
            changed: (collection, id, f, cleared) =>
              out.push(encodeServerMessage({ msg: 'changed', collection, id, fields: f, cleared })),
            removed: (collection, id) => out.push(encodeServerMessage({ msg: 'removed', collection, id })),
          },
          undefined,
          { reuseInput: true, keepInput: true },
        ),
    );
    const [a, b, c] = boxes as [MergeBox, MergeBox, MergeBox];
    b.added('N0', 'c', 'x', { n: 1 });
    const stringify = JSON.stringify;
    let encodings = 0;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      encodings++;
      return stringify(...args);
    }) as typeof JSON.stringify;
    try {
      a.added('N1', 'c', 'x', fields);
      b.added('N1', 'c', 'x', fields);
      c.added('N1', 'c', 'x', fields);
      a.added('N1', 'c', 'y', fields); // same fields object, another document
      c.changed('N1', 'c', 'x', { n: 2 }, []);
    } finally {
      JSON.stringify = stringify;
    }
    const added =
      '{"msg":"added","collection":"c","id":"x","fields":{"when":{"$date":1704153600000},"bytes":{"$binary":"AQL/"},"n":{"$InfNaN":0}}}';
    assert.deepEqual(frames[0], [added, added.replace('"id":"x"', '"id":"y"')]);
    assert.deepEqual(frames[1], [
      '{"msg":"added","collection":"c","id":"x","fields":{"n":1}}',
      '{"msg":"changed","collection":"c","id":"x","fields":{"when":{"$date":1704153600000},"bytes":{"$binary":"AQL/"}}}',
    ]);
    assert.deepEqual(frames[2], [added, '{"msg":"changed","collection":"c","id":"x","fields":{"n":2}}']);
    assert.equal(encodings, 4, 'x for a and c once, b its own, y, and the change');
  });

  it('encodes a removal fanned out to consecutive sessions once, and never confuses two removals', () => {
    const stringify = JSON.stringify;
    let encodings = 0;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      encodings++;
      return stringify(...args);
    }) as typeof JSON.stringify;
    try {
      const texts = ['x', 'x', 'x', 'y', 'x'].map((id) =>
        encodeServerMessage({ msg: 'removed', collection: 'c', id }),
      );
      const other = encodeServerMessage({ msg: 'removed', collection: 'd', id: 'x' });
      assert.deepEqual(
        texts,
        ['x', 'x', 'x', 'y', 'x'].map((id) => `{"msg":"removed","collection":"c","id":"${id}"}`),
      );
      assert.equal(other, '{"msg":"removed","collection":"d","id":"x"}');
      assert.equal(encodings, 4, 'x once for its three consecutive sessions, then y, x and d/x');
    } finally {
      JSON.stringify = stringify;
    }
  });
});
