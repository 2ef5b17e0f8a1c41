/**
 * The database port of pgrt and its `pg` implementation: a pooled `query`, a `transaction` helper, and dedicated
 * (non-pooled) connections for LISTEN. Core code depends on {@link Database}/{@link Queryable} only.
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

/** The database as pgrt uses it. */
export interface Database extends Queryable {
  /**
   * Runs `fn` inside BEGIN/COMMIT on one pooled connection. If `fn` (or COMMIT) rejects, the transaction is rolled
   * back and the error rethrown unchanged. The client must not be used after `fn` settles.
   */
  transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T>;
  /**
   * Opens a new connection outside the pool (for LISTEN). The caller owns it: it must attach an `error` listener
   * and `end()` it.
   */
  connectDedicated(options?: DedicatedConnectionOptions): Promise<pg.Client>;
  /** Closes the pool (dedicated clients are their owners' business). */
  close(): Promise<void>;
}

/** Options of {@link Database.connectDedicated}. */
export interface DedicatedConnectionOptions {
  /** `application_name` of the session (default: the database's, `pgrt`); handy to find it in pg_stat_activity. */
  readonly applicationName?: string;
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
  /** Receives errors of idle pooled connections (e.g. the server restarted); default: dropped. */
  readonly logger?: Logger;
}

/** {@link Database} over a `pg.Pool`. */
export class PgDatabase implements Database {
  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  readonly #applicationName: string;
  readonly #connectionTimeoutMillis: number;
  readonly #logger: Logger;

  constructor(connectionString: string, options: PgDatabaseOptions = {}) {
    this.#connectionString = connectionString;
    this.#applicationName = options.applicationName ?? 'pgrt';
    this.#connectionTimeoutMillis = options.connectionTimeoutMillis ?? 10_000;
    this.#logger = options.logger ?? silentLogger;
    this.#pool = new pg.Pool({
      connectionString,
      max: options.poolSize ?? 10,
      application_name: this.#applicationName,
      connectionTimeoutMillis: this.#connectionTimeoutMillis,
    });
    // Without a listener, an idle client's error (server restart, pg_terminate_backend) would crash the process.
    this.#pool.on('error', (error) => this.#logger.warn({ err: error }, 'idle database connection failed'));
  }

  async query<T = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<T>> {
    const result = await this.#pool.query(text, params as unknown[] | undefined);
    return result as unknown as QueryResult<T>;
  }

  async transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    // Set when the connection may be unusable: it is then destroyed instead of returned to the pool.
    let broken: Error | undefined;
    try {
      try {
        await client.query('BEGIN');
      } catch (error) {
        broken = asError(error);
        throw error;
      }
      const scoped: Queryable = {
        async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
          const result = await client.query(text, params as unknown[] | undefined);
          return result as unknown as QueryResult<R>;
        },
      };
      try {
        const value = await fn(scoped);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = asError(rollbackError);
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  async connectDedicated(options: DedicatedConnectionOptions = {}): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#connectionString,
      application_name: options.applicationName ?? this.#applicationName,
      connectionTimeoutMillis: this.#connectionTimeoutMillis,
      keepAlive: true,
    });
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
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
