/**
 * An outbox pump in its own process, as a pgrt server process would run it (writer-overhead.ts): it pumps
 * `PUMP_DATABASE_URL` with source `PUMP_SOURCE` (`triggers` | `logical`) until the parent sends `stop`, then
 * replies with the notifications it sent and its CPU time, and exits.
 *
 * `PUMP_BUSY_POLL_MS`, `PUMP_GATHER_MS` and `PUMP_RETENTION_MS` (default 1000), when set, are the pump's
 * `busyPollMs`, `gatherMs` and `retentionMs` (trying other tunings; a long retention leaves retention's DELETEs out).
 *
 * IPC: child → parent `{ op: 'ready' }` once it leads (or after 10 s), then `{ op: 'stopped', sent, cpuMs }`.
 */
import { logicalCapture } from '../../core/capture/logical-capture.js';
import { OutboxPump } from '../../core/capture/outbox-pump.js';
import { outboxCapture } from '../../core/capture/trigger-capture.js';
import { PgDatabase } from '../../core/database/database.js';

const url = process.env.PUMP_DATABASE_URL;
const capture = process.env.PUMP_SOURCE === 'logical' ? logicalCapture : outboxCapture;
if (!url || !process.send) throw new Error('pump-process.ts is forked by the bench with PUMP_DATABASE_URL');
const send = process.send.bind(process);

const db = new PgDatabase(url, { poolSize: 2 });
const busyPollMs = process.env.PUMP_BUSY_POLL_MS ? Number(process.env.PUMP_BUSY_POLL_MS) : undefined;
const gatherMs = process.env.PUMP_GATHER_MS ? Number(process.env.PUMP_GATHER_MS) : undefined;
const pump = new OutboxPump(db, {
  retentionMs: Number(process.env.PUMP_RETENTION_MS ?? 1000),
  gcIntervalMs: 1000,
  electionIntervalMs: 200,
  capture,
  ...(busyPollMs === undefined ? {} : { busyPollMs }),
  ...(gatherMs === undefined ? {} : { gatherMs }),
});
pump.start();
const started = process.cpuUsage();
const deadline = Date.now() + 10_000;
while (!pump.leading && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
send({ op: 'ready', leading: pump.leading });

process.on('message', (message: { op?: string }) => {
  if (message.op !== 'stop') return;
  (async () => {
    await pump.close();
    await db.close();
    const cpu = process.cpuUsage(started);
    send({ op: 'stopped', sent: pump.sent, cpuMs: (cpu.user + cpu.system) / 1000 }, () => process.exit(0));
  })().catch((error: unknown) => {
    process.stderr.write(`pump process: stopping failed: ${String(error)}\n`);
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
