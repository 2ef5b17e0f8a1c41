/**
 * WAMP load for wamp.ts, the same for every router under test: sequential CALL round-trips, CALLs kept in flight
 * for a while, and pub/sub fan-out (a burst, and a paced stream) from one publisher to many subscriber sessions.
 * Method as perf-scripts/wamp-bench.js: each event carries its publish time on the machine-wide monotonic clock
 * (measure.ts `now`), ~200 B of JSON in all; the subscribers' handlers are Autobahn's, so every event is parsed.
 */
import type autobahn from 'autobahn';
import { now, Samples, sleep, waitFor } from './measure.js';
import type { ServerProcess } from './server-process.js';

/** The event payload's padding (the event frame is ~200 B of JSON). */
const PAD = 'p'.repeat(150);

/** One published event's first argument. */
interface BenchEvent {
  /** Publish time, ms on the monotonic clock. */
  readonly t: number;
  readonly i: number;
  readonly pad: string;
}

/** `calls` CALLs one after another; the round-trip time of each (ms). */
export async function sequentialCalls(
  session: autobahn.Session,
  procedure: string,
  calls: number,
): Promise<Samples> {
  const samples = new Samples();
  for (let i = 0; i < calls; i++) {
    const started = now();
    await session.call(procedure, [i]);
    samples.add(now() - started);
  }
  return samples;
}

/** Keeps `inFlight` CALLs pending for `seconds`; completed calls/s and the router's CPU %. */
export async function callsPerSecond(
  server: ServerProcess,
  session: autobahn.Session,
  procedure: string,
  inFlight: number,
  seconds: number,
): Promise<{ rate: number; cpu: number }> {
  let completed = 0;
  const stopCpu = await server.cpu();
  const started = now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      let i = 0;
      while (now() < deadline) {
        await session.call(procedure, [i++]);
        completed++;
      }
    }),
  );
  const elapsed = now() - started;
  const cpu = await stopCpu();
  return { rate: (completed / elapsed) * 1000, cpu: cpu.percent };
}

/**
 * Counts the events every subscriber session receives on one topic and samples their latency (receipt − publish
 * time): every `sampleEvery`-th delivery.
 */
export class FanoutReceiver {
  count = 0;
  /** When the last event arrived (monotonic ms). */
  last = 0;
  sampleEvery = 1;
  readonly latency = new Samples();

  /** Subscribes every session to `topic`. */
  async subscribe(sessions: readonly autobahn.Session[], topic: string): Promise<void> {
    const handler = (args?: unknown[]): void => {
      const received = now();
      this.count++;
      this.last = received;
      const event = args?.[0] as BenchEvent | undefined;
      if (event && this.count % this.sampleEvery === 0) this.latency.add(received - event.t);
    };
    await Promise.all(sessions.map((session) => session.subscribe(topic, handler)));
  }

  /** Starts a new measurement. */
  reset(sampleEvery: number): void {
    this.count = 0;
    this.last = 0;
    this.sampleEvery = sampleEvery;
    this.latency.clear();
  }
}

/** Outcome of one burst. */
export interface FanoutBurst {
  readonly delivered: number;
  readonly expected: number;
  /** delivered / (last receipt − first publish). */
  readonly perSecond: number;
  readonly serverCpuPercent: number;
  /** Deliveries per second of router CPU time: what one fully busy router core would do. */
  readonly perServerCpuSecond: number;
  /** CPU % of this (the clients') process over the same span. */
  readonly clientCpuPercent: number;
  /** Latency of a 1/16 sample of the deliveries (ms). */
  readonly p50: number;
  readonly p99: number;
}

/**
 * Publishes `events` events to `topic` as fast as the publisher's event loop allows (yielding every 10, as
 * wamp-bench.js), then waits until every subscriber got every event, or none arrived for 3 s, or 60 s passed.
 */
export async function fanoutBurst(
  server: ServerProcess,
  publisher: autobahn.Session,
  receiver: FanoutReceiver,
  subscribers: number,
  topic: string,
  events: number,
): Promise<FanoutBurst> {
  receiver.reset(16);
  const expected = subscribers * events;
  const stopCpu = await server.cpu();
  const clientCpu = process.cpuUsage();
  const started = now();
  for (let i = 0; i < events; i++) {
    publisher.publish(topic, [{ t: now(), i, pad: PAD } satisfies BenchEvent]);
    if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
  }
  let seen = -1;
  let quietSince = now();
  await waitFor(
    () => {
      if (receiver.count >= expected) return true;
      if (receiver.count !== seen) {
        seen = receiver.count;
        quietSince = now();
      }
      return now() - quietSince > 3000;
    },
    60_000,
    10,
  );
  const cpu = await stopCpu();
  const client = process.cpuUsage(clientCpu);
  const busyMs = Math.max(receiver.last - started, 1);
  const [p50, p99] = receiver.latency.quantiles(0.5, 0.99);
  return {
    delivered: receiver.count,
    expected,
    perSecond: (receiver.count / busyMs) * 1000,
    // The CPU reading ends after the wait; spread over the busy span only.
    serverCpuPercent: Math.min(100, (cpu.cpuMs / busyMs) * 100),
    perServerCpuSecond: (receiver.count / cpu.cpuMs) * 1000,
    clientCpuPercent: ((client.user + client.system) / 1000 / busyMs) * 100,
    p50: p50!,
    p99: p99!,
  };
}

/** The burst with the median deliveries/s. */
export function medianFanout(results: readonly FanoutBurst[]): FanoutBurst {
  const sorted = [...results].sort((a, b) => a.perSecond - b.perSecond);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Outcome of a paced stream: every delivery's latency (ms). */
export interface PacedFanout {
  readonly delivered: number;
  readonly expected: number;
  readonly latency: Samples;
}

/** Publishes `events` events to `topic`, one every `intervalMs`; waits (≤ 10 s) for the last deliveries. */
export async function pacedFanout(
  publisher: autobahn.Session,
  receiver: FanoutReceiver,
  subscribers: number,
  topic: string,
  events: number,
  intervalMs: number,
): Promise<PacedFanout> {
  receiver.reset(1);
  const expected = subscribers * events;
  const started = now();
  for (let i = 0; i < events; i++) {
    publisher.publish(topic, [{ t: now(), i, pad: PAD } satisfies BenchEvent]);
    // Keep to the schedule: sleep until this event's slot ends, not a fixed interval after it.
    await sleep(Math.max(0, started + (i + 1) * intervalMs - now()));
  }
  await waitFor(() => receiver.count >= expected, 10_000, 10);
  return { delivered: receiver.count, expected, latency: receiver.latency };
}
