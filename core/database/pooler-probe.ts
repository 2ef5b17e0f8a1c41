/**
 * Tells whether the connections pgrt keeps for itself — the LISTEN connection, the logical replication stream, the
 * pump's advisory lock (`Database.connectDedicated`) — really own a PostgreSQL backend, or go through a pooler that
 * hands their backend to other clients between transactions (PgBouncer, Supavisor, Odyssey, … in transaction or
 * statement mode). Through such a pooler LISTEN "succeeds" but notifications are dropped or reach whichever client
 * holds the backend next, so write fences never complete (reference/deploy.md); the fix is a direct (or
 * session-pooled) URL for those connections: `listenDatabaseUrl`.
 *
 * How (two short dedicated connections, no writes):
 * 1. On connection A, the process id of the startup handshake (BackendKeyData) against `pg_backend_pid()`: equal
 *    means A talks to its backend directly. A pooler answers the handshake itself with a key of its own, so they
 *    differ.
 * 2. Only then: connection B opens a transaction and reads its backend pid while it holds it, and A reads its pid
 *    again. A session-mode pooler gives each client a backend for the whole session (B's differs, A's stays); a
 *    transaction-mode pooler gives B the backend A just released (PgBouncer reuses the most recent idle one) or
 *    moves A to another backend, since A's is taken.
 */
import type { Database } from './database.js';

/** What {@link probeDedicatedConnections} found. */
export type PoolerProbe =
  /** The connection owns its backend: LISTEN, replication and session locks work. */
  | { readonly kind: 'direct' }
  /** A pooler in session mode: each client keeps one backend (works, one pooler slot per dedicated connection). */
  | { readonly kind: 'session-pooler' }
  /** A pooler in transaction or statement mode: LISTEN and session advisory locks are broken through it. */
  | { readonly kind: 'transaction-pooler'; readonly pids: readonly number[] };

/** The reason text of a transaction-mode pooler on the dedicated URL: what is wrong and what to change. */
export const TRANSACTION_POOLER_ADVICE =
  'the LISTEN connection goes through a connection pooler in transaction (or statement) mode: notifications are ' +
  'dropped or delivered to other clients, so changes and method write fences are lost. Give pgrt a direct ' +
  '(or session-pooled) URL for its LISTEN, replication and pump-lock connections: listenDatabaseUrl ' +
  '(env PGRT_LISTEN_DATABASE_URL, flag --listen-database-url); the query pool may stay on the pooler.';

interface WithProcessId {
  /** The backend process id the server announced in BackendKeyData (`pg` keeps it; its typings omit it). */
  readonly processID?: number | null;
}

/** Probes the URL of `db`'s dedicated connections (see the module comment). Rejects if it cannot connect. */
export async function probeDedicatedConnections(db: Database): Promise<PoolerProbe> {
  const a = await db.connectDedicated({ applicationName: 'pgrt-probe' });
  a.on('error', () => {});
  try {
    const first = await backendPid(a);
    if ((a as unknown as WithProcessId).processID === first) return { kind: 'direct' };
    const b = await db.connectDedicated({ applicationName: 'pgrt-probe' });
    b.on('error', () => {});
    try {
      await b.query('BEGIN');
      const held = await backendPid(b);
      const again = await backendPid(a);
      await b.query('ROLLBACK');
      if (held === first || again !== first)
        return { kind: 'transaction-pooler', pids: [first, held, again] };
      return { kind: 'session-pooler' };
    } finally {
      await b.end().catch(() => {});
    }
  } finally {
    await a.end().catch(() => {});
  }
}

async function backendPid(client: {
  query(text: string): Promise<{ rows: Array<{ pid?: unknown }> }>;
}): Promise<number> {
  const result = await client.query('SELECT pg_backend_pid() AS pid');
  return Number(result.rows[0]?.pid);
}
