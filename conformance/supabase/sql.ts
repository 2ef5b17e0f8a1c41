/**
 * The `rows` cases' way to write (case.ts `Sql`): one PostgreSQL connection to the database the server under test
 * streams changes from, given by URL (the CLI's `--database-url`, pgrt's fixture database).
 */
import pg from 'pg';
import type { Sql } from './case.js';

/** An open connection and its {@link Sql}. */
export interface SqlConnection {
  readonly sql: Sql;
  close(): Promise<void>;
}

/** Connects to `url`. Statements run one call at a time, in call order, on this one session. */
export async function connectSql(url: string): Promise<SqlConnection> {
  const client = new pg.Client({ connectionString: url });
  // A connection lost between statements: the next statement rejects with it, failing its case.
  client.on('error', () => undefined);
  await client.connect();
  return {
    sql: async (text) => {
      const result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return (last?.rows ?? []) as Record<string, unknown>[];
    },
    close: () => client.end(),
  };
}
