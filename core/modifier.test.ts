import assert from 'node:assert/strict';
import { ClientError } from './errors.js';
import { type Assignment, compileModifier, NO_REPLACE_REASON, parseModifier } from './modifier.js';
import { items } from './query/fixtures/tables.js';

/** Asserts `fn` throws a ClientError with exactly this code and reason. */
function throwsClient(fn: () => unknown, error: string | number, reason: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ClientError, `expected a ClientError, got ${String(e)}`);
    assert.equal(e.error, error);
    assert.equal(e.reason, reason);
    return true;
  });
}

function compile(modifier: unknown): Array<[string, string, unknown]> {
  return compileModifier(parseModifier(modifier), items, 'items').map((a: Assignment) => [
    a.op,
    a.column.name,
    a.op === 'set' ? a.value : a.op === 'inc' ? a.by : undefined,
  ]);
}

/** Mongo-style modifiers → column assignments, with Meteor's checks for restricted collections. */
describe('update modifiers', () => {
  it('names the top-level fields touched, as allow/deny update rules get them', () => {
    const parsed = parseModifier({
      $set: { title: 'x', 'meta.a': 1 },
      $inc: { n: 1 },
      $unset: { title: '' },
    });
    assert.deepEqual(parsed.fieldNames, ['title', 'meta', 'n']);
  });

  it("refuses replacements and empty modifiers with Meteor's 403", () => {
    throwsClient(() => parseModifier({ title: 'x' }), 403, NO_REPLACE_REASON);
    throwsClient(() => parseModifier({ $set: { title: 'x' }, title: 'y' }), 403, NO_REPLACE_REASON);
    throwsClient(() => parseModifier({}), 403, NO_REPLACE_REASON);
    throwsClient(() => parseModifier('x'), 400, 'Match failed');
  });

  it("refuses operators Meteor does not allow on restricted collections, with Meteor's message", () => {
    throwsClient(
      () => parseModifier({ $rename: { a: 'b' } }),
      403,
      'Access denied. Operator $rename not allowed in a restricted collection.',
    );
    throwsClient(() => parseModifier({ $set: 1 }), 409, "Modifier $set's argument must be an object");
  });

  it('maps $set, $unset and $inc onto columns; $set of null clears', () => {
    assert.deepEqual(compile({ $set: { title: 'x', ok: null }, $unset: { meta: '' }, $inc: { n: -2 } }), [
      ['set', 'title', 'x'],
      ['unset', 'ok', undefined],
      ['unset', 'meta', undefined],
      ['inc', 'n', -2],
    ]);
  });

  it('refuses what it cannot map: other operators, nested paths, unknown fields, the key, conflicts', () => {
    throwsClient(() => compile({ $push: { meta: 1 } }), 400, 'Update operator $push is not supported');
    throwsClient(
      () => compile({ $set: { 'meta.a': 1 } }),
      400,
      "Nested field paths are not supported: 'meta.a'",
    );
    throwsClient(() => compile({ $set: { nope: 1 } }), 400, "Unknown field 'nope' for collection 'items'");
    throwsClient(() => compile({ $set: { _id: 'x' } }), 409, 'Mod on _id not allowed');
    throwsClient(() => compile({ $set: { id: 'x' } }), 409, 'Mod on _id not allowed');
    throwsClient(
      () => compile({ $set: { n: 1 }, $inc: { n: 1 } }),
      409,
      "Updating the path 'n' would create a conflict at 'n'",
    );
    throwsClient(() => compile({ $inc: { n: '1' } }), 409, 'Modifier $inc allowed for numbers only');
    throwsClient(
      () => compile({ $inc: { title: 1 } }),
      409,
      "Cannot apply $inc to a value of non-numeric type (field 'title')",
    );
  });
});
