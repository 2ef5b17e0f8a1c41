/**
 * The composition root (server/composition.ts): the whole production graph resolves with every part defined and of
 * the right class, one instance per server; and every swappable part — logger, capture mode, change bus, rate
 * limiter, protocols, a protocol's own parts (WAMP's default authenticators) — is taken from the container an app
 * passes, on a running server too.
 */
import assert from 'node:assert/strict';
import { container as rootContainer } from 'tsyringe';
import WebSocket from 'ws';
import {
  anonymousAuthenticator,
  ddp,
  staticUsers,
  ticketAuthenticator,
  wamp,
} from '../../adapters/builtin.js';
import type { Protocol } from '../../adapters/protocol-adapter.js';
import { WampAuthenticatorsToken } from '../../adapters/wamp/wamp-protocol.js';
import { App } from '../../core/app.js';
import { type ChangeBus, ChangeBusToken } from '../../core/bus/change-bus.js';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import { captureMode } from '../../core/capture/capture-modes.js';
import { DatabaseToken, PgDatabase } from '../../core/database/database.js';
import { type Logger, LoggerToken, silentLogger } from '../../core/logger.js';
import { RateLimiter, RateLimiterToken } from '../../core/rate-limit.js';
import { RealtimeCore } from '../../core/realtime-core.js';
import {
  AppToken,
  CaptureModeToken,
  createServer,
  HttpHostToken,
  ProtocolsToken,
  RealtimeCoreToken,
  registerServer,
  SERVER_TOKENS,
  ServerOptionsToken,
} from '../../server.js';
import { HttpHost } from '../../transports/http-host.js';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { testDatabaseUrl } from '../support/database.js';

describe('composition root', () => {
  let db: PgDatabase;

  before(() => {
    db = new PgDatabase(testDatabaseUrl());
  });

  after(async () => {
    await db.close();
  });

  it('resolves the whole production graph with every part defined and of the right class', () => {
    const app = new App();
    const protocols = [ddp(), wamp()];
    const container = registerServer({ app, protocols }, db);
    for (const token of [...SERVER_TOKENS, WampAuthenticatorsToken]) {
      assert.notEqual(container.resolve(token), undefined, String(token));
    }
    const core = container.resolve<RealtimeCore>(RealtimeCoreToken);
    assert.ok(core instanceof RealtimeCore);
    assert.equal(core.app, app);
    assert.equal(core.db, db);
    assert.equal(container.resolve(AppToken), app);
    assert.equal(container.resolve(DatabaseToken), db);
    assert.equal(container.resolve<{ app: App }>(ServerOptionsToken).app, app);
    assert.ok(core.bus instanceof PgNotificationBus);
    assert.equal(core.bus, container.resolve(ChangeBusToken));
    assert.equal(core.rateLimiter, container.resolve(RateLimiterToken));
    assert.ok(core.rateLimiter instanceof RateLimiter);
    assert.equal(core.logger, container.resolve(LoggerToken));
    assert.equal(core.captureMode, container.resolve(CaptureModeToken));
    assert.equal(core.capture, 'notify');
    assert.ok(container.resolve(HttpHostToken) instanceof HttpHost);
    assert.deepEqual(container.resolve(ProtocolsToken), protocols);
    const authenticators = container.resolve<readonly { authmethod: string }[]>(WampAuthenticatorsToken);
    assert.deepEqual(
      authenticators.map((a) => a.authmethod),
      ['anonymous'],
    );
    // One instance per server: the host's readiness must watch the very core that was started.
    assert.equal(container.resolve(RealtimeCoreToken), core);
    assert.equal(container.resolve(HttpHostToken), container.resolve(HttpHostToken));
    // A child container per server: two servers never share parts.
    const other = registerServer({ app }, db);
    assert.notEqual(other.resolve(RealtimeCoreToken), core);
    assert.notEqual(other.resolve(RateLimiterToken), core.rateLimiter);
    assert.deepEqual((core.bus as PgNotificationBus).backoff, { initialMs: 100, maxMs: 5000 });
    // Options reach the parts they configure.
    const tuned = registerServer(
      { app, capture: 'outbox', busReconnect: { initialMs: 20, maxMs: 1000 } },
      db,
    ).resolve<RealtimeCore>(RealtimeCoreToken);
    assert.deepEqual((tuned.bus as PgNotificationBus).backoff, { initialMs: 20, maxMs: 1000 });
    assert.equal(tuned.capture, 'outbox');
  });

  it('takes every swappable part from the container the app passes', () => {
    const app = new App();
    const parent = rootContainer.createChildContainer();
    const logger: Logger = { ...silentLogger, child: () => logger };
    const limiter = new RateLimiter({ perConnection: { numRequests: 1, intervalMs: 60_000 } });
    const bus = new PgNotificationBus(db, { outbox: true });
    const protocols: Protocol[] = [wamp()];
    const authenticators = [anonymousAuthenticator()];
    parent.register(LoggerToken, { useValue: logger });
    parent.register(RateLimiterToken, { useValue: limiter });
    parent.register(CaptureModeToken, { useValue: captureMode('outbox') });
    parent.register(ChangeBusToken, { useValue: bus });
    parent.register(ProtocolsToken, { useValue: protocols });
    parent.register(WampAuthenticatorsToken, { useValue: authenticators });
    const container = registerServer({ app }, db, parent);
    const core = container.resolve<RealtimeCore>(RealtimeCoreToken);
    assert.equal(core.logger, logger);
    assert.equal(core.rateLimiter, limiter);
    assert.equal(core.captureMode, captureMode('outbox'));
    assert.equal(core.capture, 'outbox');
    assert.equal(core.bus, bus);
    assert.equal(container.resolve<ChangeBus>(ChangeBusToken), bus);
    assert.equal(container.resolve(ProtocolsToken), protocols);
    assert.equal(container.resolve(WampAuthenticatorsToken), authenticators);
  });

  it('a running server uses the parts an app registered (rate limiter, WAMP authenticators)', async () => {
    const parent = rootContainer.createChildContainer();
    parent.register(RateLimiterToken, {
      useValue: new RateLimiter({ accounts: false, perConnection: { numRequests: 1, intervalMs: 60_000 } }),
    });
    parent.register(WampAuthenticatorsToken, {
      useValue: [ticketAuthenticator(staticUsers({ alice: { secret: 's3cret', authrole: 'user' } }).ticket)],
    });
    const server = await createServer({
      app: new App().method('ping', () => 'pong'),
      protocols: [ddp(), wamp()],
      port: 0,
      host: '127.0.0.1',
      databaseUrl: testDatabaseUrl(),
      container: parent,
    });
    try {
      const client = await RawDdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
      try {
        assert.deepEqual(await client.call('ping'), { result: 'pong' });
        const limited = await client.call('ping');
        assert.equal(limited.error?.error, 'too-many-requests');
      } finally {
        await client.close();
      }
      // The realm from `wamp()` names no authenticators: it offers the registered ones, so anonymous is refused.
      const hello = async (details: Record<string, unknown>): Promise<unknown[]> => {
        const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, 'wamp.2.json');
        try {
          const reply = new Promise<unknown[]>((resolve) =>
            socket.once('message', (data) => resolve(JSON.parse(String(data)) as unknown[])),
          );
          await new Promise((resolve) => socket.once('open', resolve));
          socket.send(JSON.stringify([1, 'realm1', { roles: { caller: {} }, ...details }]));
          return await reply;
        } finally {
          socket.close();
        }
      };
      assert.equal((await hello({ authmethods: ['anonymous'] }))[0], 3, 'ABORT');
      assert.equal((await hello({ authmethods: ['ticket'], authid: 'alice' }))[0], 4, 'CHALLENGE');
    } finally {
      await server.close();
    }
  });
});
