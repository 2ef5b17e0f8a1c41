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
    assert.ok(parsed.kind === 'message');
    assert.ok((parsed.message.params as unknown[])[0] instanceof Date);
    assert.equal(parseClientMessage('{nope').kind, 'bad-request');
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
