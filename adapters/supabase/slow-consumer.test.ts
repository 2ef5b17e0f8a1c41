/**
 * The slow-consumer cap (`limits.maxBufferedBytes`) against a Supabase socket's coalesced writes: a change pushed
 * to 50 channels of one socket is held for one event-loop turn, more than the cap at once. A client that reads
 * must get every push and keep its socket (transports/connection-guard.ts judges what the client does not take,
 * not one turn's queue).
 */
import assert from 'node:assert/strict';
import { createServer, type PgrtServer } from '../../index.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { app, migrate } from './fixtures/app.js';
import { RawPhoenix } from './fixtures/clients.js';
import { supabase } from './index.js';

const MAX_BUFFERED_BYTES = 256 * 1024;
const CHANNELS = 50;
/** Three rows: ~900 KB in one turn, over the cap but under the ceiling (transports/connection-guard.ts BURST_CEILING). */
const ROWS = 3;
/** Each row's title: 6 KB, inline in its NOTIFY; one change to 50 channels is ~300 KB, over the cap. */
const PAD = 'x'.repeat(6000);

describe('supabase: a coalesced burst over the slow-consumer cap', function () {
  this.timeout(30_000);
  let server: PgrtServer;
  let socket: RawPhoenix | undefined;

  before(async () => {
    server = await createServer({
      app,
      migrate,
      protocols: [supabase({ access: { tables: { sb_notes: true } } })],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      limits: { maxBufferedBytes: MAX_BUFFERED_BYTES },
    });
  });

  after(async () => {
    await socket?.close();
    await server?.close();
  });

  it('reaches a client that reads, which keeps its socket', async () => {
    const tag = `burst-${process.pid}-${Date.now()}-`;
    socket = await RawPhoenix.open(`ws://127.0.0.1:${server.port}/realtime/v1/websocket?vsn=2.0.0`);
    const client = socket;
    for (let i = 0; i < CHANNELS; i++) {
      const binding = { event: 'INSERT', schema: 'public', table: 'sb_notes', filter: `title=like.${tag}%` };
      client.send([
        `${i}`,
        `${i}`,
        `realtime:burst${i}`,
        'phx_join',
        { config: { postgres_changes: [binding] } },
      ]);
    }
    const subscribed = (): number => client.frames.filter((f) => (f as unknown[])[3] === 'system').length;
    await waitUntil(() => subscribed() === CHANNELS, { what: () => `${subscribed()} channels subscribed` });
    await server.db.query(
      `INSERT INTO sb_notes (title) SELECT $1 || i || $2 FROM generate_series(1, ${ROWS}) i`,
      [tag, PAD],
    );
    const pushes = (): number =>
      client.frames.filter((f) => (f as unknown[])[3] === 'postgres_changes').length;
    await waitUntil(() => pushes() === CHANNELS * ROWS || client.closed !== undefined, {
      what: () => `${pushes()} of ${CHANNELS * ROWS} pushes`,
    });
    assert.equal(client.closed, undefined, 'the socket stays open');
    assert.equal(pushes(), CHANNELS * ROWS);
    client.send([null, 'hb', 'phoenix', 'heartbeat', {}]);
    await client.waitFor((f) => f[1] === 'hb');
  });
});
