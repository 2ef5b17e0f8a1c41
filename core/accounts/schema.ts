/**
 * The accounts tables in the `pgrt` schema, created idempotently at start (serialised by an advisory lock, in one
 * transaction, like core/database/schema.ts):
 *
 * - `pgrt.users`: what may be published (`id` = the Meteor `_id`, `username` unique case-insensitively, `emails`
 *   `[{address, verified}]` as jsonb, `profile` jsonb) plus `roles text[]` and `created_at`. It is bound to the
 *   `users` collection, so it carries capture triggers: nothing secret lives in it.
 * - `pgrt.user_passwords`: the bcrypt hash (Meteor's `services.password.bcrypt`) and the derived WAMP-CRA key.
 * - `pgrt.login_tokens`: `base64(sha256(token))` per resume token with its `when` (Meteor's
 *   `services.resume.loginTokens`); expiry is `when` + the configured days, decided at login time.
 *
 * Secrets sit in tables without capture triggers, so they never travel through NOTIFY or the spill table.
 */
import type { Database } from '../database/database.js';

/** Advisory lock key of the accounts DDL ('pgrt.accounts'). */
const ACCOUNTS_DDL_LOCK = 0x7067_6163;

const DDL = `
CREATE SCHEMA IF NOT EXISTS pgrt;
CREATE TABLE IF NOT EXISTS pgrt.users (
  id text PRIMARY KEY,
  username text,
  emails jsonb,
  profile jsonb,
  roles text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_username_ci ON pgrt.users (lower(username));
CREATE TABLE IF NOT EXISTS pgrt.user_passwords (
  user_id text PRIMARY KEY REFERENCES pgrt.users (id) ON DELETE CASCADE,
  bcrypt text NOT NULL,
  cra_salt text,
  cra_key text
);
CREATE TABLE IF NOT EXISTS pgrt.login_tokens (
  hashed_token text PRIMARY KEY,
  user_id text NOT NULL REFERENCES pgrt.users (id) ON DELETE CASCADE,
  "when" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS login_tokens_user ON pgrt.login_tokens (user_id);
`;

/** Creates the accounts tables if missing. Safe when several processes start at once. */
export async function ensureAccountsSchema(db: Database): Promise<void> {
  await db.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [ACCOUNTS_DDL_LOCK]);
    await client.query(DDL);
  });
}
