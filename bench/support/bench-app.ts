/**
 * The application every bench scenario runs against: a few tables, one publication per scenario and the
 * methods the RPC scenario calls. Tables are created by the server's `migrate` step; scenarios empty them with
 * their own `pg` client (an external writer, like psql) before they subscribe.
 *
 * | table / collection | publication      | used by  |
 * |--------------------|------------------|----------|
 * | bench_rows         | `rows` (all)     | latency  |
 * | bench_fan          | `fan` (all)      | fanout   |
 * | bench_rpc          | —                | rpc      |
 * | bench_empty        | `empty` (all)    | idle     |
 * | bench_ten          | `ten` (all)      | idle     |
 * | bench_docs         | `docs` (all), `docs_overlap` (the same rows through another live query) | memory |
 */
import { App } from '../../core/app.js';
import type { Queryable } from '../../core/database/database.js';

/** DDL of the bench tables (idempotent). */
export const BENCH_TABLES_SQL = `
    CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, t double precision NOT NULL, pad text);
    CREATE TABLE IF NOT EXISTS bench_fan (id bigserial PRIMARY KEY, v int NOT NULL DEFAULT 0, pad text);
    CREATE TABLE IF NOT EXISTS bench_rpc (id text PRIMARY KEY, n int NOT NULL, pad text);
    CREATE TABLE IF NOT EXISTS bench_empty (id bigserial PRIMARY KEY, v int);
    CREATE TABLE IF NOT EXISTS bench_ten (id bigserial PRIMARY KEY, v int, pad text);
    CREATE TABLE IF NOT EXISTS bench_docs (
      id text PRIMARY KEY, title text NOT NULL, subtitle text, author text, n int NOT NULL, created_at timestamptz
    );
`;

/** Creates the bench tables if missing (the server's `migrate` step). */
export async function migrateBench(db: Queryable): Promise<void> {
  await db.query(BENCH_TABLES_SQL);
}

/** The bench app. Methods use the default options (a transaction each) unless their name says otherwise. */
export function benchApp(): App {
  return (
    new App()
      .collection('bench_rows')
      .collection('bench_fan')
      .collection('bench_rpc')
      .collection('bench_empty')
      .collection('bench_ten')
      .collection('bench_docs')
      .publish('rows', (ctx) => ctx.find('bench_rows', {}))
      .publish('fan', (ctx) => ctx.find('bench_fan', {}))
      .publish('empty', (ctx) => ctx.find('bench_empty', {}))
      .publish('ten', (ctx) => ctx.find('bench_ten', {}))
      .publish('docs', (ctx) => ctx.find('bench_docs', {}))
      // Every row again, through a second live query: two publications overlapping on the same documents.
      .publish('docs_overlap', (ctx) => ctx.find('bench_docs', { n: { $gte: 0 } }))
      .method('bench.echo', (_ctx, value: unknown) => value)
      .method('bench.echoNoTx', { transaction: false }, (_ctx, value: unknown) => value)
      .method('bench.insert', async (ctx, n: unknown) => {
        return await ctx.insert('bench_rpc', { n: Number(n), pad: 'r'.repeat(100) });
      })
  );
}
