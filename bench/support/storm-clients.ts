/**
 * One load-generator process of the reconnect storm (bench/reconnect-storm.ts), forked with `node --import tsx`:
 * it waits for `{op: 'go', url, count}` over IPC, then opens `count` DDP clients at once, each doing the handshake
 * and subscribing to `ten`, and reports `{op: 'done', ready, failed, lastReadyNs, cpuMs}`: `lastReadyNs` is
 * `process.hrtime.bigint()` (CLOCK_MONOTONIC, the same clock in every process of the machine) when its last client
 * was ready, as a decimal string; `cpuMs` is this process's CPU time (user + system) from the go to then. The clients stay open until the process is told `{op: 'close'}` or its parent
 * goes away.
 */
import { DdpClient } from './ddp-client.js';

interface Go {
  readonly op: 'go';
  readonly url: string;
  readonly count: number;
}

const clients: DdpClient[] = [];

async function storm({ url, count }: Go): Promise<void> {
  const cpuAtGo = process.cpuUsage();
  let last = 0n;
  const outcomes = await Promise.allSettled(
    Array.from({ length: count }, async () => {
      const client = await DdpClient.connect(url, 60_000);
      clients.push(client);
      await client.subscribe('ten');
      last = process.hrtime.bigint();
    }),
  );
  const { user, system } = process.cpuUsage(cpuAtGo);
  const failed = outcomes.filter((o) => o.status === 'rejected').length;
  const cpuMs = (user + system) / 1000;
  process.send?.({ op: 'done', ready: count - failed, failed, lastReadyNs: String(last), cpuMs });
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
