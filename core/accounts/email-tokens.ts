/**
 * The tokens that accounts emails carry, in `pgrt.email_tokens` (migrations/0001_accounts.sql): Meteor's
 * `services.password.reset` (`reason: 'reset'`), `services.password.enroll` (`'enroll'`) and
 * `services.email.verificationTokens` (`'verifyEmail'`). Like resume tokens they are `Random.secret()`, shown
 * once (in the email) and stored as `base64(sha256(token))`; the table has no capture triggers, so a hash never
 * travels through NOTIFY. A user has at most one reset and one enrollment token (a new one replaces it, as
 * Meteor's `$set`) and any number of verification tokens (Meteor's `$push`).
 *
 * Expiry is checked in SQL against the database clock, the same clock that stamps `when` and that the sweep
 * ({@link expireEmailTokens}) uses.
 */
import type { Queryable } from '../database/database.js';
import { hashLoginToken, newLoginToken } from './tokens.js';

/** Why a token was made: Meteor's token record `reason` (`'verifyEmail'` for the verification tokens). */
export type EmailTokenReason = 'reset' | 'enroll' | 'verifyEmail';

/** A token found by {@link takeEmailToken}. */
export interface EmailTokenRecord {
  readonly userId: string;
  readonly reason: EmailTokenReason;
  /** The address the token was sent to (exactly as in the user's `emails`). */
  readonly email: string;
  /** Older than its lifetime (the sweep has not removed it yet). */
  readonly expired: boolean;
}

/** How long tokens of each reason live, in days; absent: forever (Meteor's verification tokens). */
export type EmailTokenLifetimes = { readonly [reason in EmailTokenReason]?: number };

/** Stores a new token for `userId` and `email`; resolves to the token (the only time it exists in clear). */
export async function storeEmailToken(
  db: Queryable,
  userId: string,
  reason: EmailTokenReason,
  email: string,
): Promise<string> {
  const token = newLoginToken();
  await db.query(
    `INSERT INTO pgrt.email_tokens (hashed_token, user_id, reason, email) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, reason) WHERE reason <> 'verifyEmail'
     DO UPDATE SET hashed_token = EXCLUDED.hashed_token, email = EXCLUDED.email, "when" = EXCLUDED."when"`,
    [hashLoginToken(token), userId, reason, email],
  );
  return token;
}

/**
 * Finds `token` among the given reasons and locks its row until the caller's transaction ends, so two calls with
 * the same token run one after the other and the second finds it gone once the first deleted it.
 */
export async function takeEmailToken(
  db: Queryable,
  token: string,
  reasons: readonly EmailTokenReason[],
  lifetimes: EmailTokenLifetimes,
): Promise<EmailTokenRecord | undefined> {
  const found = await db.query<{
    user_id: string;
    reason: EmailTokenReason;
    email: string;
    expired: boolean;
  }>(
    `SELECT user_id, reason, email,
            coalesce("when" <= now() - make_interval(secs => ($3::jsonb ->> reason)::float8 * 86400), false)
              AS expired
       FROM pgrt.email_tokens
      WHERE hashed_token = $1 AND reason = ANY($2)
        FOR UPDATE`,
    [hashLoginToken(token), [...reasons], JSON.stringify(lifetimes)],
  );
  const row = found.rows[0];
  return row && { userId: row.user_id, reason: row.reason, email: row.email, expired: row.expired };
}

/** Deletes one token (used). */
export async function deleteEmailToken(db: Queryable, token: string): Promise<void> {
  await db.query('DELETE FROM pgrt.email_tokens WHERE hashed_token = $1', [hashLoginToken(token)]);
}

/**
 * Deletes a user's tokens of `reason`, or only those sent to `email` (verifying an address uses up every link
 * sent to it, as Meteor's `$pull` by address).
 */
export async function deleteEmailTokens(
  db: Queryable,
  userId: string,
  reason: EmailTokenReason,
  email?: string,
): Promise<void> {
  await db.query(
    'DELETE FROM pgrt.email_tokens WHERE user_id = $1 AND reason = $2 AND ($3::text IS NULL OR email = $3)',
    [userId, reason, email ?? null],
  );
}

/** Deletes every expired token (Meteor's `_expirePasswordResetTokens` and `_expirePasswordEnrollTokens`). */
export async function expireEmailTokens(db: Queryable, lifetimes: EmailTokenLifetimes): Promise<number> {
  const removed = await db.query(
    `DELETE FROM pgrt.email_tokens
      WHERE "when" <= now() - make_interval(secs => ($1::jsonb ->> reason)::float8 * 86400)`,
    [JSON.stringify(lifetimes)],
  );
  return removed.rowCount ?? 0;
}
