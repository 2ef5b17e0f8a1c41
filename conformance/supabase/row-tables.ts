/**
 * The tables the `rows` cases write to, and the SQL that makes them: a server under test must stream both tables'
 * changes to every client (Supabase: in publication `supabase_realtime`, readable by the socket's role; pgrt: opted
 * in with `access.tables`). They differ only in their replica identity: DEFAULT (old_record is the primary key) and
 * FULL (old_record is the whole old row). Cases tell their rows from other writers' by a `body` of their own.
 */

/** The table with REPLICA IDENTITY DEFAULT. */
export const KEYED_TABLE = { schema: 'public', table: 'conformance_sb_keyed' } as const;

/** The table with REPLICA IDENTITY FULL. */
export const FULL_TABLE = { schema: 'public', table: 'conformance_sb_full' } as const;

const columns = '(id serial PRIMARY KEY, body text, note text, flag boolean, price money)';

/** Creates both tables if missing (then a Supabase server also needs them added to its publication). */
export const ROW_TABLES_SQL = [
  `CREATE TABLE IF NOT EXISTS ${KEYED_TABLE.schema}.${KEYED_TABLE.table} ${columns};`,
  `CREATE TABLE IF NOT EXISTS ${FULL_TABLE.schema}.${FULL_TABLE.table} ${columns};`,
  `ALTER TABLE ${FULL_TABLE.schema}.${FULL_TABLE.table} REPLICA IDENTITY FULL;`,
].join('\n');
