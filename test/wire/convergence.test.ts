/**
 * Convergence under concurrent writes: 200 quick inserts/updates/deletes, half through methods on four DDP
 * connections and half through a `pg` pool (some in multi-statement transactions, several writers on the same
 * rows), must leave every client holding exactly the committed table, and no client may ever see an invalid
 * sequence (duplicate `added`, `changed`/`removed` of an unknown document). Raw clients record every message.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PgrtServer } from '../../server.js';
import { ddpUrl, startPresentations } from '../fixtures/presentations-servers.js';
import { diffStates, type PresentationState, selectPresentations } from '../fixtures/presentations-table.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { CLIENT_NAMES, openClient, type ThirdPartyClient } from '../fixtures/third-party-clients.js';
import { waitUntil } from '../fixtures/wait.js';
import { testDatabaseUrl } from '../support/database.js';

const WRITES = 200;
const METHOD_LANES = 4;
const SQL_LANES = 4;

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('convergence under 200 concurrent writes from methods and SQL', function () {
  this.timeout(60_000);
  let server: PgrtServer | undefined;
  let pool: pg.Pool | undefined;
  const writers: RawDdpClient[] = [];
  const observers: RawDdpClient[] = [];
  const libraries: ThirdPartyClient[] = [];
  const tag = randomUUID().slice(0, 8);

  before(async () => {
    server = await startPresentations();
    pool = new pg.Pool({
      connectionString: testDatabaseUrl(),
      max: SQL_LANES,
      application_name: 'pgrt-wire-test',
    });
    const url = ddpUrl(server.port);
    for (let i = 0; i < METHOD_LANES; i++) writers.push(await RawDdpClient.connect(url));
    for (let i = 0; i < 2; i++) observers.push(await RawDdpClient.connect(url));
    for (const name of CLIENT_NAMES) libraries.push(await openClient(name, url));
    await Promise.all([...writers, ...observers].map((c) => c.subscribe('presentations')));
    await Promise.all(libraries.map((c) => c.subscribe('presentations')));
  });

  after(async () => {
    await Promise.all(libraries.map((c) => c.close().catch(() => {})));
    await Promise.all([...writers, ...observers].map((c) => c.close()));
    await pool?.query('DELETE FROM presentations WHERE title LIKE $1', [`conv ${tag}%`]).catch(() => {});
    await pool?.end();
    await server?.close();
  });

  it('every client ends with exactly the table and never sees an invalid sequence', async () => {
    assert.ok(pool);
    const db = pool;
    const seed = Date.now() % 1_000_000;
    const rand = random(seed);
    const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];
    const known: string[] = [];
    let next = 0;
    let sqlRows = 0;
    let succeeded = 0;
    const failures: string[] = [];

    const title = () => `conv ${tag} ${Math.floor(rand() * 1e6)}`;

    async function methodWrite(client: RawDdpClient): Promise<void> {
      const r = rand();
      const target = pick(known);
      if (r < 0.45 || !target) {
        const id = await client.apply('presentations.add', {
          title: title(),
          subtitle: rand() < 0.5 ? null : 's',
        });
        known.push(String(id));
      } else if (r < 0.8) {
        const changes =
          rand() < 0.5 ? { title: title() } : { subtitle: rand() < 0.3 ? null : `sub ${rand()}` };
        await client.apply('presentations.update', target, changes);
      } else {
        await client.apply('presentations.remove', target);
      }
    }

    async function sqlWrite(): Promise<void> {
      const r = rand();
      const target = pick(known);
      if (r < 0.35 || !target) {
        const id = `conv-${tag}-${++sqlRows}`;
        known.push(id);
        await db.query(
          'INSERT INTO presentations (id, title, subtitle, created_at) VALUES ($1, $2, $3, now())',
          [id, title(), rand() < 0.5 ? null : 'from sql'],
        );
      } else if (r < 0.65) {
        await db.query('UPDATE presentations SET title = $2, subtitle = $3 WHERE id = $1', [
          target,
          title(),
          rand() < 0.3 ? null : `sql ${rand()}`,
        ]);
      } else if (r < 0.8) {
        await db.query('DELETE FROM presentations WHERE id = $1', [target]);
      } else {
        // One transaction touching several rows: insert-then-update of a new row, and an update of another.
        const id = `conv-${tag}-${++sqlRows}`;
        known.push(id);
        const client = await db.connect();
        try {
          await client.query('BEGIN');
          await client.query('INSERT INTO presentations (id, title, created_at) VALUES ($1, $2, now())', [
            id,
            title(),
          ]);
          await client.query('UPDATE presentations SET subtitle = $2 WHERE id = $1', [
            id,
            'set in the same tx',
          ]);
          await client.query('UPDATE presentations SET title = $2 WHERE id = $1', [target, title()]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      }
    }

    const lane = async (write: () => Promise<void>) => {
      while (next < WRITES) {
        next++;
        try {
          await write();
          succeeded++;
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
    };
    await Promise.all([
      ...writers.map((client) => lane(() => methodWrite(client))),
      ...Array.from({ length: SQL_LANES }, () => lane(sqlWrite)),
    ]);
    // Races on the same rows may make a few method calls fail (e.g. updating a row just deleted); most must pass.
    assert.ok(
      succeeded >= WRITES * 0.8,
      `only ${succeeded}/${WRITES} writes succeeded (seed ${seed}): ${failures[0]}`,
    );

    const table: Map<string, PresentationState> = await selectPresentations(db);
    const views = [
      ...[...writers, ...observers].map((c, i) => ({
        name: `raw #${i + 1}`,
        docs: () => c.view('presentations'),
      })),
      ...libraries.map((c) => ({ name: c.name, docs: () => c.documents() })),
    ];
    for (const view of views) {
      let diffs: string[] = [];
      await waitUntil(
        () => {
          diffs = diffStates(view.docs(), table);
          return diffs.length === 0;
        },
        {
          timeoutMs: 20_000,
          intervalMs: 50,
          what: () => `${view.name} to match the table (seed ${seed}): ${diffs.join('; ')}`,
        },
      );
    }
    const dataMessages = observers[0]!.messages.filter(
      (m) => m.msg === 'added' || m.msg === 'changed' || m.msg === 'removed',
    );
    assert.ok(
      dataMessages.length >= WRITES / 2,
      `only ${dataMessages.length} data messages: the writes did not flow`,
    );
    for (const [i, client] of [...writers, ...observers].entries()) {
      assert.deepEqual(client.violations, [], `raw #${i + 1} saw an invalid sequence (seed ${seed})`);
    }
    for (const client of libraries) assert.deepEqual(client.violations, [], `${client.name} (seed ${seed})`);
  });
});
