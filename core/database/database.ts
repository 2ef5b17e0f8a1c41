/**
 * The database port of pgrt and its `pg` implementation: a pooled `query`, a `transaction` helper, and dedicated
 * (non-pooled) connections for LISTEN, replication and session locks, optionally on a URL of their own (the pool
 * may go through a transaction-mode pooler, they may not). Core code depends on {@link Database}/{@link Queryable}
 * only.
 *
 * Values come back as `pg` parses them by default: int8 and numeric as strings (lossless), which pgrt keeps.
 */
import pg from 'pg';
import { type Logger, silentLogger } from '../logger.js';

/** Rows and count of a statement, as returned by {@link Queryable.query}. */
export interface QueryResult<T> {
  readonly rows: T[];
  /** Rows affected or returned; null for statements that report none. */
  readonly rowCount: number | null;
}

/** Anything that runs a parameterised statement: the pool, or the client of one transaction. */
export interface Queryable {
  /** Runs `text` with `$n` parameters. Rejects with the `pg` error on failure. */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
}

/**
 * A transaction held open by its owner: statements run one after another on one connection (concurrent calls
 * are queued), then exactly one of `commit`/`rollback` ends it and returns the connection to the pool.
 */
export interface Transaction extends Queryable {
  /** Commits; on failure the transaction is rolled back (by PostgreSQL) and the error rethrown. */
  commit(): Promise<void>;
  /** Rolls back; never rejects (a broken connection is discarded). */
  rollback(): Promise<void>;
}

/** The database as pgrt uses it. */
export interface Database extends Queryable {
  /** Starts a transaction on a pooled connection (BEGIN already sent). */
  begin(): Promise<Transaction>;
  /**
   * Runs `fn` inside BEGIN/COMMIT on one pooled connection. If `fn` (or COMMIT) rejects, the transaction is rolled
   * back and the error rethrown unchanged. The client must not be used after `fn` settles.
   */
  transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T>;
  /**
   * Opens a new connection outside the pool (for LISTEN). The caller owns it: it must attach an `error` listener (to
   * learn that the connection failed; an error is never unhandled, even before that) and `end()` it.
   */
  connectDedicated(options?: DedicatedConnectionOptions): Promise<pg.Client>;
  /** Closes the pool (dedicated clients are their owners' business). */
  close(): Promise<void>;
}

/** Options of {@link Database.connectDedicated}. */
export interface DedicatedConnectionOptions {
  /** `application_name` of the session (default: the database's, `pgrt`); handy to find it in pg_stat_activity. */
  readonly applicationName?: string;
  /** A logical replication (walsender) session, for START_REPLICATION (capture mode `logical`). */
  readonly replication?: boolean;
}

/** Injection token for {@link Database}. */
export const DatabaseToken = Symbol('pgrt.Database');

/** Options of {@link PgDatabase}. */
export interface PgDatabaseOptions {
  /** Maximum pooled connections (default 10). */
  readonly poolSize?: number;
  /** `application_name` of every session (default `pgrt`). */
  readonly applicationName?: string;
  /** Gives up connecting after this many ms (default 10000). */
  readonly connectionTimeoutMillis?: number;
  /**
   * Pooled connections idle this many ms are closed (default 10000), all but one: the pool keeps one connection
   * open once it made it. A new connection takes several event-loop turns, and while a reconnect storm floods the
   * loop each turn can take a second or more: the storm's first subscription, needing one to read its live
   * query, would wait past `connectionTimeoutMillis` and fail, and every subscription after it with it.
   */
  readonly idleTimeoutMillis?: number;
  /** Receives errors of idle pooled connections (e.g. the server restarted); default: dropped. */
  readonly logger?: Logger;
  /**
   * URL of the dedicated connections ({@link Database.connectDedicated}: LISTEN, logical replication, the pump's
   * advisory lock), which need a backend of their own; default: the pool's URL. Set it when the pool goes through
   * a transaction-mode pooler (PgBouncer): those connections must bypass it.
   */
  readonly dedicatedConnectionString?: string;
}

/**
 * `pg`'s type parsers, except `date`, which stays the 'YYYY-MM-DD' text it is in documents (table-info.ts), instead
 * of a local-midnight Date: custom-SQL publications and method queries then see the same values as live queries.
 */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.DATE
      ? (value: string) => value
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

/** {@link Database} over a `pg.Pool`. */
export class PgDatabase implements Database {
  readonly #pool: pg.Pool;
  readonly #dedicatedConnectionString: string;
  readonly #applicationName: string;
  readonly #connectionTimeoutMillis: number;
  readonly #logger: Logger;

  constructor(connectionString: string, options: PgDatabaseOptions = {}) {
    this.#dedicatedConnectionString = options.dedicatedConnectionString ?? connectionString;
    this.#applicationName = options.applicationName ?? 'pgrt';
    this.#connectionTimeoutMillis = options.connectionTimeoutMillis ?? 10_000;
    this.#logger = options.logger ?? silentLogger;
    this.#pool = new pg.Pool({
      connectionString,
      types: TYPES,
      max: options.poolSize ?? 10,
      min: 1,
      idleTimeoutMillis: options.idleTimeoutMillis ?? 10_000,
      application_name: this.#applicationName,
      connectionTimeoutMillis: this.#connectionTimeoutMillis,
    });
    // Without a listener, an idle client's error (server restart, pg_terminate_backend) would crash the process.
    this.#pool.on('error', (error) => this.#logger.warn({ err: error }, 'idle database connection failed'));
    // pg-pool listens to a connection's errors only while it is idle; a connection in use has none (see #keepErrors).
    this.#pool.on('connect', (client) => this.#keepErrors(client));
  }

  /** Connections the pool holds now, busy or idle. */
  get pooledConnections(): number {
    return this.#pool.totalCount;
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<T>> {
    const result = await this.#pool.query(text, params as unknown[] | undefined);
    return result as unknown as QueryResult<T>;
  }

  async begin(): Promise<Transaction> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
    } catch (error) {
      client.release(asError(error));
      throw error;
    }
    return new PgTransaction(client);
  }

  async transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    const tx = await this.begin();
    let value: T;
    try {
      value = await fn(tx);
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    await tx.commit();
    return value;
  }

  async connectDedicated(options: DedicatedConnectionOptions = {}): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#dedicatedConnectionString,
      application_name: options.applicationName ?? this.#applicationName,
      connectionTimeoutMillis: this.#connectionTimeoutMillis,
      keepAlive: true,
      ...(options.replication ? { replication: 'database' } : {}),
    });
    this.#keepErrors(client);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return client;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /**
   * Gives `client` an 'error' listener for life. Without one, PostgreSQL ending its backend (restart, failover,
   * pg_terminate_backend, DROP DATABASE … WITH (FORCE)) while no statement of it runs is an unhandled 'error' event:
   * the process crashes. That happens to a pooled connection held between two statements (a transaction whose method
   * awaits something else), and to any connection whose last reply and the FATAL arrive in one read: its new owner
   * (a `begin()`, or a `connectDedicated()` caller about to attach its own listener) gets it a microtask later, after
   * the FATAL was emitted. The owner still learns of the failure: its next statement fails, a dedicated connection's
   * owner listens too, and the pool discards the connection when it comes back.
   */
  #keepErrors(client: pg.Client): void {
    client.on('error', (error) => this.#logger.debug({ err: error }, 'database connection failed'));
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** {@link Transaction} on one pooled `pg` client. */
class PgTransaction implements Transaction {
  /** Tail of the statement queue: statements never overlap on the connection. */
  #tail: Promise<unknown> = Promise.resolve();
  #ended = false;

  constructor(private readonly client: pg.PoolClient) {}

  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    if (this.#ended) return Promise.reject(new Error('transaction already ended'));
    const run = this.#tail.then(
      () => this.client.query(text, params as unknown[] | undefined) as unknown as Promise<QueryResult<R>>,
    );
    this.#tail = run.catch(() => {});
    return run;
  }

  async commit(): Promise<void> {
    this.#end();
    await this.#tail;
    try {
      await this.client.query('COMMIT');
    } catch (error) {
      this.client.release(asError(error));
      throw error;
    }
    this.client.release();
  }

  async rollback(): Promise<void> {
    this.#end();
    await this.#tail;
    let broken: Error | undefined;
    await this.client.query('ROLLBACK').catch((error: unknown) => {
      broken = asError(error);
    });
    this.client.release(broken);
  }

  #end(): void {
    if (this.#ended) throw new Error('transaction already ended');
    this.#ended = true;
  }
}
