/**
 * Fan-out measuring shared by the pgrt scenario (fanout.ts) and the peer (peer.ts): a counter of data
 * messages across many clients that never parses a frame, and the timing of one burst.
 */
import type { DdpClient } from './ddp-client.js';
import { now, waitFor } from './measure.js';
import type { ServerProcess } from './server-process.js';

const ADDED = Buffer.from('{"msg":"added"');
const CHANGED = Buffer.from('{"msg":"changed"');
const DATA_ADDED = Buffer.from('"msg":"added"');
const DATA_CHANGED = Buffer.from('"msg":"changed"');

function occurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** Counts `added`/`changed` messages received by every attached client, and when the last one arrived. */
export class DeliveryCounter {
  count = 0;
  last = 0;

  /** Counts this client's data frames by prefix; other frames go on to the client's normal handling. */
  attach(client: DdpClient): void {
    client.onFrame = (frame) => {
      if (
        frame.subarray(0, CHANGED.length).equals(CHANGED) ||
        frame.subarray(0, ADDED.length).equals(ADDED)
      ) {
        this.#hit(1);
        return true;
      }
      if (frame[0] === 0x5b) {
        // A frame batching several messages: count its data messages.
        this.#hit(occurrences(frame, DATA_ADDED) + occurrences(frame, DATA_CHANGED));
        return true;
      }
      return false;
    };
  }

  #hit(n: number): void {
    if (n === 0) return;
    this.count += n;
    this.last = now();
  }
}

/** Outcome of one burst. */
export interface BurstResult {
  readonly delivered: number;
  readonly expected: number;
  /** delivered / (last receipt − burst start). */
  readonly perSecond: number;
  readonly serverCpuPercent: number;
  /** Deliveries per second of server CPU time: what one fully busy server core would do. */
  readonly perServerCpuSecond: number;
  /** CPU % of this (the clients') process over the same span. */
  readonly clientCpuPercent: number;
}

/**
 * Starts `write` (the burst) and waits until `expected` messages arrived, or none arrived for 3 s (lost or
 * collapsed messages), or 120 s passed.
 */
export async function measureBurst(
  server: ServerProcess,
  counter: DeliveryCounter,
  expected: number,
  write: () => Promise<unknown>,
): Promise<BurstResult> {
  counter.count = 0;
  const stopCpu = await server.cpu();
  const clientCpu = process.cpuUsage();
  const started = now();
  await write();
  let seen = -1;
  let quietSince = now();
  await waitFor(
    () => {
      if (counter.count >= expected) return true;
      if (counter.count !== seen) {
        seen = counter.count;
        quietSince = now();
      }
      return now() - quietSince > 3000;
    },
    120_000,
    10,
  );
  const cpu = await stopCpu();
  const client = process.cpuUsage(clientCpu);
  const busyMs = Math.max(counter.last - started, 1);
  return {
    delivered: counter.count,
    expected,
    perSecond: (counter.count / busyMs) * 1000,
    // The CPU reading ends after the wait; spread over the busy span only.
    serverCpuPercent: Math.min(100, (cpu.cpuMs / busyMs) * 100),
    perServerCpuSecond: (counter.count / cpu.cpuMs) * 1000,
    clientCpuPercent: ((client.user + client.system) / 1000 / busyMs) * 100,
  };
}

/** The run with the median deliveries/s. */
export function medianBurst(results: readonly BurstResult[]): BurstResult {
  const sorted = [...results].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}
