import assert from 'node:assert/strict';
import {
  addType,
  clone,
  EjsonParseError,
  equals,
  fromJSONValue,
  hasType,
  isBinary,
  isEjsonParseError,
  type JsonValue,
  parse,
  stringify,
  toJSONValue,
} from './ejson.js';
import { ObjectId } from './ids.js';

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  typeName(): string {
    return 'test-point';
  }
  toJSONValue(): JsonValue {
    return { x: this.x, y: this.y };
  }
}
if (!hasType('test-point')) {
  addType('test-point', (json) => {
    const { x, y } = json as { x: number; y: number };
    return new Point(x, y);
  });
}

function roundTrip(value: unknown): unknown {
  return parse(stringify(value));
}

describe('ejson', () => {
  it('round-trips Dates as $date', () => {
    const date = new Date(1700000000123);
    assert.equal(stringify(date), '{"$date":1700000000123}');
    const back = roundTrip({ at: date }) as { at: Date };
    assert.ok(back.at instanceof Date);
    assert.equal(back.at.getTime(), date.getTime());
  });

  it('round-trips binaries as standard base64 $binary', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 255]);
    assert.equal(stringify(bytes), '{"$binary":"AAEC+vv/"}');
    const back = roundTrip([bytes]) as [Uint8Array];
    assert.ok(back[0] instanceof Uint8Array && isBinary(back[0]));
    assert.deepEqual([...back[0]], [...bytes]);
    assert.equal(stringify(Buffer.from('hi')), '{"$binary":"aGk="}');
  });

  it('round-trips NaN and ±Infinity as $InfNaN', () => {
    assert.equal(
      stringify([Number.NaN, Number.POSITIVE_INFINITY, -Infinity]),
      '[{"$InfNaN":0},{"$InfNaN":1},{"$InfNaN":-1}]',
    );
    const back = roundTrip({ n: Number.NaN, p: Number.POSITIVE_INFINITY, m: -Infinity }) as Record<
      string,
      number
    >;
    assert.ok(Number.isNaN(back.n));
    assert.equal(back.p, Number.POSITIVE_INFINITY);
    assert.equal(back.m, -Infinity);
  });

  it('round-trips RegExps as $regexp/$flags', () => {
    assert.equal(stringify(/a+b/gi), '{"$regexp":"a+b","$flags":"gi"}');
    const back = roundTrip({ r: /^x\d$/m }) as { r: RegExp };
    assert.ok(back.r instanceof RegExp);
    assert.equal(back.r.source, '^x\\d$');
    assert.equal(back.r.flags, 'm');
  });

  it('round-trips custom types as $type/$value', () => {
    assert.equal(stringify(new Point(1, 2)), '{"$type":"test-point","$value":{"x":1,"y":2}}');
    const back = roundTrip({ p: new Point(3, 4) }) as { p: Point };
    assert.ok(back.p instanceof Point);
    assert.deepEqual([back.p.x, back.p.y], [3, 4]);
  });

  it('knows Mongo ObjectIDs (oid) out of the box', () => {
    const id = new ObjectId('0123456789abcdef01234567');
    assert.equal(stringify(id), '{"$type":"oid","$value":"0123456789abcdef01234567"}');
    const back = parse('{"$type":"oid","$value":"0123456789abcdef01234567"}');
    assert.ok(back instanceof ObjectId && equals(back, id));
    assert.ok(equals(clone(id), id));
  });

  it('leaves objects that only resemble a type alone: {"$date":1,"extra":2} stays a plain object', () => {
    assert.deepEqual(parse('{"$date":1,"extra":2}'), { $date: 1, extra: 2 });
    assert.equal(stringify({ $date: 1, extra: 2 }), '{"$date":1,"extra":2}');
    assert.deepEqual(parse('{"$type":"x","$value":1,"more":true}'), { $type: 'x', $value: 1, more: true });
  });

  it('escapes user objects that look like EJSON, and unescapes them on parse', () => {
    for (const lookalike of [
      { $date: 5 },
      { $binary: 'AA==' },
      { $InfNaN: 1 },
      { $regexp: 'x', $flags: '' },
      { $type: 'nope', $value: 1 },
      { $escape: { a: 1 } },
    ]) {
      const text = stringify({ v: lookalike });
      assert.equal(text, `{"v":{"$escape":${JSON.stringify(lookalike)}}}`);
      assert.deepEqual(parse(text), { v: lookalike });
    }
    // Inside an escape, values are EJSON again.
    assert.deepEqual(parse('{"$escape":{"$date":{"$date":7}}}'), { $date: new Date(7) });
  });

  it('converts between values and plain JSON without touching the input', () => {
    const input = { when: new Date(3), tags: ['a'] };
    const json = toJSONValue(input);
    assert.deepEqual(json, { when: { $date: 3 }, tags: ['a'] });
    assert.ok(input.when instanceof Date);
    const jsonInput = { when: { $date: 3 } };
    const value = fromJSONValue(jsonInput) as { when: Date };
    assert.ok(value.when instanceof Date);
    assert.deepEqual(jsonInput, { when: { $date: 3 } });
  });

  it('throws a distinguishable EjsonParseError for an unknown custom type', () => {
    assert.throws(
      () => parse('{"a":[{"$type":"martian","$value":1}]}'),
      (error: unknown) => {
        assert.ok(error instanceof EjsonParseError && isEjsonParseError(error));
        assert.equal(error.code, 'unknown-type');
        assert.equal(error.typeName, 'martian');
        return true;
      },
    );
    assert.throws(() => fromJSONValue({ $type: 'martian', $value: 1 }), { code: 'unknown-type' });
  });

  it('throws EjsonParseError for text that is not JSON and for rejected values', () => {
    assert.throws(() => parse('{"msg":'), { name: 'EjsonParseError', code: 'invalid-json' });
    assert.throws(() => parse('{"$type":"oid","$value":"zz"}'), {
      name: 'EjsonParseError',
      code: 'invalid-value',
    });
    assert.ok(!isEjsonParseError(new Error('x')));
  });

  it('treats a Buffer and a Uint8Array with the same bytes as equal', () => {
    assert.ok(equals(Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3])));
    assert.ok(equals({ b: new Uint8Array([1, 2, 3]) }, { b: Buffer.from([1, 2, 3]) }));
    assert.ok(!equals(Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 4])));
    const copy = clone(Buffer.from([9]));
    assert.ok(copy instanceof Uint8Array && equals(copy, new Uint8Array([9])));
  });

  it('compares as Meteor does: NaN equals NaN, Dates by time, key order only on request', () => {
    assert.ok(equals(Number.NaN, Number.NaN));
    assert.ok(equals(new Date(5), new Date(5)));
    assert.ok(!equals(new Date(5), new Date(6)));
    assert.ok(equals({ a: 1, b: 2 }, { b: 2, a: 1 }));
    assert.ok(!equals({ a: 1, b: 2 }, { b: 2, a: 1 }, { keyOrderSensitive: true }));
    assert.ok(!equals({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!equals([1], { 0: 1 }));
  });

  it('preserves key order through stringify, parse and clone', () => {
    const text = '{"zeta":1,"alpha":{"c":1,"b":2,"a":3},"mid":[{"y":1,"x":2}],"when":{"$date":1}}';
    const value = parse(text);
    assert.equal(stringify(value), text);
    assert.deepEqual(Object.keys(value as object), ['zeta', 'alpha', 'mid', 'when']);
    assert.deepEqual(Object.keys(clone(value) as object), ['zeta', 'alpha', 'mid', 'when']);
    assert.equal(stringify(parse('{"$escape":{"z":1,"$date":2}}')), '{"z":1,"$date":2}');
  });

  it('clones deeply, so mutating the copy leaves the original alone', () => {
    const original = { list: [{ n: 1 }], when: new Date(1), bytes: new Uint8Array([1]) };
    const copy = clone(original);
    copy.list[0]!.n = 2;
    copy.when.setTime(2);
    copy.bytes[0] = 2;
    assert.deepEqual(original, { list: [{ n: 1 }], when: new Date(1), bytes: new Uint8Array([1]) });
  });

  it('stringifies canonically and with indentation on request', () => {
    assert.equal(stringify({ b: 1, a: 2 }, { canonical: true }), '{"a":2,"b":1}');
    assert.equal(stringify({ a: 1 }, { indent: true }), '{\n  "a": 1\n}');
  });
});

describe('toJSONValue fast path', () => {
  it('hands plain JSON back untouched and converts only what needs EJSON', () => {
    const plain = { title: 'x'.repeat(200_000), n: [1, 2, { deep: true }], nothing: null };
    assert.equal(toJSONValue(plain), plain, 'no clone for plain JSON');
    assert.deepEqual(toJSONValue({ at: new Date(5), list: [Number.NaN] }), {
      at: { $date: 5 },
      list: [{ $InfNaN: 0 }],
    });
    assert.deepEqual(toJSONValue({ nested: { $date: 1 } }), { nested: { $escape: { $date: 1 } } });
    assert.deepEqual(toJSONValue(new Uint8Array([0, 1, 2])), { $binary: 'AAEC' });
  });
});
