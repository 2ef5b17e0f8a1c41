/**
 * The server under test of the fault and ingest scenarios (bench/faults.ts, bench/ingest.ts), forked by
 * {@link startServerProcess} with `script` set to this file. It speaks the IPC protocol of ./server.ts
 * (`ready`, then `cpu`, `mem`, `stats`, `close`), and serves over DDP:
 *
 * | table / collection | publication | used by |
 * |--------------------|-------------|---------|
 * | bench_fault (id text, n int, v text)                     | `fault`  | faults  |
 * | bench_ingest (id bigserial, w int, seq int8, t float8)   | `ingest` | ingest  |
 *
 * Env: `BENCH_DATABASE_URL`, `BENCH_CAPTURE` (`notify` | `outbox` | `logical`), `BENCH_PUMP_NAME` (the pump's
 * `application_name`, so the scenario can tell which process pumps), `BENCH_ELECTION_MS` (default 500).
 * Warnings and errors go to stderr only when `BENCH_SERVER_LOG=1` (faults make many, by design).
 */
import { App } from '../../core/app.js';
import type { Queryable } from '../../core/database/database.js';
import { type Logger, silentLogger } from '../../core/logger.js';
import { createServer, ddp } from '../../index.js';
import { failStart, serveScenario, stderrLogger } from './server-ipc.js';

/** DDL of the fault and ingest tables (idempotent). */
export const FAULT_TABLES_SQL = `
  CREATE TABLE IF NOT EXISTS bench_fault (id text PRIMARY KEY, n int NOT NULL, v text);
  CREATE TABLE IF NOT EXISTS bench_ingest (id bigserial PRIMARY KEY, w int NOT NULL, seq int8 NOT NULL, t float8 NOT NULL);
`;

/** The capture modes `BENCH_CAPTURE` may name (default `notify`). */
const CAPTURES = ['notify', 'outbox', 'logical'] as const;

/** Warnings and errors go to stderr only with BENCH_SERVER_LOG=1 (faults make a lot of them, by design). */
const logger: Logger = process.env.BENCH_SERVER_LOG === '1' ? stderrLogger('fault-server') : silentLogger;

async function main(): Promise<void> {
  const databaseUrl = process.env.BENCH_DATABASE_URL;
  if (!databaseUrl) throw new Error('BENCH_DATABASE_URL is not set');
  const app = new App()
    .collection('bench_fault')
    .collection('bench_ingest')
    .publish('fault', (ctx) => ctx.find('bench_fault', {}))
    .publish('ingest', (ctx) => ctx.find('bench_ingest', {}))
    .method('fault.add', async (ctx, id: unknown) => {
      await ctx.insert('bench_fault', { id: String(id), n: 0, v: 'method' });
      return String(id);
    });
  const server = await createServer({
    app,
    protocols: [ddp()],
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    migrate: async (db: Queryable) => {
      await db.query(FAULT_TABLES_SQL);
    },
    capture: CAPTURES.find((mode) => mode === process.env.BENCH_CAPTURE) ?? 'notify',
    outboxPump: {
      electionIntervalMs: Number(process.env.BENCH_ELECTION_MS ?? 500),
      applicationName: process.env.BENCH_PUMP_NAME ?? 'pgrt-pump',
    },
    logger,
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`[fault-server] UNHANDLED REJECTION: ${String(reason)}\n`);
    process.exit(70);
  });
  serveScenario(
    server.port,
    { sessions: () => server.core.sessions.size, close: () => server.close() },
    'fault-server',
  );
}

main().catch((error: unknown) => failStart(error, 'fault-server'));
