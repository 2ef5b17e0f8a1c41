import assert from 'node:assert/strict';
import { decode as msgpackDecode } from '@msgpack/msgpack';
import { Encoder as CborXEncoder, decode as cborXDecode } from 'cbor-x';
import { ProtocolViolation } from './errors.js';
import {
  cborSerializer,
  encodeCbor,
  jsonSerializer,
  msgpackSerializer,
  serializerFor,
} from './serializers.js';

const sample = [
  36,
  2 ** 53,
  4294967297,
  { topic: 'com.a', nested: { list: [1, -1, -4294967297, 1.5, true, null, 'ünï'] } },
  ['x'],
];

function numbers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(numbers);
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, numbers(v)]));
  }
  return value;
}

describe('WAMP serializers', () => {
  describe('json', () => {
    it('encodes binary as "\\u0000" + base64 and decodes it back to bytes', () => {
      const text = jsonSerializer.encode([
        1,
        new Uint8Array([1, 2, 255]),
        { b: Buffer.from('hi') },
      ]) as string;
      assert.equal(text, '[1,"\\u0000AQL/",{"b":"\\u0000aGk="}]');
      const back = jsonSerializer.decode(text) as [number, Uint8Array, { b: Uint8Array }];
      assert.ok(back[1] instanceof Uint8Array);
      assert.deepEqual([...back[1]], [1, 2, 255]);
      assert.equal(Buffer.from(back[2].b).toString(), 'hi');
    });

    it('leaves ordinary strings alone and round-trips integers up to 2^53', () => {
      assert.deepEqual(jsonSerializer.decode(jsonSerializer.encode(sample)), sample);
    });

    it('refuses binary frames and invalid JSON with a protocol violation', () => {
      assert.throws(() => jsonSerializer.decode(new Uint8Array([91, 93])), ProtocolViolation);
      assert.throws(() => jsonSerializer.decode('[1,'), ProtocolViolation);
    });
  });

  describe('msgpack', () => {
    it('round-trips integers up to 2^53, floats and binary (bin ⇄ Uint8Array)', () => {
      const value = [...sample, new Uint8Array([0, 1])];
      const encoded = msgpackSerializer.encode(value) as Uint8Array;
      assert.deepEqual(msgpackDecode(encoded), value);
      const back = msgpackSerializer.decode(encoded) as unknown[];
      assert.deepEqual(back.slice(0, sample.length), sample);
      assert.ok(back[sample.length] instanceof Uint8Array);
    });

    it('refuses text frames and garbage', () => {
      assert.throws(() => msgpackSerializer.decode('[]'), ProtocolViolation);
      assert.throws(() => msgpackSerializer.decode(new Uint8Array([0xc1])), ProtocolViolation);
    });
  });

  describe('cbor', () => {
    it('writes integers above 2^32 as CBOR integers, not floats', () => {
      assert.deepEqual([...encodeCbor(2 ** 53)], [0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual([...encodeCbor(-4294967297)], [0x3b, 0, 0, 0, 1, 0, 0, 0, 0]);
      assert.deepEqual([...encodeCbor(1.5)], [0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual([...encodeCbor(23)], [23]);
      assert.deepEqual([...encodeCbor(-1)], [0x20]);
    });

    it('agrees with cbor-x both ways, binary as byte strings', () => {
      const value = [...sample, new Uint8Array([9, 8]), { u: undefined, d: 'x' }];
      // Plain cbor-x decodes 64-bit integers as bigint: compare as numbers.
      const decodedByCborX = numbers(cborXDecode(encodeCbor(value) as Buffer)) as unknown[];
      assert.deepEqual(decodedByCborX.slice(0, sample.length), sample);
      assert.deepEqual([...(decodedByCborX[sample.length] as Uint8Array)], [9, 8]);
      assert.deepEqual(decodedByCborX[sample.length + 1], { d: 'x' });
      const fromCborX = new CborXEncoder({ useRecords: false }).encode([1, 9007199254740991, 'a']);
      assert.deepEqual(cborSerializer.decode(fromCborX), [1, 9007199254740991, 'a']);
      assert.deepEqual(cborSerializer.decode(cborSerializer.encode(sample)), sample);
    });

    it('decodes 64-bit integers as numbers (not bigint)', () => {
      const bytes = new Uint8Array([0x81, 0x1b, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      assert.deepEqual(cborSerializer.decode(bytes), [2 ** 53 - 1]);
    });

    it('refuses text frames and garbage', () => {
      assert.throws(() => cborSerializer.decode('[]'), ProtocolViolation);
      assert.throws(() => cborSerializer.decode(new Uint8Array([0x5f, 0x41])), ProtocolViolation);
    });
  });

  it('maps subprotocols to serializers', () => {
    assert.equal(serializerFor('wamp.2.json'), jsonSerializer);
    assert.equal(serializerFor('wamp.2.msgpack'), msgpackSerializer);
    assert.equal(serializerFor('wamp.2.cbor'), cborSerializer);
    assert.equal(serializerFor('wamp.2.ubjson'), undefined);
  });
});
