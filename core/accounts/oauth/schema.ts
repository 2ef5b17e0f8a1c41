/**
 * The OAuth tables in the `pgrt` schema, created idempotently at start under an advisory lock:
 *
 * - `pgrt.login_service_configurations`: one row per configured login service (Meteor's
 *   `ServiceConfiguration.configurations`, collection `meteor_accounts_loginServiceConfiguration`): `service` and
 *   the public fields as `config` jsonb (`clientId`, `loginStyle`, `issuer`, …). Bound to that collection, so it
 *   carries capture triggers and changes reach every process: nothing secret lives in it.
 * - `pgrt.login_service_secrets`: each service's `secret` (Meteor keeps it in the same document and leaves it out
 *   of the publication; here it never enters a captured table, so it never travels through NOTIFY).
 * - `pgrt.oauth_requests`: logins the server started (`/_oauth/<service>/authorize`), by credential token: the
 *   `state` sent, the PKCE `code_verifier`, the `nonce`, the `redirect_uri`; taken (deleted) by the provider's
 *   redirect, so a state is good for one redirect.
 * - `pgrt.oauth_pending_credentials`: Meteor's `meteor_oauth_pendingCredentials`: what the provider's redirect
 *   produced (`serviceData` and `options`, or the error), by credential token, with the SHA-256 of its
 *   `credentialSecret` (null for an error); taken (deleted) by `login({oauth})`.
 *
 * Rows of the last two are short-lived: older than their lifetime they are refused and swept. Neither carries
 * triggers.
 */
import type { Database } from '../../database/database.js';

/** Advisory lock key of the OAuth DDL ('pgoa'). */
const OAUTH_DDL_LOCK = 0x7067_6f61;

const DDL = `
CREATE SCHEMA IF NOT EXISTS pgrt;
CREATE TABLE IF NOT EXISTS pgrt.login_service_configurations (
  service text PRIMARY KEY,
  config jsonb NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS pgrt.login_service_secrets (
  service text PRIMARY KEY REFERENCES pgrt.login_service_configurations (service) ON DELETE CASCADE,
  secret text NOT NULL
);
CREATE TABLE IF NOT EXISTS pgrt.oauth_requests (
  credential_token text PRIMARY KEY,
  service text NOT NULL,
  state text NOT NULL,
  code_verifier text,
  nonce text,
  redirect_uri text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS oauth_requests_created ON pgrt.oauth_requests (created_at);
CREATE TABLE IF NOT EXISTS pgrt.oauth_pending_credentials (
  credential_token text PRIMARY KEY,
  hashed_secret text,
  service text NOT NULL,
  credential jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS oauth_pending_credentials_created ON pgrt.oauth_pending_credentials (created_at);
`;

/** Creates the OAuth tables if missing. Safe when several processes start at once. */
export async function ensureOAuthSchema(db: Database): Promise<void> {
  await db.transaction(async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [OAUTH_DDL_LOCK]);
    await client.query(DDL);
  });
}
