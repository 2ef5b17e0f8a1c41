/**
 * Field projections: inclusion, exclusion, the key always kept, and the `projectedColumns` set.
 */
import assert from 'node:assert/strict';
import { compileQuery } from './compile.js';
import { items } from './fixtures/tables.js';

const doc = { id: 'k', title: 't', n: 1, ok: true };

describe('query projection', () => {
  it('keeps everything without fields (and returns the document itself)', () => {
    const query = compileQuery(items, {});
    assert.equal(query.projectedColumns, undefined);
    assert.equal(query.project(doc), doc);
    assert.equal(compileQuery(items, {}, { fields: {} }).projectedColumns, undefined);
  });

  it('inclusion keeps the listed columns and the key', () => {
    const query = compileQuery(items, {}, { fields: { title: 1, ok: true } });
    assert.deepEqual([...(query.projectedColumns ?? [])], ['id', 'title', 'ok']);
    assert.deepEqual(query.project(doc), { id: 'k', title: 't', ok: true });
    assert.deepEqual(query.project({ id: 'k' }), { id: 'k' });
  });

  it('exclusion drops the listed columns, never the key', () => {
    const query = compileQuery(items, {}, { fields: { title: 0, n: false, _id: 0 } });
    assert.equal(query.projectedColumns?.has('title'), false);
    assert.equal(query.projectedColumns?.has('id'), true);
    assert.equal(query.projectedColumns?.has('meta'), true);
    assert.deepEqual(query.project(doc), { id: 'k', ok: true });
  });

  it('_id may accompany inclusion with any value; { _id: 1 } alone keeps only the key', () => {
    assert.deepEqual(compileQuery(items, {}, { fields: { _id: 0, n: 1 } }).project(doc), { id: 'k', n: 1 });
    const keyOnly = compileQuery(items, {}, { fields: { _id: 1 } });
    assert.deepEqual([...(keyOnly.projectedColumns ?? [])], ['id']);
    assert.deepEqual(keyOnly.project(doc), { id: 'k' });
  });
});
