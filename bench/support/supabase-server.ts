/**
 * pgrt serving the bench app over DDP and Supabase Realtime in its own process (started by
 * {@link startServerProcess} with this script), for bench/supabase.ts: both protocols from one core, so the two
 * kinds of client receive the same committed changes in the same run. `bench_rows` and `bench_fan` are opted in
 * for postgres_changes (every row, everyone). IPC: server-ipc.ts. Warnings and errors go to stderr.
 */
import { createServer, ddp, supabase } from '../../index.js';
import { benchApp, migrateBench } from './bench-app.js';
import { failStart, serveScenario, stderrLogger } from './server-ipc.js';

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const server = await createServer({
    app: benchApp(),
    protocols: [ddp(), supabase({ access: { tables: { bench_rows: true, bench_fan: true } } })],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    migrate: migrateBench,
    logger: stderrLogger('server'),
    rateLimits: { perConnection: false },
  });
  serveScenario(server.port, {
    sessions: () => server.core.sessions.size,
    close: () => server.close(),
  });
}

main().catch((error: unknown) => failStart(error, 'server'));
