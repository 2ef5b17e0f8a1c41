/**
 * npm `fox-wamp` 0.7.28 (an in-memory WAMP router) on 127.0.0.1, to run the WAMP suite against another router
 * than pgrt. The package is loaded from `PEER_DIR` (install it outside this repo:
 * `mkdir -p /tmp/peer && cd /tmp/peer && npm init -y && npm install fox-wamp@0.7.28`); it listens on port `PORT`
 * (default 0), accepts WebSocket upgrades on any path, creates realms on first use, and prints its URL.
 *
 *   PEER_DIR=/tmp/peer npx tsx conformance/wamp/peers/fox-wamp.ts
 *   npx tsx conformance/wamp/cli.ts ws://127.0.0.1:<port>/ws --serializer json --auto-realms
 *
 * fox-wamp throws out of its message handler on some inputs (a HELLO whose realm is not `[a-z0-9_]`, which ends
 * the process); uncaught exceptions are logged here instead, so the run goes on and reports those cases as failed.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';

interface FoxRouter {
  listenWAMP(options: { server: ReturnType<typeof createServer> }): unknown;
}
type FoxRouterConstructor = new () => FoxRouter;

const dir = process.env.PEER_DIR;
if (!dir) throw new Error('PEER_DIR is not set (a directory with fox-wamp installed)');
const require = createRequire(join(dir, 'package.json'));
const Fox = require('fox-wamp') as FoxRouterConstructor;

process.on('uncaughtException', (error) => {
  process.stderr.write(`fox-wamp threw: ${error instanceof Error ? error.message : String(error)}\n`);
});

const http = createServer();
new Fox().listenWAMP({ server: http });
http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`fox-wamp 0.7.28 at ws://127.0.0.1:${port}/ws\n`);
});
