/**
 * Resume tokens in `pgrt.login_tokens` (Meteor's `services.resume.loginTokens`): making one for a login, finding
 * one for `login {resume}` or a protocol handshake, removing them (each removal revokes: revocation.ts), and the
 * expiry sweep. Tokens themselves are made and hashed in tokens.ts; only hashes reach the database.
 */
import type { Database, Queryable } from '../database/database.js';
import { hashLoginToken, newLoginToken } from './tokens.js';

/** Advisory lock of the expiry sweep ('pgex'): one process sweeps at a time. */
const EXPIRE_LOCK = 0x7067_6578;

/** A token just stored for a user. */
export interface StoredToken {
  /** The secret, shown to the client once. */
  readonly token: string;
  readonly hashedToken: string;
  readonly when: Date;
  /** The user's `tokens_revoked` counter at insertion (revocation.ts). */
  readonly revision: number;
}

/** A token found in the database. */
export interface FoundToken {
  readonly userId: string;
  readonly when: Date;
  readonly revision: number;
}

/** Stores a new token for `userId` stamped `when` (Meteor's `_insertLoginToken`). */
export async function insertLoginToken(db: Queryable, userId: string, when: Date): Promise<StoredToken> {
  const token = newLoginToken();
  const hashedToken = hashLoginToken(token);
  const inserted = await db.query<{ revision: string }>(
    `INSERT INTO pgrt.login_tokens (hashed_token, user_id, "when") VALUES ($1, $2, $3)
     RETURNING (SELECT tokens_revoked FROM pgrt.users WHERE id = $2) AS revision`,
    [hashedToken, userId, when],
  );
  return { token, hashedToken, when, revision: Number(inserted.rows[0]?.revision) };
}

/**
 * The token with this hash (of `userId` only, when given). With `lock`, its row is KEY SHARE locked until the
 * caller's transaction ends: a concurrent removal waits for the login to commit, so its bus event comes after the
 * login is registered and logs the connection out again.
 */
export async function findLoginToken(
  db: Queryable,
  hashedToken: string,
  options: { readonly userId?: string; readonly lock?: boolean } = {},
): Promise<FoundToken | undefined> {
  const found = await db.query<{ user_id: string; when: Date; revision: string }>(
    `SELECT t.user_id, t."when", u.tokens_revoked AS revision
       FROM pgrt.login_tokens t JOIN pgrt.users u ON u.id = t.user_id
      WHERE t.hashed_token = $1 AND ($2::text IS NULL OR t.user_id = $2)${options.lock ? ' FOR KEY SHARE OF t' : ''}`,
    [hashedToken, options.userId ?? null],
  );
  const row = found.rows[0];
  return row && { userId: row.user_id, when: row.when, revision: Number(row.revision) };
}

/** Removes one token. */
export async function deleteLoginToken(db: Queryable, hashedToken: string): Promise<void> {
  await db.query('DELETE FROM pgrt.login_tokens WHERE hashed_token = $1', [hashedToken]);
}

/** Removes every token of `userId` but `keep` (null: all of them). */
export async function deleteLoginTokens(
  db: Queryable,
  userId: string,
  keep: string | null = null,
): Promise<void> {
  await db.query('DELETE FROM pgrt.login_tokens WHERE user_id = $1 AND hashed_token IS DISTINCT FROM $2', [
    userId,
    keep,
  ]);
}

/**
 * Deletes every token older than `days` (Meteor's `_expireTokens`) and runs `more` in the same transaction, unless
 * another process is sweeping (then resolves 0 and does nothing). Resolves to the number of tokens deleted.
 */
export async function expireLoginTokens(
  db: Database,
  days: number,
  more: (client: Queryable) => Promise<unknown>,
): Promise<number> {
  return await db.transaction(async (client) => {
    const lock = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
      EXPIRE_LOCK,
    ]);
    if (lock.rows[0]?.locked !== true) return 0;
    const removed = await client.query(
      'DELETE FROM pgrt.login_tokens WHERE "when" <= now() - make_interval(secs => $1)',
      [days * 86_400],
    );
    await more(client);
    return removed.rowCount ?? 0;
  });
}
