/**
 * Oversized SockJS HTTP bodies against a live server (issue 12, item 1; the attack suite's
 * test/security/sockjs-http-body.test.ts asserts the refusals, this measures what the other clients feel).
 *
 * A bystander on raw `/websocket` sends DDP `ping`s one after the other and times each `pong`, first with the
 * server idle, then while 20 attackers (in a process of their own, so that their work does not delay the
 * bystander's event loop) each loop over: a 50 MB `xhr_send` (declared length) to a live SockJS
 * session, a chunked `xhr_send` with no length, a 50 MB `xhr_send` to an unknown session, and a 20 MB
 * `jsonp_send`, for BENCH_SECONDS each phase. Figures: the bystander's ping round trip (p50, p99, max; target: max
 * under 50 ms), the attack requests answered, and the server's peak RSS growth during the flood (VmHWM, reset
 * before the flood when the kernel allows it). A server that buffers the bodies answers them in tens of seconds
 * and stalls the pings.
 *
 * Usage: npx tsx bench/sockjs-flood.ts
 */
import { fork } from 'node:child_process';
import { once, setMaxListeners } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { sendBody } from '../test/security/fixtures/http-body.js';
import { now, progress, report, Samples } from './support/measure.js';
import { type Knobs, runScenario, startServer } from './support/scenario.js';

const SCENARIO = 'sockjs-flood';
const ATTACKERS = 20;
const MiB = 1024 * 1024;

/** A DDP client that only pings: resolves each `pong` to the `ping` with its id. */
class Pinger {
  readonly #waiting = new Map<string, () => void>();
  #next = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as { msg?: string; id?: string };
      if (message.msg === 'ping') ws.send(JSON.stringify({ msg: 'pong', id: message.id }));
      if (message.msg === 'pong' && message.id) this.#waiting.get(message.id)?.();
    });
  }

  static async connect(url: string): Promise<Pinger> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const connected = new Promise<void>((resolve) =>
      ws.on('message', (data: WebSocket.RawData) => {
        if (String(data).includes('"connected"')) resolve();
      }),
    );
    ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] }));
    await connected;
    return new Pinger(ws);
  }

  /** One ping's round trip in ms. */
  async ping(): Promise<number> {
    const id = String(++this.#next);
    const started = now();
    await new Promise<void>((resolve) => {
      this.#waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ msg: 'ping', id }));
    });
    this.#waiting.delete(id);
    return now() - started;
  }

  /** Pings back to back until `until()` is true; every round trip. */
  async pingUntil(until: () => boolean): Promise<Samples> {
    const samples = new Samples();
    while (!until()) samples.add(await this.ping());
    return samples;
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a SockJS xhr-polling session; returns its path (`/sockjs/000/<id>`). */
async function sockjsSession(httpUrl: string, n: number): Promise<string> {
  const path = `/sockjs/000/flood${process.pid}x${n}x${Math.random().toString(36).slice(2)}`;
  await (await fetch(`${httpUrl}${path}/xhr`, { method: 'POST' })).text();
  return path;
}

/** One attacker: the four request kinds in turn until `signal` aborts; counts the answers by status. */
async function attack(
  port: number,
  path: string,
  n: number,
  signal: AbortSignal,
  statuses: Map<string, number>,
) {
  for (let i = n; !signal.aborted; i++) {
    const kind = i % 4;
    const outcome = await sendBody(
      kind === 0
        ? { port, path: `${path}/xhr_send`, contentLength: 50 * MiB, sendAtMostBytes: 50 * MiB, signal }
        : kind === 1
          ? { port, path: `${path}/xhr_send`, sendAtMostBytes: 50 * MiB, signal }
          : kind === 2
            ? {
                port,
                path: `/sockjs/000/nosuch${n}/xhr_send`,
                contentLength: 50 * MiB,
                sendAtMostBytes: 50 * MiB,
                signal,
              }
            : {
                port,
                path: `${path}/jsonp_send`,
                contentLength: 20 * MiB,
                sendAtMostBytes: 20 * MiB,
                contentType: 'application/x-www-form-urlencoded',
                signal,
              },
    );
    if (signal.aborted) break;
    const key = String(outcome.status ?? 'none');
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
  }
}

function procKb(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : Number.NaN;
}

async function body({ seconds }: Knobs): Promise<void> {
  const server = await startServer();
  const httpUrl = `http://127.0.0.1:${server.port}`;
  const pinger = await Pinger.connect(server.url);
  const note = `pinned=${server.pinned}`;
  const quantiles = (samples: Samples) => samples.quantiles(0.5, 0.99, 1) as [number, number, number];

  progress(SCENARIO, `idle: bystander pings for ${seconds} s`);
  let deadline = now() + seconds * 1000;
  const [idle50, idle99, idleMax] = quantiles(await pinger.pingUntil(() => now() > deadline));

  const paths = await Promise.all(Array.from({ length: ATTACKERS }, (_, n) => sockjsSession(httpUrl, n)));
  let peakReset = true;
  try {
    writeFileSync(`/proc/${server.pid}/clear_refs`, '5');
  } catch {
    peakReset = false;
  }
  const rssBefore = procKb(server.pid, 'VmRSS');
  progress(SCENARIO, `flood: ${ATTACKERS} attackers for ${seconds} s`);
  const attackers = fork(fileURLToPath(import.meta.url), ['attackers'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await once(attackers, 'message'); // loaded
  const done = once(attackers, 'message') as Promise<[Record<string, number>]>;
  attackers.send({ port: server.port, paths });
  deadline = now() + seconds * 1000;
  const samples = await pinger.pingUntil(() => now() > deadline);
  progress(SCENARIO, 'flood: stopping the attackers');
  attackers.send('stop');
  const [counts] = await done;
  const statuses = new Map(Object.entries(counts));
  const [flood50, flood99, floodMax] = quantiles(samples);
  const grownMb = (procKb(server.pid, 'VmHWM') - rssBefore) / 1024;
  pinger.close();

  const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
  const floodNote = `${ATTACKERS} attackers, ${answered} requests answered (${[...statuses]
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ')}), ${samples.length} pings; ${note}`;
  const figure = (metric: string, value: number, unit: string, target: number | null, n: string) =>
    report({ scenario: SCENARIO, metric, value, unit, target, better: 'lower', note: n });
  figure('ping_idle_p50_ms', idle50, 'ms', null, note);
  figure('ping_idle_p99_ms', idle99, 'ms', null, note);
  figure('ping_idle_max_ms', idleMax, 'ms', null, note);
  figure('ping_flood_p50_ms', flood50, 'ms', null, floodNote);
  figure('ping_flood_p99_ms', flood99, 'ms', null, floodNote);
  figure('ping_flood_max_ms', floodMax, 'ms', 50, floodNote);
  report({
    scenario: SCENARIO,
    metric: 'flood_requests_answered',
    value: answered,
    unit: 'requests',
    target: null,
    better: 'higher',
    note: floodNote,
  });
  figure(
    'flood_peak_rss_growth_mb',
    grownMb,
    'MB',
    null,
    `peak RSS (VmHWM${peakReset ? ', reset before the flood' : ', not resettable: since start'}) minus RSS before`,
  );
}

/** The attackers' process: waits for `{port, paths}`, attacks until `stop`, reports the statuses counted. */
function attackersProcess(): void {
  const stop = new AbortController();
  setMaxListeners(ATTACKERS * 2, stop.signal);
  const statuses = new Map<string, number>();
  process.on('message', (message: 'stop' | { port: number; paths: string[] }) => {
    if (message === 'stop') {
      stop.abort();
      return;
    }
    const running = message.paths.map((path, n) => attack(message.port, path, n, stop.signal, statuses));
    Promise.all(running).then(
      () => {
        process.send?.(Object.fromEntries(statuses));
        process.disconnect();
      },
      (error: unknown) => {
        process.stderr.write(`sockjs-flood attackers: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
  process.send?.('loaded');
}

if (process.argv[2] === 'attackers') attackersProcess();
else runScenario(SCENARIO, body);
