-- The accounts tables (core/accounts; docs/reference.md "Accounts"), the migration set `pgrt.accounts`. Every
-- statement is idempotent: a database whose accounts tables were made by the start-up DDL of earlier versions is
-- adopted as it is.
--
-- - `pgrt.users`: what may be published (`id` = the Meteor `_id`, `username` unique case-insensitively, `emails`
--   `[{address, verified}]` as jsonb, `profile` jsonb) plus `roles text[]`, `created_at` and `tokens_revoked`. It
--   is bound to the `users` collection, so it carries capture triggers: nothing secret lives in it.
-- - `pgrt.user_passwords`: the bcrypt hash (Meteor's `services.password.bcrypt`).
-- - `pgrt.user_credentials`: password-derived credentials that protocol adapters register (derived-credentials.ts),
--   one `data` jsonb per user and name. The `cra_salt`/`cra_key` columns that older versions kept in
--   `pgrt.user_passwords` are dropped: such keys are derived again at the user's next password login.
-- - `pgrt.login_failures`: failed-login counters (login-throttle.ts), keyed by a SHA-256 of the user name and/or
--   client address they count, with `failures`, `last_at` and `blocked_until`. Never captured.
-- - `pgrt.secrets`: random per-database secrets by name (derived-credentials.ts), never captured.
-- - `pgrt.user_services`: Meteor's `services.<service>` of external (OAuth) services, one `data` jsonb per user and
--   service, with `service_id` = `data.id`, unique per service (user-documents.ts). Never captured, never published.
-- - `pgrt.user_emails`: every address of every user, lower-cased, as primary key: the unique index Meteor keeps on
--   `emails.address` (case-insensitive here). A row trigger on `pgrt.users` rewrites a user's rows whenever its
--   `emails` change, so two users can never share an address, whoever writes (a 23505 on `user_emails_pkey`).
-- - `pgrt.login_tokens`: `base64(sha256(token))` per resume token with its `when` (Meteor's
--   `services.resume.loginTokens`); expiry is `when` + the configured days, checked at login and enforced by the
--   periodic sweep that deletes expired rows (accounts.ts `expireTokens`).
-- - `pgrt.email_tokens`: `base64(sha256(token))` per token sent by email (email-tokens.ts), with its `user_id`,
--   `reason` (`reset`, `enroll`, `verifyEmail`), the `email` it was sent to and its `when`; at most one `reset`
--   and one `enroll` row per user (a partial unique index). Deleting these rows revokes nothing.
--
-- Secrets sit in tables without capture triggers, so they never travel through NOTIFY or the spill table.
--
-- Revocation signal: `pgrt.users.tokens_revoked` counts the statements that removed any of the user's tokens. A
-- statement trigger on `pgrt.login_tokens` (DELETE, cascades from a deleted user included; TRUNCATE: every user)
-- increments it in the removing transaction, so the change reaches every process on the change bus like any
-- captured row, in every capture mode, without a token hash leaving the database (revocation.ts).
-- Updating a token row (its `when`, its hash) is not a removal: revoke tokens by deleting them.
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
  bcrypt text NOT NULL
);
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
              WHERE table_schema = 'pgrt' AND table_name = 'user_passwords' AND column_name = 'cra_key') THEN
    ALTER TABLE pgrt.user_passwords DROP COLUMN IF EXISTS cra_salt, DROP COLUMN IF EXISTS cra_key;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS pgrt.user_credentials (
  user_id text NOT NULL REFERENCES pgrt.users (id) ON DELETE CASCADE,
  name text NOT NULL,
  data jsonb NOT NULL,
  PRIMARY KEY (user_id, name)
);
CREATE TABLE IF NOT EXISTS pgrt.login_failures (
  key text PRIMARY KEY,
  failures integer NOT NULL,
  last_at timestamptz NOT NULL,
  blocked_until timestamptz
);
CREATE TABLE IF NOT EXISTS pgrt.secrets (
  name text PRIMARY KEY,
  value text NOT NULL
);
CREATE TABLE IF NOT EXISTS pgrt.user_services (
  user_id text NOT NULL REFERENCES pgrt.users (id) ON DELETE CASCADE,
  service text NOT NULL,
  service_id text,
  data jsonb NOT NULL,
  PRIMARY KEY (user_id, service)
);
CREATE UNIQUE INDEX IF NOT EXISTS user_services_service_id ON pgrt.user_services (service, service_id);
CREATE TABLE IF NOT EXISTS pgrt.user_emails (
  address text PRIMARY KEY,
  user_id text NOT NULL REFERENCES pgrt.users (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS user_emails_user ON pgrt.user_emails (user_id);
CREATE OR REPLACE FUNCTION pgrt.users_emails_index() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM pgrt.user_emails WHERE user_id = NEW.id;
  INSERT INTO pgrt.user_emails (address, user_id)
    SELECT DISTINCT lower(e->>'address'), NEW.id
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.emails) = 'array' THEN NEW.emails ELSE '[]' END) e
     WHERE jsonb_typeof(e->'address') = 'string';
  RETURN NULL;
END $$;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                  WHERE tgrelid = 'pgrt.users'::regclass AND tgname = 'users_emails_index') THEN
    CREATE TRIGGER users_emails_index AFTER INSERT OR UPDATE OF emails ON pgrt.users
      FOR EACH ROW EXECUTE FUNCTION pgrt.users_emails_index();
    -- Addresses stored before: the first user of each address keeps it in the index.
    INSERT INTO pgrt.user_emails (address, user_id)
      SELECT DISTINCT ON (lower(e->>'address')) lower(e->>'address'), u.id
        FROM pgrt.users u,
             jsonb_array_elements(CASE WHEN jsonb_typeof(u.emails) = 'array' THEN u.emails ELSE '[]' END) e
       WHERE jsonb_typeof(e->'address') = 'string'
       ORDER BY lower(e->>'address'), u.created_at, u.id
      ON CONFLICT DO NOTHING;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS pgrt.login_tokens (
  hashed_token text PRIMARY KEY,
  user_id text NOT NULL REFERENCES pgrt.users (id) ON DELETE CASCADE,
  "when" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS login_tokens_user ON pgrt.login_tokens (user_id);
CREATE TABLE IF NOT EXISTS pgrt.email_tokens (
  hashed_token text PRIMARY KEY,
  user_id text NOT NULL REFERENCES pgrt.users (id) ON DELETE CASCADE,
  reason text NOT NULL CHECK (reason IN ('reset', 'enroll', 'verifyEmail')),
  email text NOT NULL,
  "when" timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS email_tokens_one_per_user ON pgrt.email_tokens (user_id, reason)
  WHERE reason <> 'verifyEmail';
CREATE INDEX IF NOT EXISTS email_tokens_user ON pgrt.email_tokens (user_id);
ALTER TABLE pgrt.users ADD COLUMN IF NOT EXISTS tokens_revoked bigint NOT NULL DEFAULT 0;
CREATE OR REPLACE FUNCTION pgrt.login_tokens_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE pgrt.users u SET tokens_revoked = u.tokens_revoked + 1
   WHERE u.id IN (SELECT DISTINCT r.user_id FROM removed_tokens r);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION pgrt.login_tokens_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE pgrt.users SET tokens_revoked = tokens_revoked + 1;
  RETURN NULL;
END $$;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                  WHERE tgrelid = 'pgrt.login_tokens'::regclass AND tgname = 'login_tokens_removed') THEN
    CREATE TRIGGER login_tokens_removed AFTER DELETE ON pgrt.login_tokens
      REFERENCING OLD TABLE AS removed_tokens FOR EACH STATEMENT EXECUTE FUNCTION pgrt.login_tokens_removed();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
                  WHERE tgrelid = 'pgrt.login_tokens'::regclass AND tgname = 'login_tokens_truncated') THEN
    CREATE TRIGGER login_tokens_truncated AFTER TRUNCATE ON pgrt.login_tokens
      FOR EACH STATEMENT EXECUTE FUNCTION pgrt.login_tokens_truncated();
  END IF;
END $$;
