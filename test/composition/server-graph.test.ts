import assert from 'node:assert/strict';
import { App } from '../../core/app.js';
import { ChangeBusToken } from '../../core/bus/change-bus.js';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import { DatabaseToken, PgDatabase } from '../../core/database/database.js';
import { LoggerToken } from '../../core/logger.js';
import { RealtimeCore } from '../../core/realtime-core.js';
import {
  AppToken,
  HttpHostToken,
  RealtimeCoreToken,
  registerServer,
  ServerOptionsToken,
} from '../../server.js';
import { HttpHost } from '../../transports/http-host.js';
import { testDatabaseUrl } from '../support/database.js';

describe('composition root', () => {
  it('resolves the whole production graph with every part defined and of the right class', async () => {
    const db = new PgDatabase(testDatabaseUrl());
    try {
      const app = new App();
      const container = registerServer({ app }, db);
      const core = container.resolve<RealtimeCore>(RealtimeCoreToken);
      assert.ok(core instanceof RealtimeCore);
      assert.equal(core.app, app);
      assert.equal(core.db, db);
      assert.ok(core.bus instanceof PgNotificationBus);
      assert.ok(container.resolve(HttpHostToken) instanceof HttpHost);
      for (const token of [AppToken, ServerOptionsToken, LoggerToken, DatabaseToken, ChangeBusToken]) {
        assert.notEqual(container.resolve(token), undefined, String(token));
      }
      // One instance per server: the host's readiness must watch the very core that was started.
      assert.equal(container.resolve(RealtimeCoreToken), core);
      assert.equal(container.resolve(HttpHostToken), container.resolve(HttpHostToken));
      // A child container per server: two servers never share parts.
      const other = registerServer({ app }, db).resolve<RealtimeCore>(RealtimeCoreToken);
      assert.notEqual(other, core);
      assert.deepEqual((core.bus as PgNotificationBus).backoff, { initialMs: 100, maxMs: 5000 });
      // Options reach the parts they configure.
      const tuned = registerServer(
        { app, capture: 'outbox', busReconnect: { initialMs: 20, maxMs: 1000 } },
        db,
      ).resolve<RealtimeCore>(RealtimeCoreToken);
      assert.deepEqual((tuned.bus as PgNotificationBus).backoff, { initialMs: 20, maxMs: 1000 });
      assert.equal(tuned.capture, 'outbox');
    } finally {
      await db.close();
    }
  });
});
