/**
 * Login round trips over DDP (issue 12: "measure the login round trip before/after" the login pipeline and the
 * failed-login limits). One server in this process (accounts with bcryptRounds 4, so bcrypt does not hide the
 * rest of the path), one DDP connection, sequential `login` calls, each complete at `result` + `updated`:
 * - `password`: `{user: {username}, password: digest}` (a new token each time);
 * - `resume`: `{resume: token}`;
 * - `wrong`: a wrong password (the refused path: hooks, failure counters); the counters are emptied between
 *   calls, outside the timed part, so the limits never block.
 * Prints p50/p99 in ms per kind. Compare commits by running this file on each (same machine, same run).
 *
 * Usage: npx tsx bench/login.ts   env: BENCH_QUICK=1 (300 calls per kind instead of 2,000), DATABASE_URL
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { accounts } from '../core/accounts/accounts.js';
import { App } from '../core/app.js';
import { createServer, ddp } from '../server.js';
import { DdpClient } from './support/ddp-client.js';
import { progress, report, Samples } from './support/measure.js';

const SCENARIO = 'login';
const DIGEST = { digest: createHash('sha256').update('secret').digest('hex'), algorithm: 'sha-256' };

async function main(): Promise<void> {
  const calls = process.env.BENCH_QUICK === '1' ? 300 : 2000;
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const database = `pgrt_bench_login_${process.pid}`;
  const admin = new pg.Client(url);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const databaseUrl = url.replace(/\/[^/]*$/, `/${database}`);
  const users = accounts({ bcryptRounds: 4 });
  const server = await createServer({
    app: new App().use(users),
    accounts: users,
    protocols: [ddp()],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    // Meteor's per-connection rules would refuse the bench; the failed-login limits stay (rateLimits not false).
    rateLimits: { accounts: false, perConnection: false },
  });
  try {
    await users.createUser({ username: 'bench', password: 'secret' });
    const clearCounters = () => server.db.query('DELETE FROM pgrt.login_failures').catch(() => undefined);
    const client = await DdpClient.connect(`ws://127.0.0.1:${server.port}/websocket`);
    const { token } = (await client.call('login', [{ user: { username: 'bench' }, password: DIGEST }])) as {
      token: string;
    };
    const kinds: [string, () => Promise<unknown>][] = [
      ['password', () => client.call('login', [{ user: { username: 'bench' }, password: DIGEST }])],
      ['resume', () => client.call('login', [{ resume: token }])],
      [
        'wrong',
        () =>
          client.call('login', [{ user: { username: 'bench' }, password: 'wrong' }]).catch(() => undefined),
      ],
    ];
    for (const [kind, call] of kinds) {
      for (let i = 0; i < 100; i++) {
        await call(); // warm-up
        if (kind === 'wrong') await clearCounters();
      }
      progress(SCENARIO, `${kind}: ${calls} sequential logins`);
      const samples = new Samples();
      for (let i = 0; i < calls; i++) {
        const started = performance.now();
        await call();
        samples.add(performance.now() - started);
        if (kind === 'wrong') await clearCounters();
      }
      const [p50, p99] = samples.quantiles(0.5, 0.99);
      for (const [metric, value] of [
        [`${kind}_p50`, p50],
        [`${kind}_p99`, p99],
      ] as const)
        report({
          scenario: SCENARIO,
          metric,
          value: value ?? Number.NaN,
          unit: 'ms',
          target: null,
          better: 'lower',
        });
    }
    client.close();
  } finally {
    await server.close();
    await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
