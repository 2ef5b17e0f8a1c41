/**
 * The latency floor of latency-floor.ts (issue 16 item 2): the least a server can do to bring a committed row
 * to WebSocket clients through PostgreSQL's NOTIFY. One `pg` connection LISTENs on channel `bench_floor` and
 * every notification's payload is encoded once and written as it is to every open `ws` socket; no protocol, no
 * sessions, no parsing. Run in its own process with the IPC protocol of ./server.ts (server-ipc.ts), so it is pinned and
 * measured exactly as pgrt's server is. Accepts WebSocket upgrades on any path.
 *
 * The trigger that notifies (floor-sql.ts) is created by the scenario, before this process starts.
 */
import { createServer } from 'node:http';
import pg from 'pg';
import { type WebSocket, WebSocketServer } from 'ws';
import { FLOOR_CHANNEL } from './floor-sql.js';
import { failStart, serveScenario } from './server-ipc.js';

async function main(): Promise<void> {
  const url = process.env.BENCH_DATABASE_URL;
  if (!url) throw new Error('BENCH_DATABASE_URL is not set');
  const listener = new pg.Client(url);
  await listener.connect();
  const sockets = new Set<WebSocket>();
  listener.on('notification', (notification) => {
    // Encoded once, the same bytes framed as a text message on every socket.
    const payload = Buffer.from(notification.payload ?? '');
    for (const socket of sockets) socket.send(payload, { binary: false });
  });
  await listener.query(`LISTEN ${FLOOR_CHANNEL}`);

  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.terminate());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  serveScenario(
    typeof address === 'object' && address ? address.port : 0,
    {
      sessions: () => sockets.size,
      close: async () => {
        for (const socket of sockets) socket.terminate();
        wss.close();
        await listener.end();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      },
    },
    'floor',
  );
}

main().catch((error: unknown) => failStart(error, 'floor'));
