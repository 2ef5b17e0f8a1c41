import assert from 'node:assert/strict';
import { z } from 'zod';
import { startTestCore, type TestCore } from '../test/support/core.js';
import { App } from './app.js';
import { ClientError, NotFoundError, ValidationError } from './errors.js';
import type { Logger } from './logger.js';

describe('session: methods and write fences', function () {
  this.timeout(30_000);
  const table = `sess_notes_${process.pid}`;
  let t: TestCore;

  before(async () => {
    const app = new App()
      .collection('notes', { table })
      .publish('notes', (ctx) => ctx.find('notes'))
      .publish('mutating', (ctx) => {
        // A low-level publication that reuses and mutates its objects after handing them over.
        const doc = { tags: ['a'] };
        ctx.added('scratch', 'x', doc);
        doc.tags.push('b');
        ctx.changed('scratch', 'x', doc);
        doc.tags.push('c');
        ctx.ready();
      })
      .method('add', { params: [z.string().min(1)] }, async (ctx, text) => ctx.insert('notes', { text }))
      .method('addThenFail', async (ctx) => {
        await ctx.insert('notes', { text: 'never visible' });
        throw new ClientError('nope', 'Rolled back');
      })
      .method('addAutocommit', { transaction: false }, async (ctx) =>
        ctx.insert('notes', { text: 'autocommit' }),
      )
      .method('readOnly', async (ctx) => (await ctx.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0])
      .method('pure', (_ctx, a: unknown, b: unknown) => [b, a])
      .method('crash', () => {
        throw new TypeError('internal detail');
      });
    t = await startTestCore(app, async (db) => {
      await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, text text NOT NULL)`);
    });
  });

  after(async () => {
    await t?.close();
  });

  it('sends a writing method’s data before its updated, and the id from the seeded stream', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'notes', []);
    await out.waitFor((m) => m.msg === 'ready');
    const updated = out.waitFor((m) => m.msg === 'updated' && m.methods[0] === 'm1');
    await session.call('m1', 'add', ['hello'], { randomSeed: '0123456789abcdef0123' });
    await updated;
    const index = (test: (m: (typeof out.messages)[number]) => boolean) => out.messages.findIndex(test);
    const added = index((m) => m.msg === 'added');
    assert.ok(added >= 0 && added < index((m) => m.msg === 'updated'), 'added before updated');
    const result = out.messages.find((m) => m.msg === 'result');
    assert.ok(result?.msg === 'result' && result.outcome.ok);
    // The id Meteor's client stub would generate for the same seed (Alea [seed, '/collection/notes']).
    const { RandomStream } = await import('./random/random-stream.js');
    assert.equal(result.outcome.value, new RandomStream('0123456789abcdef0123').idFor('notes'));
    session.close();
  });

  it('rolls back a failing method: no data, the error as result, updated at once', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'notes', []);
    await out.waitFor((m) => m.msg === 'ready');
    const before = out.messages.length;
    await session.call('m2', 'addThenFail', []);
    await out.waitFor((m) => m.msg === 'updated' && m.methods[0] === 'm2', 1000);
    const after = out.messages.slice(before);
    assert.deepEqual(
      after.map((m) => m.msg),
      ['result', 'updated'],
    );
    const result = after[0];
    assert.ok(result?.msg === 'result' && !result.outcome.ok && result.outcome.error instanceof ClientError);
    session.close();
  });

  it('fences methods that run without a transaction too', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'notes', []);
    await out.waitFor((m) => m.msg === 'ready');
    const id = await t.call(session, out, 'addAutocommit');
    assert.equal(out.collection('notes')[id as string]?.text, 'autocommit');
    session.close();
  });

  it('answers a read-only method with updated at once, an unknown one with 404, bad params with validation-error', async () => {
    const { session, out } = t.session();
    assert.deepEqual(await t.call(session, out, 'readOnly'), {
      n: (await t.db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n,
    });
    await assert.rejects(
      t.call(session, out, 'nope'),
      (e: unknown) => e instanceof NotFoundError && e.error === 404 && e.reason === "Method 'nope' not found",
    );
    await assert.rejects(t.call(session, out, 'add', ''), (e: unknown) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(e.error, 'validation-error');
      assert.deepEqual(
        (e.details as Array<{ name: string }>).map((d) => d.name),
        ['0'],
      );
      return true;
    });
    await assert.rejects(t.call(session, out, 'add', 'a', 'extra'), ValidationError);
    await assert.rejects(t.call(session, out, 'crash'), TypeError);
    session.close();
  });

  it('costs a method that never queries no database round trip: no transaction, no fence', async () => {
    const { session, out } = t.session();
    const db = t.db as unknown as Record<'begin' | 'query', (...args: unknown[]) => unknown>;
    const calls = { begin: 0, query: 0 };
    const original = { begin: db.begin, query: db.query };
    db.begin = (...args) => {
      calls.begin++;
      return original.begin.apply(t.db, args);
    };
    db.query = (...args) => {
      calls.query++;
      return original.query.apply(t.db, args);
    };
    try {
      assert.deepEqual(await t.call(session, out, 'pure', 1, 2), [2, 1]);
      assert.deepEqual(calls, { begin: 0, query: 0 });
      await t.call(session, out, 'readOnly');
      assert.equal(calls.begin, 1, 'a method that queries gets its transaction');
    } finally {
      db.begin = original.begin;
      db.query = original.query;
      session.close();
    }
  });

  it('keeps what a low-level publication published, whatever it does to its objects afterwards', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'mutating', []);
    await out.waitFor((m) => m.msg === 'ready');
    // The merge box saw ['a'] then ['a', 'b']: a real change, sent as such, and the later push is not seen.
    assert.deepEqual(
      out.messages
        .filter((m) => m.msg === 'added' || m.msg === 'changed')
        .map((m) => (m.msg === 'added' || m.msg === 'changed' ? [m.msg, m.fields] : [])),
      [
        ['added', { tags: ['a'] }],
        ['changed', { tags: ['a', 'b'] }],
      ],
    );
    assert.deepEqual(session.mergeBox.snapshot().get('scratch')?.get('x'), { tags: ['a', 'b'] });
    session.close();
  });

  it('never sends anything after close, and releases its observers', async () => {
    const { session, out } = t.session();
    await session.subscribe('s', 'notes', []);
    await out.waitFor((m) => m.msg === 'ready');
    const observers = t.core.pool.size;
    session.close();
    assert.ok(t.core.pool.size < observers || observers === 0);
    const count = out.messages.length;
    const other = t.session();
    await t.call(other.session, other.out, 'add', 'after close');
    assert.equal(out.messages.length, count);
    other.session.close();
  });
});

describe('session logs', () => {
  it('carry the session, the protocol and, once logged in, the user', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = (bindings: Record<string, unknown>): Logger => ({
      debug: (fields, message) => lines.push({ ...bindings, ...fields, message }),
      info: () => {},
      warn: () => {},
      error: () => {},
      child: (more) => logger({ ...bindings, ...more }),
    });
    const app = new App()
      .method('becomeAda', (ctx) => ctx.setUserId('ada'))
      .method('refuse', () => {
        throw new ClientError('nope', 'Refused');
      });
    const t = await startTestCore(app, async () => {}, undefined, { logger: logger({}) });
    try {
      const { session, out } = t.session('s-logs');
      await assert.rejects(t.call(session, out, 'refuse'));
      await t.call(session, out, 'becomeAda');
      await assert.rejects(t.call(session, out, 'refuse'));
      const refused = lines.filter((line) => line.message === 'method refused');
      assert.equal(refused.length, 2);
      assert.equal(refused[0]?.session, 's-logs');
      assert.equal(refused[0]?.protocol, 'test');
      assert.equal(refused[0]?.user, undefined);
      assert.equal(refused[1]?.user, 'ada');
      session.close();
    } finally {
      await t.close();
    }
  });
});

describe('session: a client that leaves while its subscription starts', function () {
  this.timeout(30_000);
  const table = `sess_leave_${process.pid}`;

  it('logs nothing at error level (a client could flood the log by subscribing and leaving)', async () => {
    const errors: unknown[] = [];
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (fields, message) => errors.push({ ...fields, message }),
      child: () => logger,
    };
    const app = new App().collection('notes', { table }).publish('notes', (ctx) => ctx.find('notes'));
    const t = await startTestCore(
      app,
      async (db) => {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, text text NOT NULL)`);
      },
      undefined,
      { logger },
    );
    try {
      // Close the session once its observer exists but before the observer's first read finished: the
      // subscription's attach then fails because the observer stopped with its last listener gone.
      for (let i = 0; i < 5; i++) {
        const { session } = t.session();
        const subscribed = session.subscribe(`s${i}`, 'notes', []);
        while (t.core.pool.size === 0) await new Promise((resolve) => setImmediate(resolve));
        session.close();
        await subscribed;
      }
      // The last attach settles asynchronously: a fresh session's full round proves they all did.
      const { session, out } = t.session();
      await session.subscribe('last', 'notes', []);
      await out.waitFor((m) => m.msg === 'ready');
      session.close();
      assert.deepEqual(errors, []);
    } finally {
      await t.close();
    }
  });
});
