/**
 * What the deployment tests and `npm run cluster` need of a load balancer in front of pgrt processes, whichever it
 * is (haproxy.ts, nginx.ts): its public URLs, its log, a wait until it sends traffic to given processes again, and a
 * stop. {@link BalancerProcess} is the part they share: one real child process in a folder of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';

/** A load balancer in front of the pgrt processes on 127.0.0.1 (its `server` lines, in order: `pgrt1`…). */
export interface Balancer {
  /** Public port, on 127.0.0.1. */
  readonly port: number;
  /** `http://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  /** `ws://127.0.0.1:<port><path>`. */
  wsUrl(path: string): string;
  /** What the balancer wrote to stderr (warnings, alerts, failed upstream attempts). */
  readonly log: string;
  /** Resolves once the balancer sends new connections to every process (or those named `pgrt<n>`) again. */
  waitUp(names?: readonly string[], timeoutMs?: number): Promise<void>;
  /** Stops it at once and deletes its folder. */
  stop(): Promise<void>;
}

/** Starts a balancer in front of the processes listening on `servers` (127.0.0.1), on `port` or a free one. */
export type StartBalancer<B extends Balancer> = (servers: readonly number[], port?: number) => Promise<B>;

/** The shared part of a balancer: a child process (stderr collected) run in its own temporary folder. */
export abstract class BalancerProcess implements Balancer {
  readonly #child: ChildProcess;
  #stderr = '';
  /** Rejects when the child exits (never resolves): race a start-up wait with it. */
  protected readonly exited: Promise<never>;

  protected constructor(
    readonly port: number,
    /** Its folder (configuration, sockets, logs), deleted by {@link stop}. */
    readonly dir: string,
    binary: string,
    args: readonly string[],
  ) {
    this.#child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    this.exited = once(this.#child, 'exit').then(([code]) => {
      throw new Error(`${binary} exited (${String(code)}): ${this.#stderr}`);
    });
    this.exited.catch(() => {});
  }

  url(path = ''): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  wsUrl(path: string): string {
    return `ws://127.0.0.1:${this.port}${path}`;
  }

  get log(): string {
    return this.#stderr;
  }

  abstract waitUp(names?: readonly string[], timeoutMs?: number): Promise<void>;

  /** Stops it (SIGTERM: HAProxy and nginx stop at once, without waiting for connections) and deletes its folder. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = once(this.#child, 'exit');
      this.#child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
