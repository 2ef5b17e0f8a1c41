-- pgrt schema, part 5: DDP session hand-off across processes (adapters/ddp/handoff-store.ts). A draining process
-- writes each live DDP session here so that another process can resume it when its client comes back; the taker
-- deletes the session's row (exactly one taker). Rows live for the grace period only.

-- One drain of one process: its documents are stored once, whatever number of sessions hold them.
CREATE TABLE pgrt.ddp_handoffs (
  id uuid PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX ddp_handoffs_expires_at ON pgrt.ddp_handoffs (expires_at);

-- The documents the sessions of a hand-off held: `n` numbers them within the hand-off, `fields` is EJSON text.
CREATE TABLE pgrt.ddp_handoff_documents (
  handoff_id uuid NOT NULL REFERENCES pgrt.ddp_handoffs (id) ON DELETE CASCADE,
  n integer NOT NULL,
  fields text NOT NULL,
  PRIMARY KEY (handoff_id, n)
);

-- One session: the SHA-256 of its id (never the id, a bearer secret), its outbound count, its login (user id and
-- the login token's hash, as pgrt.login_tokens stores it), its subscriptions and its view (per collection, the
-- document ids and their numbers in ddp_handoff_documents), both as EJSON text.
CREATE TABLE pgrt.ddp_handoff_sessions (
  session_hash text PRIMARY KEY,
  handoff_id uuid NOT NULL REFERENCES pgrt.ddp_handoffs (id) ON DELETE CASCADE,
  sent_count bigint NOT NULL,
  user_id text,
  login_token_hash text,
  subscriptions text NOT NULL,
  view text NOT NULL
);
CREATE INDEX ddp_handoff_sessions_handoff_id ON pgrt.ddp_handoff_sessions (handoff_id);
