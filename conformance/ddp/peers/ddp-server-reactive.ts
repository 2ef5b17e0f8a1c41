/**
 * The DDP suite's fixture contract (README "Fixture contract") on npm `ddp-server-reactive` 0.4.0, to run the
 * suite against another server than pgrt. The package is loaded from `PEER_DIR` (install it outside this repo:
 * `mkdir -p /tmp/peer && cd /tmp/peer && npm init -y && npm install ddp-server-reactive@0.4.0`); the server listens
 * on 127.0.0.1, port `PORT` (default 0), and prints its `/websocket` URL.
 *
 *   PEER_DIR=/tmp/peer npx tsx conformance/ddp/peers/ddp-server-reactive.ts
 *   npx tsx conformance/ddp/cli.ts ws://127.0.0.1:<port>/websocket --no-sockjs-welcome
 *
 * What the package cannot express is left out and fails or skips as it would for any server without it: it has
 * one collection per publication (so `tasksA`/`tasksB` cannot publish into `tasks`), synchronous methods only
 * (`slow` returns at once), no unsub, no universal publications, no accounts and no SockJS. Its message handler
 * throws on a frame that is not JSON; the uncaught exception is logged here instead of ending the process, so the
 * run goes on (the server still never answers that frame).
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';

type Documents = Record<string, Record<string, unknown>>;
interface DdpServerReactive {
  methods(methods: Record<string, (...args: unknown[]) => unknown>): void;
  publish(name: string): Documents;
}
type DdpServerReactiveConstructor = new (options: {
  httpServer: ReturnType<typeof createServer>;
}) => DdpServerReactive;

const dir = process.env.PEER_DIR;
if (!dir) throw new Error('PEER_DIR is not set (a directory with ddp-server-reactive installed)');
const require = createRequire(join(dir, 'package.json'));
const DDPServer = require('ddp-server-reactive') as DdpServerReactiveConstructor;

process.on('uncaughtException', (error) => {
  process.stderr.write(
    `ddp-server-reactive threw: ${error instanceof Error ? error.message : String(error)}\n`,
  );
});

const http = createServer();
const server = new DDPServer({ httpServer: http });
const tasks = server.publish('tasks');
server.publish('empty');
let counter = 0;
const newId = (): string => `t${Date.now().toString(36)}${(counter++).toString(36)}`;
const FIELDS = new Set(['a', 'b', 'c', 'f', 'title']);

server.methods({
  echo: (...args: unknown[]) => args,
  noop: () => undefined,
  throwMeteorError: (error: unknown, reason: unknown) => {
    throw Object.assign(new Error(String(reason)), { error, reason });
  },
  throwPlain: () => {
    throw new Error('secret internals');
  },
  slow: (ms: unknown) => ms,
  insertTask: (title: unknown) => {
    const id = newId();
    tasks[id] = { title };
    return id;
  },
  insertTwoTasks: (title: unknown) => {
    const ids = [newId(), newId()];
    for (const id of ids) tasks[id] = { title };
    return ids;
  },
  insertTaskWithId: (id: unknown, fields: unknown) => {
    tasks[String(id)] = { ...(fields as Record<string, unknown>) };
    return id;
  },
  setField: (id: unknown, field: unknown, value: unknown) => {
    const doc = tasks[String(id)];
    if (doc && FIELDS.has(String(field))) doc[String(field)] = value;
  },
  unsetField: (id: unknown, field: unknown) => {
    const doc = tasks[String(id)];
    if (doc) delete doc[String(field)];
  },
  resetTasks: () => {
    for (const id of Object.keys(tasks)) delete tasks[id];
  },
});

http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`ddp-server-reactive 0.4.0 at ws://127.0.0.1:${port}/websocket\n`);
});
