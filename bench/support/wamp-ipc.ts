/**
 * The IPC side of a WAMP router under test (pgrt's, wamp-server.ts, or fox-wamp's, wamp-foxwamp-server.ts): the
 * same protocol as ./server.ts (server-protocol.ts), so {@link startServerProcess} starts either and measures its
 * CPU time and memory the same way. The router process exits when its parent goes away.
 */
import type { ServerReply, ServerRequest } from './server-protocol.js';

/** What a router process tells the scenario about itself. */
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

async function collectGarbage(): Promise<void> {
  if (!gc) return;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Answers the scenario's requests (`cpu`, `mem`, `stats`, `close`) and reports `ready` with the port. */
export function serveScenario(port: number, hooks: RouterHooks): void {
  process.on('message', (raw: unknown) => {
    const request = raw as ServerRequest;
    void (async () => {
      switch (request.op) {
        case 'cpu': {
          const { user, system } = process.cpuUsage();
          sendToScenario({ id: request.id, op: 'cpu', user, system });
          return;
        }
        case 'mem': {
          await collectGarbage();
          const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
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
      process.stderr.write(`[router] request ${request.op} failed: ${String(error)}\n`);
    });
  });
  process.on('disconnect', () => process.exit(0));
  sendToScenario({ type: 'ready', port });
}

/** Reports a failed start to the scenario and exits. */
export function failStart(error: unknown): never {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  sendToScenario({ type: 'failed', error: text });
  process.stderr.write(`[router] failed to start: ${text}\n`);
  process.exit(1);
}
