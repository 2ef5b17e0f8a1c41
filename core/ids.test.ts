import assert from 'node:assert/strict';
import { idParse, idStringify, looksLikeObjectId, type MeteorId, ObjectId } from './ids.js';

describe('ids (Meteor MongoID.idStringify / idParse)', () => {
  const hex = '0123456789abcdef01234567';

  it('passes plain strings through', () => {
    assert.equal(idStringify('abc'), 'abc');
    assert.equal(idStringify('Jjwjg6gouWLXhMGKW'), 'Jjwjg6gouWLXhMGKW');
    assert.equal(idStringify(''), '');
    assert.equal(idStringify('a-b~c{'), 'a-b~c{');
  });

  it('escapes strings starting with -, ~ or { with a - prefix', () => {
    assert.equal(idStringify('-abc'), '--abc');
    assert.equal(idStringify('~42'), '-~42');
    assert.equal(idStringify('{x}'), '-{x}');
    assert.equal(idStringify('-'), '--');
  });

  it('escapes 24-lowercase-hex strings, which clients would read as ObjectIDs', () => {
    assert.equal(idStringify(hex), `-${hex}`);
    assert.equal(idStringify(hex.toUpperCase()), hex.toUpperCase());
    assert.equal(idStringify(hex.slice(1)), hex.slice(1));
    assert.ok(looksLikeObjectId(hex));
    assert.ok(!looksLikeObjectId(`${hex}0`));
  });

  it('encodes numbers, booleans and null as ~ plus JSON', () => {
    assert.equal(idStringify(42), '~42');
    assert.equal(idStringify(-1.5), '~-1.5');
    assert.equal(idStringify(true), '~true');
    assert.equal(idStringify(false), '~false');
    assert.equal(idStringify(null), '~null');
    assert.throws(() => idStringify(Number.NaN), TypeError);
    assert.throws(() => idStringify(Number.POSITIVE_INFINITY), TypeError);
  });

  it('encodes an ObjectId as its hex', () => {
    assert.equal(idStringify(new ObjectId(hex.toUpperCase())), hex);
  });

  it('parses back what it encodes', () => {
    const ids: MeteorId[] = ['abc', '', '-abc', '--x', '~42', '{a}', hex, 42, 0, -3.25, true, false, null];
    for (const id of ids) assert.deepEqual(idParse(idStringify(id)), id, `round trip of ${String(id)}`);
    const parsed = idParse(idStringify(new ObjectId(hex)));
    assert.ok(parsed instanceof ObjectId && parsed.equals(new ObjectId(hex)));
  });

  it('parses the special wire forms as Meteor does', () => {
    assert.equal(idParse('-'), undefined);
    assert.equal(idParse('--abc'), '-abc');
    assert.equal(idParse('~42'), 42);
    assert.ok(idParse(hex) instanceof ObjectId);
    assert.throws(() => idParse('~abc'), TypeError);
    assert.throws(() => idParse('~"str"'), TypeError);
  });
});

describe('ObjectId', () => {
  it('validates and normalizes its hex', () => {
    assert.equal(new ObjectId('0123456789ABCDEF01234567').hex, '0123456789abcdef01234567');
    assert.throws(() => new ObjectId('xyz'), TypeError);
    const id = new ObjectId('0123456789abcdef01234567');
    assert.equal(id.toString(), 'ObjectID("0123456789abcdef01234567")');
    assert.equal(id.typeName(), 'oid');
    assert.ok(id.clone().equals(id) && id.clone() !== id);
  });
});
