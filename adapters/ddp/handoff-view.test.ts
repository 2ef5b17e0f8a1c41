/** The hand-off's text forms (handoff-view.ts): documents stored once, views and subscriptions round-tripped. */
import assert from 'node:assert/strict';
import type { Fields, Snapshot } from '../../core/merge-box.js';
import {
  DocumentTable,
  decodeSubscriptions,
  decodeView,
  encodeSubscriptions,
  encodeView,
  hashSessionId,
  parseDocument,
  parseView,
  viewDocumentNumbers,
} from './handoff-view.js';

describe('DDP hand-off view encoding', () => {
  it('stores each distinct content once, whichever sessions and ids hold it', () => {
    const shared = { title: 'A', n: 1 };
    const table = new DocumentTable();
    const one: Snapshot = new Map([
      [
        'tasks',
        new Map<string, Fields>([
          ['a', shared],
          ['b', { title: 'B' }],
        ]),
      ],
    ]);
    const two: Snapshot = new Map([
      [
        'tasks',
        new Map<string, Fields>([
          ['a', shared],
          ['c', { title: 'A', n: 1 }],
        ]),
      ],
      ['users', new Map<string, Fields>([['u', { name: 'U' }]])],
    ]);
    const texts = [encodeView(one, table), encodeView(two, table)];
    assert.deepEqual(table.texts, ['{"title":"A","n":1}', '{"title":"B"}', '{"name":"U"}']);
    assert.deepEqual(JSON.parse(texts[1] as string), { tasks: ['a', 0, 'c', 0], users: ['u', 2] });
    assert.deepEqual(viewDocumentNumbers(parseView(texts[1] as string)).sort(), [0, 2]);
  });

  it('decodes a view back to the snapshot, EJSON values included', () => {
    const when = new Date('2026-01-02T03:04:05.006Z');
    const view: Snapshot = new Map([
      [
        'tasks',
        new Map<string, Fields>([
          ['a', { at: when, tags: ['x'] }],
          ['b', {}],
        ]),
      ],
    ]);
    const table = new DocumentTable();
    const text = encodeView(view, table);
    const contents = new Map(table.texts.map((t, n) => [n, parseDocument(t)]));
    const back = decodeView(parseView(text), contents);
    assert.deepEqual(back, view);
    assert.ok(back.get('tasks')?.get('a')?.at instanceof Date);
    assert.throws(() => decodeView(parseView(text), new Map()), /missing document/);
  });

  it('round-trips subscriptions and hashes session ids', () => {
    const subs = [{ id: 's1', name: 'tasks', params: [new Date(0), { a: 1 }] }];
    assert.deepEqual(decodeSubscriptions(encodeSubscriptions(subs)), subs);
    assert.equal(hashSessionId('abc'), 'ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
    assert.notEqual(hashSessionId('abc'), hashSessionId('abd'));
  });
});
