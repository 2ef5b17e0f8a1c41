/**
 * The peer WAMP router, fox-wamp (npm; an in-memory router with no database), in its own process with the IPC
 * protocol of ./server.ts (server-ipc.ts), so wamp.ts measures it exactly as it measures pgrt's router. It is
 * loaded from env `BENCH_FOXWAMP_DIR` (installed there, never into this repo) and listens on 127.0.0.1, port 0,
 * accepting WebSocket upgrades on any path (`/ws` included). Realms are created on first use (`realm1`).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { failStart, serveScenario } from './server-ipc.js';

interface FoxRouter {
  listenWAMP(options: { server: ReturnType<typeof createServer> }): { close(callback?: () => void): void };
}
type FoxRouterConstructor = new () => FoxRouter;

async function main(): Promise<void> {
  const dir = process.env.BENCH_FOXWAMP_DIR;
  if (!dir) throw new Error('BENCH_FOXWAMP_DIR is not set');
  const require = createRequire(join(dir, 'package.json'));
  const Fox = require('fox-wamp') as FoxRouterConstructor;
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const wss = new Fox().listenWAMP({ server: http });
  const address = http.address();
  serveScenario(typeof address === 'object' && address ? address.port : 0, {
    sessions: () => -1,
    close: async () => {
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  });
}

main().catch(failStart);
