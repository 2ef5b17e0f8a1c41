/**
 * Core-level test harness: a {@link RealtimeCore} on the run's test database with a real LISTEN bus, and
 * sessions whose output is recorded (no sockets).
 */
import type { App } from '../../core/app.js';
import type { ChangeBus } from '../../core/bus/change-bus.js';
import { NatsChangeBus } from '../../core/bus/nats/nats-change-bus.js';
import { PgNotificationBus } from '../../core/bus/pg-notification-bus.js';
import { captureMode } from '../../core/capture/capture-modes.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import { PgDatabase } from '../../core/database/database.js';
import { type CoreOptions, RealtimeCore } from '../../core/realtime-core.js';
import type { Session } from '../../core/session.js';
import { testDatabaseUrl } from './database.js';
import { RecordingOutput } from './recording-output.js';

/** A started core and helpers. */
export interface TestCore {
  readonly core: RealtimeCore;
  readonly db: PgDatabase;
  /** Opens a session with a recording output. */
  session(id?: string): { session: Session; out: RecordingOutput };
  /** Calls a method and waits for both its result and its `updated`. */
  call(session: Session, out: RecordingOutput, name: string, ...params: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

let counter = 0;

/**
 * Starts a core for `app` after running `setup` (create tables) on the test database. `options` go to the core
 * (e.g. `capture: 'outbox'`, whose bus then replays gaps from the outbox); `url`: another database than the run's;
 * `nats`: the NATS bus on that server and stream instead of LISTEN/NOTIFY.
 */
export async function startTestCore(
  app: App,
  setup: (db: PgDatabase) => Promise<void>,
  channel = `pgrt_test_${process.pid}_${++counter}`,
  options: Omit<CoreOptions, 'channel'> & {
    readonly url?: string;
    readonly nats?: { readonly url: string; readonly stream: string };
  } = {},
): Promise<TestCore> {
  const { url, nats, ...coreOptions } = options;
  const db = new PgDatabase(url ?? testDatabaseUrl(), { poolSize: 8 });
  await setup(db);
  const outbox = captureMode(options.capture ?? 'notify').outbox;
  const bus: ChangeBus = nats
    ? new NatsChangeBus({
        channel,
        url: nats.url,
        stream: nats.stream,
        ...(coreOptions.logger ? { logger: coreOptions.logger } : {}),
      })
    : new PgNotificationBus(db, { channel, outbox });
  const core = new RealtimeCore(app, db, bus, { ...coreOptions, channel });
  await core.start();
  let methodCounter = 0;
  return {
    core,
    db,
    session(id = `s${++counter}`) {
      const out = new RecordingOutput();
      const info: ConnectionInfo = { id, protocol: 'test', clientAddress: '127.0.0.1', httpHeaders: {} };
      return { session: core.openSession(info, out), out };
    },
    async call(session, out, name, ...params) {
      const id = `m${++methodCounter}`;
      const updated = out.waitFor((m) => m.msg === 'updated' && m.methods.includes(id), 10_000);
      await session.call(id, name, params);
      const result = await out.waitFor((m) => m.msg === 'result' && m.id === id);
      await updated;
      if (result.msg !== 'result') throw new Error('unreachable');
      if (!result.outcome.ok) throw result.outcome.error;
      return result.outcome.value;
    },
    async close() {
      await core.close();
      await db.close();
    },
  };
}
