/**
 * Every committed change reaches every subscribed client, whoever wrote it: the `psql` program (capture triggers,
 * not method hooks) and a second server process on the same database (PostgreSQL as the only bus). Clients are
 * the three npm libraries, connected to both servers.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PgrtServer } from '../../server.js';
import { createdMs, waitForEvent } from '../fixtures/client-scenario.js';
import {
  type ChildServer,
  ddpUrl,
  spawnPresentationsServer,
  startPresentations,
} from '../fixtures/presentations-servers.js';
import {
  connectTestDatabase,
  diffStates,
  hasPsql,
  literal,
  psql,
  selectPresentations,
} from '../fixtures/presentations-table.js';
import { CLIENT_NAMES, openClient, type ThirdPartyClient } from '../fixtures/third-party-clients.js';
import { waitUntil } from '../fixtures/wait.js';

/** The external writer: the psql program when installed, else a `pg` client (the titles say which). */
const HAVE_PSQL = hasPsql();
const WRITER = HAVE_PSQL ? 'psql' : 'a pg client (psql is not on PATH)';

describe('external writers reach every client', function () {
  this.timeout(60_000);
  let serverA: PgrtServer | undefined;
  let serverB: ChildServer | undefined;
  let db: pg.Client | undefined;
  const onA: ThirdPartyClient[] = [];
  const onB: ThirdPartyClient[] = [];
  const all = () => [...onA, ...onB];
  const tag = randomUUID().slice(0, 8);
  const created: string[] = [];

  async function external(sql: string): Promise<void> {
    assert.ok(db);
    if (HAVE_PSQL) await psql(sql);
    else await db.query(sql);
  }

  /** Marks where each client's events stand, to wait for what comes next. */
  function mark(clients: readonly ThirdPartyClient[]): Map<ThirdPartyClient, number> {
    return new Map(clients.map((c) => [c, c.events.length]));
  }

  before(async () => {
    [serverA, serverB, db] = await Promise.all([
      startPresentations(),
      spawnPresentationsServer(),
      connectTestDatabase(),
    ]);
    for (const name of CLIENT_NAMES) {
      onA.push(await openClient(name, ddpUrl(serverA.port)));
      onB.push(await openClient(name, ddpUrl(serverB.port)));
    }
    await Promise.all(all().map((c) => c.subscribe('presentations')));
  });

  after(async () => {
    await Promise.all(all().map((c) => c.close().catch(() => {})));
    if (db) {
      await db.query('DELETE FROM presentations WHERE id = ANY($1)', [created]).catch(() => {});
      await db.end();
    }
    await serverB?.kill();
    await serverA?.close();
  });

  const id = `ext-${tag}`;

  it(`a row inserted with ${WRITER} appears in all three clients of both servers`, async () => {
    const marks = mark(all());
    created.push(id);
    await external(
      `INSERT INTO presentations (id, title, subtitle, created_at)
       VALUES (${literal(id)}, 'From psql ${tag}', 'typed by hand', '2025-06-07T08:09:10.111Z')`,
    );
    for (const client of all()) {
      const added = await waitForEvent(client, 'added', id, marks.get(client));
      assert.equal(added.fields.title, `From psql ${tag}`, client.name);
      assert.equal(added.fields.subtitle, 'typed by hand', client.name);
      assert.equal(createdMs(client, added.fields.created_at), Date.parse('2025-06-07T08:09:10.111Z'));
    }
  });

  it(`an UPDATE from ${WRITER} arrives as a changed of that field only`, async () => {
    const marks = mark(all());
    await external(`UPDATE presentations SET title = 'Renamed in psql ${tag}' WHERE id = ${literal(id)}`);
    for (const client of all()) {
      const changed = await waitForEvent(client, 'changed', id, marks.get(client));
      assert.deepEqual(changed.fields, { title: `Renamed in psql ${tag}` }, client.name);
      assert.equal(client.documents().get(id)?.title, `Renamed in psql ${tag}`, client.name);
    }
  });

  it(`a DELETE from ${WRITER} arrives as removed`, async () => {
    const marks = mark(all());
    await external(`DELETE FROM presentations WHERE id = ${literal(id)}`);
    for (const client of all()) {
      await waitForEvent(client, 'removed', id, marks.get(client));
      assert.equal(client.documents().has(id), false, client.name);
    }
  });

  for (const [from, to] of [
    ['B', 'A'],
    ['A', 'B'],
  ] as const) {
    it(`methods called on server ${from} reach the clients of server ${to} (B is a child process)`, async () => {
      const caller = (from === 'A' ? onA : onB)[0]!;
      const watchers = from === 'A' ? onB : onA;
      let marks = mark(watchers);
      const newId = String(
        await caller.call('presentations.add', { title: `Via ${from} ${tag}`, subtitle: 'x' }),
      );
      created.push(newId);
      for (const client of watchers) {
        const added = await waitForEvent(client, 'added', newId, marks.get(client));
        assert.equal(added.fields.title, `Via ${from} ${tag}`, client.name);
        assert.equal(added.fields.subtitle, 'x', client.name);
      }

      marks = mark(watchers);
      await caller.call('presentations.update', newId, { subtitle: `edited on ${from}` });
      for (const client of watchers) {
        const changed = await waitForEvent(client, 'changed', newId, marks.get(client));
        assert.deepEqual(changed.fields, { subtitle: `edited on ${from}` }, client.name);
      }

      marks = mark(watchers);
      await caller.call('presentations.remove', newId);
      for (const client of watchers) await waitForEvent(client, 'removed', newId, marks.get(client));
    });
  }

  it('leaves every client holding exactly the table, with no protocol violation', async () => {
    assert.ok(db);
    const table = await selectPresentations(db);
    for (const client of all()) {
      let diffs: string[] = [];
      await waitUntil(
        () => {
          diffs = diffStates(client.documents(), table);
          return diffs.length === 0;
        },
        { what: () => `${client.name}: ${diffs.join('; ')}` },
      );
      assert.deepEqual(client.violations, [], client.name);
    }
  });
});
