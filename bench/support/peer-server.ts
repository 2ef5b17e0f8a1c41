/**
 * The peer under comparison, ddp-server-reactive (npm; an in-memory DDP server with no database), run in its
 * own process with the same IPC protocol as ./server.ts so peer.ts measures it the same way. It is loaded
 * from the scratch directory in env `BENCH_PEER_DIR` (installed there, never into this repo).
 *
 * It serves method `bench.echo`, publication `fan` (one document) and publication `docs` (env `BENCH_PEER_DOCS`
 * documents of bench/memory.ts, default none). `burst` makes `count` changes to the `fan` document in-process
 * (there is no database to write to), yielding to the event loop every 10 changes as perf-scripts/ddp-bench.js
 * did. `mem` forces garbage collections first, as the pgrt server does (the process runs with --expose-gc).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchDocument, benchDocumentId } from './documents.js';
import { collectGarbage } from './server-ipc.js';
import type { BurstRequest, ServerReply, ServerRequest } from './server-protocol.js';

interface ReactiveServer {
  methods(methods: Record<string, (...args: unknown[]) => unknown>): void;
  publish(name: string): Record<string, Record<string, unknown>>;
}
type ReactiveServerConstructor = new (options: {
  httpServer: ReturnType<typeof createServer>;
}) => ReactiveServer;

function send(message: ServerReply): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const dir = process.env.BENCH_PEER_DIR;
  if (!dir) throw new Error('BENCH_PEER_DIR is not set');
  const require = createRequire(join(dir, 'package.json'));
  const DDPServer = require('ddp-server-reactive') as ReactiveServerConstructor;
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const server = new DDPServer({ httpServer: http });
  server.methods({ 'bench.echo': (value) => value });
  const fan = server.publish('fan');
  const pad = 'p'.repeat(150);
  fan.a = { v: -1, pad };
  const docs = server.publish('docs');
  const docCount = Number(process.env.BENCH_PEER_DOCS ?? 0);
  for (let i = 0; i < docCount; i++) docs[benchDocumentId(i)] = { ...benchDocument(i) };

  process.on('message', (raw: unknown) => {
    const request = raw as ServerRequest | BurstRequest;
    (async () => {
      switch (request.op) {
        case 'cpu': {
          const { user, system } = process.cpuUsage();
          send({ id: request.id, op: 'cpu', user, system });
          return;
        }
        case 'mem': {
          const gc = await collectGarbage();
          const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
          send({ id: request.id, op: 'mem', rss, heapUsed, heapTotal, external, arrayBuffers, gc });
          return;
        }
        case 'stats':
          send({ id: request.id, op: 'stats', sessions: -1 });
          return;
        case 'burst':
          for (let i = 0; i < request.count; i++) {
            fan.a = { v: i, pad };
            if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
          }
          send({ id: request.id, op: 'burst' });
          return;
        case 'close':
          send({ id: request.id, op: 'close' });
          process.exit(0);
      }
    })().catch((error: unknown) => {
      process.stderr.write(`[peer] request ${request.op} failed: ${String(error)}\n`);
    });
  });
  process.on('disconnect', () => process.exit(0));
  const address = http.address();
  send({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
}

main().catch((error: unknown) => {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  send({ type: 'failed', error: text });
  process.exit(1);
});
