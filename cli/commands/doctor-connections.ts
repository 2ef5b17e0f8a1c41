/**
 * `pgrt doctor`'s checks of the connections pgrt opens besides its query pool: whether the dedicated connections
 * (LISTEN, replication, the pump's lock: `listenDatabaseUrl`, else `databaseUrl`) own a backend or go through a
 * transaction-mode pooler, a replication connection (capture `logical`), and a timed LISTEN/NOTIFY round trip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PgDatabase } from '../../core/database/database.js';
import {
  type PoolerProbe,
  probeDedicatedConnections,
  TRANSACTION_POOLER_ADVICE,
} from '../../core/database/pooler-probe.js';
import type { Verdict } from './doctor.js';

/**
 * The query URL and the dedicated connections' URL, probed for a pooler (core/database/pooler-probe.ts): a
 * transaction-mode pooler is fine for the query pool and a failure for the dedicated connections.
 */
export async function poolerChecks(
  url: string,
  listenUrl: string,
): Promise<Array<[Verdict, string, string]>> {
  const out: Array<[Verdict, string, string]> = [];
  const separate = listenUrl !== url;
  const query = await probe(url);
  if (separate) {
    if (typeof query === 'string') out.push(['FAIL', 'query connection', query]);
    else if (query.kind === 'transaction-pooler')
      out.push([
        'ok',
        'query connection',
        'through a transaction-mode pooler (queries and method transactions work)',
      ]);
    else if (query.kind === 'session-pooler')
      out.push(['ok', 'query connection', 'through a session-mode pooler']);
    else out.push(['ok', 'query connection', 'direct']);
  }
  const listen = separate ? await probe(listenUrl) : query;
  const name = 'listen connection';
  const via = separate ? 'listenDatabaseUrl' : 'databaseUrl (no listenDatabaseUrl)';
  if (typeof listen === 'string') out.push(['FAIL', name, listen]);
  else if (listen.kind === 'transaction-pooler')
    out.push(['FAIL', name, `${via}: ${TRANSACTION_POOLER_ADVICE}`]);
  else if (listen.kind === 'session-pooler')
    out.push([
      'ok',
      name,
      `${via} goes through a session-mode pooler: LISTEN works, each pgrt process holds one of its connections`,
    ]);
  else
    out.push(['ok', name, `${via} reaches PostgreSQL directly (LISTEN, replication and the pump lock work)`]);
  return out;
}

/** Probes `url`'s dedicated connections; the error text when it cannot connect. */
async function probe(url: string): Promise<PoolerProbe | string> {
  const db = new PgDatabase(url, {
    poolSize: 1,
    applicationName: 'pgrt-doctor',
    connectionTimeoutMillis: 5000,
  });
  try {
    return await probeDedicatedConnections(db);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await db.close();
  }
}

/**
 * Logical mode: the role may stream the WAL. Opens a replication connection and runs IDENTIFY_SYSTEM, as the pump's
 * stream does (role, pg_hba.conf, max_wal_senders all count); on failure the role's attributes tell whether the
 * missing REPLICATION attribute is the reason.
 */
export async function replicationCheck(url: string, user: string): Promise<[Verdict, string, string]> {
  const name = 'replication';
  // `replication` is a startup parameter pg passes on but its typings lack (as in Database.connectDedicated).
  const options = {
    connectionString: url,
    connectionTimeoutMillis: 5000,
    application_name: 'pgrt-doctor',
    replication: 'database',
  };
  const probe = new pg.Client(options);
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.query('IDENTIFY_SYSTEM');
    return ['ok', name, `${user} may open a replication connection (the pump streams the WAL on one)`];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const role = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    const attributes = await role
      .connect()
      .then(() =>
        role.query<{ replication: boolean; superuser: boolean }>(
          'SELECT rolreplication AS replication, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user',
        ),
      )
      .then((r) => r.rows[0])
      .catch(() => undefined)
      .finally(() => role.end().catch(() => {}));
    if (attributes && !attributes.replication && !attributes.superuser)
      return [
        'FAIL',
        name,
        `${user} has neither REPLICATION nor superuser: ALTER ROLE ${pg.escapeIdentifier(user)} REPLICATION (${message})`,
      ];
    return ['FAIL', name, `a replication connection failed (pg_hba.conf? max_wal_senders?): ${message}`];
  } finally {
    await probe.end().catch(() => {});
  }
}

/**
 * LISTEN on a connection to `listenUrl`, NOTIFY from one to `url` (as pgrt does: triggers and fences notify from the
 * query pool), time the delivery (a private channel: no pgrt server sees it).
 */
export async function roundTrip(
  url: string,
  listenUrl: string,
  channel: string,
): Promise<[Verdict, string, string]> {
  const name = 'LISTEN/NOTIFY';
  const probe = `${channel}_doctor_${randomBytes(4).toString('hex')}`;
  const listener = new pg.Client({ connectionString: listenUrl, application_name: 'pgrt-doctor' });
  const notifier = new pg.Client({ connectionString: url, application_name: 'pgrt-doctor' });
  try {
    await Promise.all([listener.connect(), notifier.connect()]);
    await listener.query(`LISTEN ${pg.escapeIdentifier(probe)}`);
    const payload = randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      listener.on('notification', (message) => {
        if (message.channel === probe && message.payload === payload) resolve(true);
      });
      timer = setTimeout(() => resolve(false), 5000);
    });
    const started = performance.now();
    await notifier.query('SELECT pg_notify($1, $2)', [probe, payload]);
    const ok = await arrived;
    clearTimeout(timer);
    if (!ok) return ['FAIL', name, 'notification not delivered within 5 s'];
    return ['ok', name, `round trip ${(performance.now() - started).toFixed(1)} ms between two connections`];
  } catch (error) {
    return ['FAIL', name, error instanceof Error ? error.message : String(error)];
  } finally {
    await Promise.all([listener.end().catch(() => {}), notifier.end().catch(() => {})]);
  }
}
