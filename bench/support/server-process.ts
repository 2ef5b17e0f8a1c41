/**
 * Starts the server under test ({@link ./server.ts}, or the peer's, peer-server.ts) in a child process and
 * talks to it over IPC: its port, its CPU time and its memory. The child is pinned to its own core when pinning is on (environment.ts) and
 * exits when this process does.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { databaseUrl, pin, serverCpu } from './environment.js';
import type {
  BurstRequest,
  CpuReply,
  MemReply,
  ServerReply,
  ServerRequest,
  StatsReply,
} from './server-protocol.js';

type AnyRequest = ServerRequest | BurstRequest;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Options of {@link startServerProcess}. */
export interface ServerProcessOptions {
  /** DDP heartbeat interval in ms (default 15000, Meteor's). */
  readonly heartbeatInterval?: number;
  /** Gives up when the server is not ready after this many ms (default 60000). */
  readonly startTimeoutMs?: number;
  /** Another server script speaking the same IPC protocol (default: pgrt's, ./server.ts). */
  readonly script?: string;
  /** Extra environment of the child. */
  readonly env?: Readonly<Record<string, string>>;
}

/** CPU time of the server process between two {@link ServerProcess.cpu} readings. */
export interface CpuSpan {
  /** CPU ms (user + system). */
  readonly cpuMs: number;
  /** The system (kernel) part of {@link cpuMs}. */
  readonly systemMs: number;
  /** Wall-clock ms. */
  readonly wallMs: number;
  /** cpuMs / wallMs × 100 (100 = one core busy). */
  readonly percent: number;
}

/** A running server process. */
export interface ServerProcess {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/websocket`. */
  readonly url: string;
  readonly pid: number;
  /** Whether it was pinned to its own core. */
  readonly pinned: boolean;
  /** Starts a CPU measurement; the returned function ends it. */
  cpu(): Promise<() => Promise<CpuSpan>>;
  /** Memory after forced garbage collections. */
  memory(): Promise<MemReply>;
  /** Open sessions. */
  sessions(): Promise<number>;
  /** Peer server only: makes `count` changes to its one published document, resolves when they were sent. */
  burst(count: number): Promise<void>;
  /** Closes the server and waits for the process to exit. */
  close(): Promise<void>;
}

const serverScript = fileURLToPath(new URL('./server.ts', import.meta.url));

/** Forks the server under test and resolves when it listens. */
export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const child = fork(options.script ?? serverScript, [], {
    execArgv: [
      '--import',
      'tsx',
      '--expose-gc',
      // BENCH_CPU_PROF=<dir>: a V8 CPU profile of every server process, written there when it exits.
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
    ],
    env: {
      ...process.env,
      BENCH_DATABASE_URL: databaseUrl(),
      BENCH_HEARTBEAT_MS: String(options.heartbeatInterval ?? 15_000),
      ...options.env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await waitReady(child, options.startTimeoutMs ?? 60_000);
  const pinned = child.pid !== undefined && pin(child.pid, serverCpu());
  let nextId = 1;
  const pending = new Map<number, (reply: ServerReply) => void>();
  child.on('message', (raw: unknown) => {
    const reply = raw as ServerReply;
    if ('id' in reply) {
      pending.get(reply.id)?.(reply);
      pending.delete(reply.id);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const request = <R extends ServerReply>(message: DistributiveOmit<AnyRequest, 'id'>): Promise<R> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`server did not answer '${message.op}'`));
      }, 60_000);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply as R);
      });
      child.send({ ...message, id } satisfies AnyRequest);
    });
  return {
    port,
    url: `ws://127.0.0.1:${port}/websocket`,
    pid: child.pid ?? 0,
    pinned,
    async cpu() {
      const start = await request<CpuReply>({ op: 'cpu' });
      const startedAt = performance.now();
      return async () => {
        const end = await request<CpuReply>({ op: 'cpu' });
        const wallMs = performance.now() - startedAt;
        const cpuMs = (end.user + end.system - start.user - start.system) / 1000;
        const systemMs = (end.system - start.system) / 1000;
        return { cpuMs, systemMs, wallMs, percent: (cpuMs / wallMs) * 100 };
      };
    },
    memory: () => request<MemReply>({ op: 'mem' }),
    sessions: async () => (await request<StatsReply>({ op: 'stats' })).sessions,
    async burst(count) {
      await request({ op: 'burst', count });
    },
    async close() {
      if (child.exitCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await request({ op: 'close' }).catch(() => child.kill('SIGKILL'));
      await exited;
      clearTimeout(timer);
    },
  };
}

function waitReady(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (raw: unknown): void => {
      const reply = raw as ServerReply;
      if ('type' in reply) {
        clearTimeout(timer);
        child.off('message', onMessage);
        if (reply.type === 'ready') resolve(reply.port);
        else reject(new Error(`server failed to start:\n${reply.error}`));
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before it was ready`));
    });
  });
}
