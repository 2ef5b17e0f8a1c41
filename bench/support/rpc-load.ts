/**
 * Method-call load shared by the pgrt scenario (rpc.ts) and the peer (peer.ts): sequential round-trips and
 * a fixed number of calls kept in flight for a while.
 */
import type { DdpClient } from './ddp-client.js';
import { now, Samples } from './measure.js';
import type { ServerProcess } from './server-process.js';

/** `calls` calls one after another; the round-trip time of each (ms). */
export async function sequentialCalls(client: DdpClient, method: string, calls: number): Promise<Samples> {
  const samples = new Samples();
  for (let i = 0; i < calls; i++) {
    const started = now();
    await client.call(method, [i]);
    samples.add(now() - started);
  }
  return samples;
}

/** Keeps `inFlight` calls pending on each client for `seconds`; completed calls/s and the server's CPU %. */
export async function callsPerSecond(
  server: ServerProcess,
  clients: readonly DdpClient[],
  method: string,
  inFlight: number,
  seconds: number,
): Promise<{ rate: number; cpu: number }> {
  let completed = 0;
  const stopCpu = await server.cpu();
  const started = now();
  const deadline = started + seconds * 1000;
  const loops = clients.flatMap((client) =>
    Array.from({ length: inFlight }, async () => {
      let i = 0;
      while (now() < deadline) {
        await client.call(method, [i++]);
        completed++;
      }
    }),
  );
  await Promise.all(loops);
  const elapsed = now() - started;
  const cpu = await stopCpu();
  return { rate: (completed / elapsed) * 1000, cpu: cpu.percent };
}
