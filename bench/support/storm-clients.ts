/**
 * One load-generator process of the reconnect storm (bench/reconnect-storm.ts), forked with `node --import tsx`:
 * it waits for `{op: 'go', url, count, documents}` over IPC, then opens `count` DDP clients at once, each doing
 * the handshake and subscribing to `ten`, and reports `{op: 'done', ready, failed, lastReadyNs, cpuMs}`: a client
 * that received other than `documents` documents before its `ready` counts as failed; `lastReadyNs` is `process.hrtime.bigint()`
 * (CLOCK_MONOTONIC, the same clock in every process of the machine) when its last client was ready, as a decimal
 * string; `cpuMs` is this process's CPU time (user + system) from the go to then, `systemMs` the system part of it. The clients stay open until the
 * process is told `{op: 'close'}` or its parent goes away.
 *
 * `BENCH_STORM_CLIENT`: `lean` (default) speaks WebSocket on the TCP socket itself (lean-ddp-socket.ts) and sends
 * its `sub` right after `connect`, as a reconnecting Meteor client does (`BENCH_STORM_PIPELINE=0`: once `connected`
 * came); `ws` uses the benches' `ws`-based DdpClient (which waits for `connected`), whose handshake costs the load
 * generator more CPU.
 */
import { DdpClient } from './ddp-client.js';
import { LeanDdpSocket } from './lean-ddp-socket.js';

interface Go {
  readonly op: 'go';
  readonly url: string;
  readonly count: number;
  /** Documents each client must receive before its `ready`. */
  readonly documents: number;
}

const TIMEOUT_MS = 60_000;
const clients: { close(): void }[] = [];

/** Opens one client and subscribes to `ten`; resolves with the documents it received before `ready`. */
async function openClient(url: string): Promise<number> {
  if (process.env.BENCH_STORM_CLIENT === 'ws') {
    const client = await DdpClient.connect(url, TIMEOUT_MS);
    clients.push(client);
    let added = 0;
    client.onData = (message) => {
      if (message.msg === 'added') added++;
    };
    await client.subscribe('ten');
    return added;
  }
  const client = await LeanDdpSocket.open(url, 'ten', TIMEOUT_MS, process.env.BENCH_STORM_PIPELINE !== '0');
  clients.push(client);
  return client.added;
}

async function storm({ url, count, documents }: Go): Promise<void> {
  const cpuAtGo = process.cpuUsage();
  let last = 0n;
  const outcomes = await Promise.allSettled(
    Array.from({ length: count }, async () => {
      const added = await openClient(url);
      if (added !== documents) throw new Error(`${added} documents before ready, not ${documents}`);
      last = process.hrtime.bigint();
    }),
  );
  const { user, system } = process.cpuUsage(cpuAtGo);
  const rejected = outcomes.filter((o) => o.status === 'rejected');
  const failed = rejected.length;
  if (rejected[0]) process.stderr.write(`[storm-clients] e.g. ${String(rejected[0].reason)}\n`);
  const cpuMs = (user + system) / 1000;
  const systemMs = system / 1000;
  process.send?.({ op: 'done', ready: count - failed, failed, lastReadyNs: String(last), cpuMs, systemMs });
}

process.on('message', (message: Go | { readonly op: 'close' }) => {
  if (message.op === 'go') {
    storm(message).catch((error: unknown) => {
      process.stderr.write(`[storm-clients] ${String(error)}\n`);
      process.exit(1);
    });
  } else {
    for (const client of clients) client.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ op: 'ready' });
