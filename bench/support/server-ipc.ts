/**
 * The IPC side of every server process under test (pgrt over DDP in server.ts, pgrt's WAMP router in
 * wamp-server.ts, fox-wamp in wamp-foxwamp-server.ts, the fault server): the protocol of server-protocol.ts, so
 * {@link startServerProcess} starts any of them and measures CPU time and memory the same way. A server process
 * exits when its parent goes away.
 */
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { Logger } from '../../core/logger.js';
import type { ServerReply, ServerRequest } from './server-protocol.js';

/** What a server process tells the scenario about itself. */
export interface RouterHooks {
  /** Open sessions (-1 when the router cannot tell). */
  sessions(): number;
  /** Stops the router (the process exits right after). */
  close(): Promise<void>;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Sends one IPC message to the scenario (no-op without an IPC channel). */
export function sendToScenario(message: ServerReply): void {
  process.send?.(message);
}

/** Forces full garbage collections (3, 50 ms apart) when the process runs with --expose-gc; else does nothing. */
export async function collectGarbage(): Promise<boolean> {
  if (!gc) return false;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** Answers the scenario's requests (`cpu`, `mem`, `stats`, `close`) and reports `ready` with the port. */
export function serveScenario(port: number, hooks: RouterHooks, label = 'router'): void {
  process.on('message', (raw: unknown) => {
    const request = raw as ServerRequest;
    (async () => {
      switch (request.op) {
        case 'cpu': {
          const { user, system } = process.cpuUsage();
          sendToScenario({ id: request.id, op: 'cpu', user, system });
          return;
        }
        case 'mem': {
          await collectGarbage();
          const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
          snapshotHeap(label);
          sendToScenario({
            id: request.id,
            op: 'mem',
            rss,
            heapUsed,
            heapTotal,
            external,
            arrayBuffers,
            gc: gc !== undefined,
          });
          return;
        }
        case 'stats':
          sendToScenario({ id: request.id, op: 'stats', sessions: hooks.sessions() });
          return;
        case 'close':
          await hooks.close();
          sendToScenario({ id: request.id, op: 'close' });
          process.exit(0);
      }
    })().catch((error: unknown) => {
      process.stderr.write(`[${label}] request ${request.op} failed: ${String(error)}\n`);
    });
  });
  process.on('disconnect', () => process.exit(0));
  sendToScenario({ type: 'ready', port });
}

let snapshots = 0;

/**
 * With env `BENCH_HEAP_SNAPSHOT=<dir>`, writes a V8 heap snapshot of this process there (after the forced GCs of
 * a `mem` request, once its figures were read): `<label>-<pid>-<n>.heapsnapshot`, n counting the requests.
 */
function snapshotHeap(label: string): void {
  const dir = process.env.BENCH_HEAP_SNAPSHOT;
  if (!dir) return;
  const file = writeHeapSnapshot(join(dir, `${label}-${process.pid}-${++snapshots}.heapsnapshot`));
  process.stderr.write(`[${label}] heap snapshot ${file}\n`);
}

/** Reports a failed start to the scenario and exits. */
export function failStart(error: unknown, label = 'router'): never {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  sendToScenario({ type: 'failed', error: text });
  process.stderr.write(`[${label}] failed to start: ${text}\n`);
  process.exit(1);
}

/** A logger writing warnings and errors to stderr as `[label warn] message {fields}` (debug/info dropped). */
export function stderrLogger(label: string): Logger {
  const logger: Logger = {
    debug() {},
    info() {},
    warn(fields, message) {
      process.stderr.write(`[${label} warn] ${message ?? ''} ${safeJson(fields)}\n`);
    },
    error(fields, message) {
      process.stderr.write(`[${label} error] ${message ?? ''} ${safeJson(fields)}\n`);
    },
    child() {
      return logger;
    },
    isLevelEnabled(level) {
      return level === 'warn' || level === 'error';
    },
  };
  return logger;
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v,
    );
  } catch {
    return String(value);
  }
}
