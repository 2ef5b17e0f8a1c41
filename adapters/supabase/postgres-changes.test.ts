/**
 * postgres_changes with the real, unmodified supabase-js (pinned in test/clients): the join reply and the
 * "Subscribed to PostgreSQL" readiness message, INSERT/UPDATE/DELETE with Supabase's payload shape and types,
 * filters, changes from psql and from DDP methods, and the errors of bad tables and filters — over both
 * serializers.
 */
import assert from 'node:assert/strict';
import { createServer, ddp, type PgrtServer } from '../../index.js';
import { RawDdpClient } from '../../test/fixtures/raw-ddp-client.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { app, migrate } from './fixtures/app.js';
import {
  type ChangePayload,
  postgresChangesFilter,
  type SupabaseClientLike,
  subscribe,
  supabaseClient,
} from './fixtures/clients.js';
import { supabase } from './index.js';

describe('supabase: postgres_changes with supabase-js', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let base: string;
  const clients: SupabaseClientLike[] = [];

  before(async () => {
    server = await createServer({
      app,
      migrate,
      protocols: [ddp(), supabase({ access: { tables: { sb_notes: true } }, maxRecordBytes: 64 * 1024 })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
    });
    base = `http://127.0.0.1:${server.port}`;
    await server.db.query('DELETE FROM sb_notes');
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) {
      await client.removeAllChannels();
      client.realtime.disconnect();
    }
  });

  after(async () => {
    await server?.close();
  });

  function client(realtime: Record<string, unknown> = {}): SupabaseClientLike {
    const made = supabaseClient(base, 'anon', realtime);
    clients.push(made);
    return made;
  }

  for (const vsn of ['2.0.0', '1.0.0']) {
    it(`delivers INSERT, UPDATE and DELETE from psql with Supabase's payload (vsn ${vsn})`, async () => {
      const sb = client({ vsn });
      const received: ChangePayload[] = [];
      const channel = sb
        .channel(`notes-${vsn}`)
        .on('postgres_changes', { event: '*', schema: 'public', table: 'sb_notes' }, (p) => received.push(p));
      const seen = await subscribe(channel);
      await waitUntil(() => seen.system.length > 0);
      assert.deepEqual(seen.system[0], {
        extension: 'postgres_changes',
        status: 'ok',
        message: 'Subscribed to PostgreSQL',
        channel: `notes-${vsn}`,
      });
      const inserted = await server.db.query<{ id: number }>(
        `INSERT INTO sb_notes (title, score, price, done, tags, meta, at)
         VALUES ('hello', 9007199254740993, 12.50, true, '{1,2}', '{"k":[1]}', '2024-05-06T07:08:09.123Z') RETURNING id`,
      );
      const id = inserted.rows[0]?.id as number;
      await server.db.query(`UPDATE sb_notes SET title = 'hi' WHERE id = $1`, [id]);
      await server.db.query('DELETE FROM sb_notes WHERE id = $1', [id]);
      await waitUntil(() => received.length === 3, { what: () => JSON.stringify(received) });
      const [insert, update, remove] = received as [ChangePayload, ChangePayload, ChangePayload];
      assert.equal(insert.eventType, 'INSERT');
      assert.equal(insert.schema, 'public');
      assert.equal(insert.table, 'sb_notes');
      assert.equal(insert.errors, null);
      assert.match(insert.commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual(insert.new, {
        id,
        title: 'hello',
        score: 9007199254740992, // a JSON number, as Supabase sends it (JavaScript rounds it)
        price: 12.5,
        done: true,
        tags: [1, 2],
        meta: { k: [1] },
        at: insert.new.at,
      });
      assert.equal(new Date(String(insert.new.at)).toISOString(), '2024-05-06T07:08:09.123Z');
      assert.match(
        String(insert.new.at),
        /^2024-05-06T\d\d:08:09\.123[+-]\d\d:\d\d$/,
        'to_jsonb text, as Supabase sends it',
      );
      assert.deepEqual(insert.old, {});
      assert.equal(update.eventType, 'UPDATE');
      assert.equal(update.new.title, 'hi');
      assert.deepEqual(update.old, { id });
      assert.equal(remove.eventType, 'DELETE');
      assert.deepEqual(remove.new, {});
      assert.deepEqual(remove.old, { id });
    });
  }

  it('routes each change to the bindings it matches: events and filters (eq, in, gt, neq)', async () => {
    const sb = client();
    const got: Record<string, string[]> = { inserts: [], eq: [], in: [], gt: [], neq: [], deletes: [] };
    const channel = sb
      .channel('filters')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'sb_notes' }, (p) =>
        got.inserts?.push(String(p.new.title)),
      )
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'sb_notes', filter: 'title=eq.Hello' },
        (p) => got.eq?.push(`${p.eventType}:${p.new.title ?? ''}`),
      )
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'sb_notes', filter: 'title=in.(a,"b,c")' },
        (p) => got.in?.push(String(p.new.title)),
      )
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'sb_notes', filter: 'score=gt.10' },
        (p) => got.gt?.push(String(p.new.title)),
      )
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'sb_notes', filter: 'title=neq.a' },
        (p) => got.neq?.push(String(p.new.title)),
      )
      .on('postgres_changes', { event: 'DELETE', schema: 'public', table: 'sb_notes' }, (p) =>
        got.deletes?.push(String(p.old.id)),
      );
    const seen = await subscribe(channel);
    await waitUntil(() => seen.system.length > 0);
    await server.db.query(
      `INSERT INTO sb_notes (title, score) VALUES ('Hello', 5), ('a', 11), ('b,c', 100), ('z', NULL)`,
    );
    await server.db.query(`UPDATE sb_notes SET done = true WHERE title = 'Hello'`);
    await server.db.query(`DELETE FROM sb_notes WHERE title = 'z'`);
    await waitUntil(() => got.deletes?.length === 1 && got.eq?.length === 2, {
      what: () => JSON.stringify(got),
    });
    assert.deepEqual(got.inserts, ['Hello', 'a', 'b,c', 'z']);
    assert.deepEqual(got.eq, ['INSERT:Hello', 'UPDATE:Hello']);
    assert.deepEqual(got.in, ['a', 'b,c']);
    assert.deepEqual(got.gt, ['a', 'b,c']);
    assert.deepEqual(got.neq, ['Hello', 'b,c', 'z']);
  });

  it("routes by the builder's other operators: like, ilike, match, imatch, is, isdistinct, not", async () => {
    const sb = client();
    const filters: Record<string, string> = {
      like: postgresChangesFilter().like('title', 'a%').build(),
      ilike: postgresChangesFilter().ilike('title', 'A_').build(),
      match: postgresChangesFilter().match('title', 'b+c').build(),
      imatch: postgresChangesFilter().imatch('title', '^Z').build(),
      isnull: postgresChangesFilter().is('score', null).build(),
      istrue: postgresChangesFilter().is('done', true).build(),
      distinct: postgresChangesFilter().isDistinct('score', 5).build(),
      notlike: postgresChangesFilter().not('title', 'like', '%,%').build(),
    };
    const got: Record<string, string[]> = {};
    let channel = sb.channel('operators');
    for (const [name, filter] of Object.entries(filters)) {
      got[name] = [];
      channel = channel.on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'sb_notes', filter },
        (p) => got[name]?.push(String(p.new.title)),
      );
    }
    const seen = await subscribe(channel);
    await waitUntil(() => seen.system.length > 0);
    assert.equal(seen.system[0]?.status, 'ok', JSON.stringify(seen.system[0]));
    await server.db.query(
      `INSERT INTO sb_notes (title, score, done) VALUES ('ab', 5, true), ('Ax', NULL, false), ('abbc,d', 7, false), ('zz', 5, true)`,
    );
    await waitUntil(() => got.notlike?.length === 3, { what: () => JSON.stringify(got) });
    await server.db.query(`INSERT INTO sb_notes (title) VALUES ('end')`);
    await waitUntil(() => got.notlike?.length === 4, { what: () => JSON.stringify(got) });
    assert.deepEqual(got, {
      like: ['ab', 'abbc,d'],
      ilike: ['ab', 'Ax'],
      match: ['abbc,d'],
      imatch: ['zz'],
      isnull: ['Ax', 'end'],
      istrue: ['ab', 'zz'],
      distinct: ['Ax', 'abbc,d', 'end'],
      notlike: ['ab', 'Ax', 'zz', 'end'],
    });
  });

  it('reports the filter checks Supabase makes as system errors', async () => {
    const sb = client();
    for (const [filter, exception] of [
      ['done=is.maybe', 'invalid value for is filter: must be null, true, false, or unknown'],
      ['score=is.true', 'is true filter requires a boolean column, got bigint'],
      ['score=like.1%', 'operator like requires a text-compatible column type, got bigint'],
      ['score=eq.abc', 'invalid input syntax for type bigint: "abc"'],
    ] as const) {
      const seen = await subscribe(
        sb
          .channel(`check-${filter}`)
          .on('postgres_changes', { event: '*', schema: 'public', table: 'sb_notes', filter }, () => {}),
      );
      await waitUntil(() => seen.system.length > 0);
      assert.equal(seen.system[0]?.status, 'error');
      assert.ok(
        String(seen.system[0]?.message).endsWith(`. Exception: ${exception}`),
        String(seen.system[0]?.message),
      );
    }
  });

  it('delivers a DDP method write and a large (spilled) row', async () => {
    const sb = client();
    const titles: string[] = [];
    const channel = sb
      .channel('methods')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'sb_notes' }, (p) =>
        titles.push(String(p.new.title)),
      );
    const seen = await subscribe(channel);
    await waitUntil(() => seen.system.length > 0);
    const ddpClient = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    try {
      await ddpClient.apply('sb.addNote', 'from ddp');
    } finally {
      await ddpClient.close();
    }
    const big = 'x'.repeat(20_000);
    await server.db.query('INSERT INTO sb_notes (title) VALUES ($1)', [big]);
    await waitUntil(() => titles.length === 2, { what: () => JSON.stringify(titles.map((t) => t.length)) });
    assert.equal(titles[0], 'from ddp');
    assert.equal(titles[1], big);
  });

  it('sends a row larger than maxRecordBytes with its small values only and Error 413, as Supabase does', async () => {
    const sb = client();
    const got: ChangePayload[] = [];
    const channel = sb
      .channel('huge')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'sb_notes' }, (p) => got.push(p));
    const seen = await subscribe(channel);
    await waitUntil(() => seen.system.length > 0);
    await server.db.query(`INSERT INTO sb_notes (title, score) VALUES ($1, 7)`, ['y'.repeat(100_000)]);
    await waitUntil(() => got.length === 1);
    const [huge] = got as [ChangePayload];
    assert.deepEqual(huge.errors, ['Error 413: Payload Too Large']);
    assert.equal(huge.new.title, undefined, 'the large value is left out');
    assert.equal(huge.new.score, 7);
    assert.equal(typeof huge.new.id, 'number');
  });

  it('reports a table not opted in, and a bad filter, as system errors after a successful join', async () => {
    const sb = client();
    const hidden = await subscribe(
      sb
        .channel('hidden')
        .on('postgres_changes', { event: '*', schema: 'public', table: 'sb_hidden' }, () => {}),
    );
    await waitUntil(() => hidden.system.length > 0);
    assert.deepEqual(hidden.system[0], {
      extension: 'postgres_changes',
      status: 'error',
      message:
        'Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [event: *, schema: public, table: sb_hidden, filters: []]',
      channel: 'hidden',
    });
    const bad = await subscribe(
      sb
        .channel('bad')
        .on(
          'postgres_changes',
          { event: '*', schema: 'public', table: 'sb_notes', filter: 'title=foo.x' },
          () => {},
        ),
    );
    await waitUntil(() => bad.system.length > 0);
    assert.equal(bad.system[0]?.status, 'error');
    assert.equal(bad.system[0]?.message, 'Error parsing `filter` params: ["foo", "x"]');
    const column = await subscribe(
      sb
        .channel('col')
        .on(
          'postgres_changes',
          { event: '*', schema: 'public', table: 'sb_notes', filter: 'nope=eq.1' },
          () => {},
        ),
    );
    await waitUntil(() => column.system.length > 0);
    assert.match(String(column.system[0]?.message), /Exception: invalid column for filter nope$/);
  });
});
