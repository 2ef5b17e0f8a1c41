/**
 * The CaptureMode seam: the built-in modes by name, and a mode of an app's own plugged into a real core (a
 * delegating wrapper around `notify` that records what the core asked of it): the core installs, fences and emits
 * through the mode it was given, nothing else.
 */
import assert from 'node:assert/strict';
import { startTestCore } from '../../test/support/core.js';
import { App } from '../app.js';
import type { Database, Queryable } from '../database/database.js';
import type { TableInfo } from '../database/table-info.js';
import type { Logger } from '../logger.js';
import type { CaptureArguments, CaptureMode } from './capture-mode.js';
import { CAPTURE_MODES, captureMode } from './capture-modes.js';
import type { PumpSourceOptions } from './pump-source.js';
import { notifyCapture } from './trigger-capture.js';

describe('capture modes', function () {
  this.timeout(20_000);

  it('resolves the built-in modes by name; outbox and logical fill the outbox, notify does not', () => {
    assert.deepEqual(
      Object.values(CAPTURE_MODES).map((m) => [m.name, m.outbox]),
      [
        ['notify', false],
        ['outbox', true],
        ['logical', true],
      ],
    );
    assert.equal(captureMode('outbox'), CAPTURE_MODES.outbox);
    assert.equal(captureMode(notifyCapture), notifyCapture);
    assert.throws(() => captureMode('trigger' as never), /unknown capture mode 'trigger'/);
  });

  it("a core installs, fences and emits through the mode it is given (an app's own)", async () => {
    const calls: string[] = [];
    const recording: CaptureMode = {
      name: 'notify',
      outbox: false,
      check: async (db: Queryable) => {
        calls.push('check');
        await notifyCapture.check(db);
      },
      install: async (client: Queryable, table: TableInfo, args: CaptureArguments) => {
        calls.push(`install ${table.name} ${args.keyColumn}`);
        await notifyCapture.install(client, table, args);
      },
      prepare: async (db: Database, logger: Logger) => {
        calls.push('prepare');
        await notifyCapture.prepare(db, logger);
      },
      fenceInTransaction: async (client: Queryable, channel: string, id: string) => {
        const wrote = await notifyCapture.fenceInTransaction(client, channel, id);
        calls.push(`fence ${wrote}`);
        return wrote;
      },
      emit: async (db: Queryable, channel: string, payload: string) => {
        calls.push(`emit ${payload.includes('"f"') ? 'fence' : payload}`);
        await notifyCapture.emit(db, channel, payload);
      },
      pumpSource: (db: Database, options: PumpSourceOptions) => notifyCapture.pumpSource(db, options),
    };
    const table = `seam_${process.pid}`;
    const app = new App()
      .collection(table)
      .publish('all', (ctx) => ctx.find(table, {}))
      .method('add', async (ctx, id: unknown) => ctx.insert(table, { id: String(id) }))
      .method('addAutocommit', { transaction: false }, async (ctx, id: unknown) =>
        ctx.insert(table, { id: String(id) }),
      )
      .method('read', async (ctx) => (await ctx.query(`SELECT count(*)::int AS n FROM ${table}`)).rowCount);
    const t = await startTestCore(
      app,
      async (db) => {
        await db.query(`CREATE TABLE ${table} (id text PRIMARY KEY)`);
      },
      undefined,
      { capture: recording },
    );
    try {
      assert.equal(t.core.captureMode, recording);
      assert.equal(t.core.outboxPump, undefined, 'no pump for a mode without a source');
      assert.deepEqual(calls, ['check', `install ${table} id`, 'prepare']);
      const { session, out } = t.session();
      await session.subscribe('s', 'all', []);
      await out.waitFor((m) => m.msg === 'ready');
      await t.call(session, out, 'add', 'a');
      await t.call(session, out, 'read');
      await t.call(session, out, 'addAutocommit', 'b');
      assert.deepEqual(calls.slice(3), ['fence true', 'fence false', 'emit fence']);
      await out.waitFor((m) => m.msg === 'added' && m.id === 'b');
    } finally {
      await t.close();
    }
  });
});
