import assert from 'node:assert/strict';
import type { Fields } from './contexts.js';
import type { ColumnInfo, Row, TableInfo } from './database/table-info.js';
import { deepFreeze, RecordingSink, ReferenceView, replay } from './fixtures/merge-box-reference.js';
import { CollectionBinding } from './live/collection-binding.js';
import { LiveObserver, type ObserverEvent, type ObserverListener } from './live/live-observer.js';
import { silentLogger } from './logger.js';
import { MergeBox, type PublishedDocuments, type Snapshot } from './merge-box.js';
import { createWithSeeds } from './random/alea.js';

/**
 * The merge box with documents kept by their sources (DESIGN.md decision 15): real live observers (the emission
 * machinery of core/live/live-observer.ts, rows from memory instead of SQL) feed subscriptions that hand the merge
 * box the observer's answers instead of copies. Whatever the interleaving — two subscriptions on one observer (a
 * listener asked about the document being emitted before its turn), observers handed a change in either order,
 * an observer re-reading its result after missing changes (many documents in one step), a low-level publisher
 * next to them, a source taken over mid-way — the client must see exactly what Meteor's rules say.
 */

const key: ColumnInfo = { name: 'id', kind: 'text', pgType: 'text' };
const table: TableInfo = {
  schema: 'public',
  name: 'items',
  qualifiedName: 'public.items',
  key,
  columns: new Map([['id', key]]),
};
const binding = new CollectionBinding(
  { name: 'c', table: 'items', strategy: 'SERVER_MERGE', rules: undefined },
  table,
);

/** A live observer over an in-memory table: the real emission machinery, rows from a Map instead of SQL. */
class MemoryObserver extends LiveObserver {
  constructor(
    name: string,
    private readonly rows: Map<string, Row>,
    private readonly where: (row: Row) => boolean,
    /** Published columns (a projection); undefined: all. */
    private readonly columns?: readonly string[],
  ) {
    super(name, binding, () => 0, silentLogger, 0);
  }

  get tables(): readonly string[] {
    return ['public.items'];
  }

  protected get replayDuringRequery(): boolean {
    return false;
  }

  protected relevant(): boolean {
    return true;
  }

  protected fieldsOf(row: Row): Fields {
    const fields = binding.fields(row);
    if (this.columns === undefined) return deepFreeze(fields);
    const projected: Fields = {};
    for (const name of this.columns) if (name in fields) projected[name] = fields[name];
    return deepFreeze(projected);
  }

  protected fetch(): Promise<Row[]> {
    return Promise.resolve([...this.rows.values()].filter((row) => this.where(row)));
  }

  protected apply(event: ObserverEvent): boolean {
    if (event.kind !== 'change') return false;
    if (event.row !== undefined && event.op !== 'delete' && this.where(event.row))
      this.put(event.id, event.row);
    else this.drop(event.id);
    return true;
  }
}

/** A subscription's feed of one observer, as core/subscription.ts's cursor listener. */
class Feed implements ObserverListener, PublishedDocuments {
  seen = 0;
  /** Its documents were taken over by the merge box (the low-level API joined in). */
  owned = false;
  #initial: string[] | undefined = [];

  constructor(
    readonly sub: string,
    readonly observer: MemoryObserver,
    private readonly box: MergeBox,
    private readonly reference: ReferenceView,
  ) {}

  fieldsOf(id: string): Fields | undefined {
    if (this.#initial !== undefined && !this.#initial.includes(id)) return undefined;
    return this.observer.fieldsSeenBy(this, id);
  }

  ids(): string[] {
    return this.#initial ?? this.observer.idsSeenBy(this);
  }

  attached(): void {
    this.#initial = undefined;
  }

  added(id: string, fields: Fields): void {
    this.#initial?.push(id);
    this.box.added(this.sub, 'c', id, fields, this.owned ? undefined : this);
    this.reference.added(this.sub, id, fields);
  }

  changed(id: string, fields: Fields, cleared: readonly string[]): void {
    this.box.changed(this.sub, 'c', id, fields, cleared);
    this.reference.changed(this.sub, id, fields, cleared);
  }

  removed(id: string): void {
    this.box.removed(this.sub, 'c', id);
    this.reference.removed(this.sub, id);
  }
}

describe('MergeBox with documents kept by live observers', () => {
  it('sends nothing of its own and keeps no copy: the observer’s objects reach the client as they are', async () => {
    const rows = new Map<string, Row>([['a', { id: 'a', t: 'A', n: 1 }]]);
    const observer = new MemoryObserver('all', rows, () => true);
    await observer.start();
    const sink = new RecordingSink();
    const received: Fields[] = [];
    const box = new MergeBox(
      {
        added: (collection, id, fields) => {
          received.push(fields);
          sink.added(collection, id, fields);
        },
        changed: (collection, id, fields, cleared) => {
          received.push(fields);
          sink.changed(collection, id, fields, cleared);
        },
        removed: (collection, id) => sink.removed(collection, id),
      },
      undefined,
      { reuseInput: true, keepInput: true },
    );
    const reference = new ReferenceView();
    const feeds = [new Feed('N1', observer, box, reference), new Feed('N2', observer, box, reference)];
    for (const feed of feeds) await observer.attach(feed);
    assert.equal(received.length, 1, 'the second subscription adds nothing the client lacks');
    assert.equal(received[0], observer.fieldsSeenBy(feeds[0] as Feed, 'a'), 'the observer’s own object');
    const row = { id: 'a', t: 'A2', n: 1 };
    rows.set('a', row);
    observer.handle({ kind: 'change', seq: 1, op: 'update', id: 'a', row });
    assert.deepEqual(sink.drain().slice(1), [
      { fun: 'changed', collection: 'c', id: 'a', changed: { t: 'A2' } },
    ]);
    assert.deepEqual(box.snapshot(), new Map([['c', new Map([['a', { t: 'A2', n: 1 }]])]]));
  });

  it('answers for a listener what it was sent, in the middle of an emission', async () => {
    const rows = new Map<string, Row>([['a', { id: 'a', t: 'A' }]]);
    const observer = new MemoryObserver('all', rows, () => true);
    await observer.start();
    const seen: Array<[string, Fields | undefined, Fields | undefined]> = [];
    const listeners: ObserverListener[] = [];
    for (const name of ['first', 'second']) {
      listeners.push({
        seen: 0,
        added() {},
        changed() {
          seen.push([
            name,
            observer.fieldsSeenBy(listeners[0]!, 'a'),
            observer.fieldsSeenBy(listeners[1]!, 'a'),
          ]);
        },
        removed() {
          seen.push([
            name,
            observer.fieldsSeenBy(listeners[0]!, 'a'),
            observer.fieldsSeenBy(listeners[1]!, 'a'),
          ]);
        },
      });
    }
    for (const listener of listeners) await observer.attach(listener);
    observer.handle({ kind: 'change', seq: 1, op: 'update', id: 'a', row: { id: 'a', t: 'B' } });
    observer.handle({ kind: 'change', seq: 2, op: 'delete', id: 'a', row: undefined });
    assert.deepEqual(seen, [
      ['first', { t: 'A' }, { t: 'A' }],
      ['second', { t: 'B' }, { t: 'A' }],
      ['first', { t: 'B' }, { t: 'B' }],
      ['second', undefined, { t: 'B' }],
    ]);
    assert.deepEqual(observer.idsSeenBy(listeners[0]!), []);
    assert.equal(observer.fieldsSeenBy(listeners[1]!, 'a'), undefined);
  });

  it('keeps the client view equal to Meteor’s merge, whatever the interleaving (randomized)', async function () {
    this.timeout(60_000);
    const random = createWithSeeds('merge-box-sources');
    const ids = ['d1', 'd2', 'd3', 'd4', 'd5'];
    const keys = ['k1', 'k2', 'k3', 'k4'];
    const values = [1, 2, 'x', { n: 1 }, [1, 2], new Date(7)];
    const randomFields = (): Fields => {
      const fields: Fields = {};
      for (const name of keys) if (random.fraction() < 0.6) fields[name] = random.choice(values);
      return fields;
    };

    for (let round = 0; round < 25; round++) {
      const rows = new Map<string, Row>();
      for (const id of ids) if (random.fraction() < 0.6) rows.set(id, { id, ...randomFields() });
      const observers = [
        new MemoryObserver('all', rows, () => true),
        new MemoryObserver('some', rows, (row) => row.k1 !== undefined, ['k1', 'k2', 'k3']),
      ];
      for (const observer of observers) await observer.start();
      const sink = new RecordingSink();
      const box = new MergeBox(sink, undefined, { reuseInput: true, keepInput: true });
      const reference = new ReferenceView();
      const feeds = new Map<string, Feed>();
      const stale = new Set<MemoryObserver>();
      const lowLevel = new Set<string>();
      let client: Snapshot = new Map();
      let seq = 0;

      for (let step = 0; step < 250; step++) {
        const dice = random.fraction();
        const id = random.choice(ids) ?? 'd1';
        if (dice < 0.4) {
          // A write, handed to the observers in either order; now and then one misses it until a resync.
          const row = random.fraction() < 0.2 ? undefined : { id, ...randomFields() };
          const op = row === undefined ? 'delete' : rows.has(id) ? 'update' : 'insert';
          if (row === undefined) rows.delete(id);
          else rows.set(id, row);
          seq += 1;
          const order = random.fraction() < 0.5 ? observers : [...observers].reverse();
          for (const observer of order) {
            if (random.fraction() < 0.1) stale.add(observer);
            else if (!stale.has(observer)) observer.handle({ kind: 'change', seq, op, id, row });
          }
        } else if (dice < 0.5 && stale.size > 0) {
          const [observer] = stale;
          stale.delete(observer as MemoryObserver);
          seq += 1;
          observer?.handle({ kind: 'resync', seq });
          await observer?.settled(seq);
        } else if (dice < 0.65) {
          const sub = random.choice(['A1', 'A2', 'B1', 'B2']) ?? 'A1';
          const feed = feeds.get(sub);
          if (feed === undefined) {
            const created = new Feed(sub, observers[sub.startsWith('A') ? 0 : 1]!, box, reference);
            feeds.set(sub, created);
            await created.observer.attach(created);
          } else {
            box.removeSubscription(sub, new Map([['c', feed.ids()]]));
            feed.observer.detach(feed);
            for (const [doc, state] of reference.docs)
              if (state.existsIn.has(sub)) reference.removed(sub, doc);
            feeds.delete(sub);
          }
        } else if (dice < 0.68) {
          const feed = random.choice([...feeds.values()]);
          if (feed !== undefined && !feed.owned) {
            box.takeOver(feed.sub, 'c');
            feed.owned = true;
          }
        } else {
          // The low-level API of subscription L.
          const fields = deepFreeze(randomFields());
          if (!lowLevel.has(id)) {
            box.added('L', 'c', id, fields);
            reference.added('L', id, fields);
            lowLevel.add(id);
          } else if (random.fraction() < 0.75) {
            const cleared = keys.filter((name) => !(name in fields) && random.fraction() < 0.3);
            box.changed('L', 'c', id, fields, cleared);
            reference.changed('L', id, fields, cleared);
          } else {
            box.removed('L', 'c', id);
            reference.removed('L', id);
            lowLevel.delete(id);
          }
        }
        client = replay(sink.drain(), client);
        const expected = reference.view('c');
        assert.deepEqual(client, expected, `round ${round} step ${step}`);
        assert.deepEqual(box.snapshot(), expected, `round ${round} step ${step} (snapshot)`);
        for (const doc of ids) assert.equal(box.has('c', doc), expected.get('c')?.has(doc) ?? false);
      }
      for (const observer of observers) observer.stop();
    }
  });
});
