/**
 * Readiness of the database for a process whose change bus does not hold a database connection (NATS): methods and
 * snapshots need PostgreSQL even when the changes travel elsewhere, so a process that cannot reach it must say it
 * is not ready. The PostgreSQL bus needs no probe: its LISTEN connection is the same signal (`bus.connected`).
 *
 * The probe runs `SELECT 1` through the pool every `intervalMs` (default 1 s); a statement that fails, or does not
 * answer within `timeoutMs` (default 2 s: a partitioned network hangs rather than refuses), marks the database
 * unreachable with the reason, until the next statement that answers. Nothing here rejects; after `close()` no
 * statement is sent.
 */
import type { Logger } from '../logger.js';
import type { Queryable } from './database.js';

/** Options of {@link DatabaseProbe}. */
export interface DatabaseProbeOptions {
  /** How often the database is probed, in ms (default 1000). */
  readonly intervalMs?: number;
  /** A probe without an answer after this many ms counts as a failure (default 2000). */
  readonly timeoutMs?: number;
  readonly logger: Logger;
}

/** Follows whether the database answers. */
export class DatabaseProbe {
  readonly #db: Queryable;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Why the database is unreachable, or undefined while it answers. */
  #failure: string | undefined;
  /** The statement still waiting for an answer (a hung one is not sent again on top of it). */
  #pending: Promise<string | undefined> | undefined;

  constructor(db: Queryable, options: DatabaseProbeOptions) {
    this.#db = db;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#logger = options.logger.child({ component: 'database-probe' });
  }

  /** Undefined while the last probe answered; else why the database is unreachable (`/readyz` says it). */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Starts probing (the database answered at start: the core's start queried it). Idempotent. */
  start(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(() => this.#probe(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops probing for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #probe(): void {
    this.#check()
      .then((failure) => this.#record(failure))
      .catch((error: unknown) => this.#record(describe(error)))
      .finally(() => {
        if (this.#closed) return;
        this.#timer = setTimeout(() => this.#probe(), this.#intervalMs);
        this.#timer.unref();
      });
  }

  /** One probe: undefined when the database answered, else why not. */
  async #check(): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer within ${this.#timeoutMs} ms`), this.#timeoutMs);
    });
    let answered = this.#pending;
    if (!answered) {
      const sent = this.#db.query('SELECT 1').then(
        () => undefined,
        (error: unknown) => describe(error),
      );
      this.#pending = sent;
      answered = sent.finally(() => {
        if (this.#pending === sent) this.#pending = undefined;
      });
    }
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  #record(failure: string | undefined): void {
    if (this.#closed) return;
    if (failure !== undefined && this.#failure === undefined)
      this.#logger.warn({ reason: failure }, 'database unreachable; not ready');
    else if (failure === undefined && this.#failure !== undefined)
      this.#logger.info({}, 'database reachable again; ready');
    this.#failure = failure;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}
