/**
 * Rows too big for one NOTIFY (8000 bytes): a 20 KB subtitle with multibyte UTF-8 travels through the spill
 * table and must reach every client byte for byte, on insert and on update.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PgrtServer } from '../../server.js';
import { waitForEvent } from '../fixtures/client-scenario.js';
import { ddpUrl, startPresentations } from '../fixtures/presentations-servers.js';
import { connectTestDatabase } from '../fixtures/presentations-table.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { CLIENT_NAMES, openClient, type ThirdPartyClient } from '../fixtures/third-party-clients.js';

/** About `bytes` bytes of UTF-8 mixing 1-, 2- and 4-byte characters (a 4-byte one straddles every 8 KB mark). */
function bigText(bytes: number, seed: string): string {
  const unit = `${seed} é😀 àçü 日本 😀😀 plain ascii; `;
  let text = '';
  while (Buffer.byteLength(text) < bytes) text += unit;
  return text;
}

describe('large rows (NOTIFY spill path)', function () {
  this.timeout(30_000);
  let server: PgrtServer | undefined;
  let db: pg.Client | undefined;
  let raw: RawDdpClient | undefined;
  const clients: ThirdPartyClient[] = [];
  const id = `big-${randomUUID().slice(0, 8)}`;

  before(async () => {
    server = await startPresentations();
    db = await connectTestDatabase();
    raw = await RawDdpClient.connect(ddpUrl(server.port));
    await raw.subscribe('presentations');
    for (const name of CLIENT_NAMES) {
      const client = await openClient(name, ddpUrl(server.port));
      await client.subscribe('presentations');
      clients.push(client);
    }
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await raw?.close();
    await db?.query('DELETE FROM presentations WHERE id = $1', [id]).catch(() => {});
    await db?.end();
    await server?.close();
  });

  async function spillCount(): Promise<number> {
    assert.ok(db);
    const result = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM pgrt.spill');
    return Number(result.rows[0]?.n);
  }

  it('a 20 KB insert arrives intact in every client', async () => {
    assert.ok(db && raw);
    const subtitle = bigText(20_000, 'insert');
    const title = `Big ${'é'.repeat(150)}😀`;
    assert.ok(Buffer.byteLength(subtitle) >= 20_000);
    const spilled = await spillCount();
    const from = raw.messages.length;
    const marks = clients.map((c) => c.events.length);
    await db.query('INSERT INTO presentations (id, title, subtitle, created_at) VALUES ($1, $2, $3, now())', [
      id,
      title,
      subtitle,
    ]);
    assert.ok(
      (await spillCount()) > spilled,
      'the row was not spilled: this test no longer covers the spill path',
    );

    const added = await raw.waitFor((m) => m.msg === 'added' && m.id === id, 10_000, from);
    const fields = added.fields as Record<string, unknown>;
    assert.equal(fields.title, title);
    assert.equal(fields.subtitle, subtitle);
    assert.ok(fields.created_at instanceof Date);
    for (const [i, client] of clients.entries()) {
      const event = await waitForEvent(client, 'added', id, marks[i]);
      assert.equal(event.fields.title, title, client.name);
      assert.equal(event.fields.subtitle, subtitle, `${client.name}: subtitle differs`);
    }
  });

  it('a 20 KB update arrives intact as a changed of that field', async () => {
    assert.ok(db && raw);
    const subtitle = bigText(21_000, 'update');
    const from = raw.messages.length;
    const marks = clients.map((c) => c.events.length);
    await db.query('UPDATE presentations SET subtitle = $2 WHERE id = $1', [id, subtitle]);

    const changed = await raw.waitFor((m) => m.msg === 'changed' && m.id === id, 10_000, from);
    assert.deepEqual(changed.fields, { subtitle });
    for (const [i, client] of clients.entries()) {
      const event = await waitForEvent(client, 'changed', id, marks[i]);
      assert.deepEqual(event.fields, { subtitle }, client.name);
      assert.equal(client.documents().get(id)?.subtitle, subtitle, client.name);
    }
    assert.deepEqual(raw.violations, []);
  });
});
