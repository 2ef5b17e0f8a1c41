-- The OAuth tables (core/accounts/oauth/oauth.ts; docs/reference.md "OAuth login"):
-- - pgrt.login_service_configurations: one row per configured login service (Meteor's
--   ServiceConfiguration.configurations): `service` and the public fields as `config` jsonb (clientId, loginStyle,
--   issuer, ...). Bound to the collection meteor_accounts_loginServiceConfiguration, so it carries capture triggers
--   and changes reach every process: nothing secret lives in it.
-- - pgrt.login_service_secrets: each service's `secret`, in a table without triggers (never in NOTIFY).
-- - pgrt.oauth_requests: logins the server started (/_oauth/<service>/authorize), by credential token: the state
--   sent, the PKCE code_verifier, the nonce, the redirect_uri; taken (deleted) by the provider's redirect.
-- - pgrt.oauth_pending_credentials: Meteor's meteor_oauth_pendingCredentials: what the provider's redirect produced
--   (serviceData and options, or the failure) by credential token, with the SHA-256 of its credentialSecret (null
--   for a failure); taken (deleted) by login({oauth}).
-- The last two are short-lived: older than their lifetimes they are refused and swept.
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
