/**
 * The two short-lived records of an OAuth login, in PostgreSQL so that any process can take the next step
 * (migrations/0001_oauth_tables.sql): the authorization request a server-started login stored (PKCE verifier,
 * nonce, state), taken by the provider's redirect; and the pending credential that redirect stored, taken by
 * `login({oauth})` with its credential secret (Meteor's oauth `pending_credentials.js`). Taking deletes, so each
 * works once; a record older than its lifetime is refused. Only the SHA-256 of a credential secret is stored.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../../database/database.js';

/** A login the server started: what the provider's redirect must match. */
export interface AuthorizationRequest {
  readonly credentialToken: string;
  readonly service: string;
  /** The exact `state` sent to the provider. */
  readonly state: string;
  readonly codeVerifier: string | undefined;
  readonly nonce: string | undefined;
  readonly redirectUri: string;
}

/** What a successful provider redirect leaves for `login({oauth})` (Meteor's `{serviceName, serviceData, options}`). */
export interface ExternalLogin {
  readonly serviceName: string;
  readonly serviceData: Record<string, unknown>;
  readonly options: Record<string, unknown>;
}

/** A stored failure: a client error keeps its code and reason; anything else is `internal`. */
export interface StoredFailure {
  readonly error: string | number | undefined;
  readonly reason: string | undefined;
}

/** What {@link takePendingCredential} finds. */
export type PendingCredential =
  | { readonly kind: 'login'; readonly login: ExternalLogin }
  | { readonly kind: 'failure'; readonly failure: StoredFailure }
  | { readonly kind: 'none' };

/** base64(SHA-256(secret)), as login tokens are stored. */
function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64');
}

/**
 * Stores a server-started login. False when that credential token already has one (a client re-using a token):
 * the caller refuses the login rather than replace the first.
 */
export async function storeAuthorizationRequest(
  db: Queryable,
  request: AuthorizationRequest,
): Promise<boolean> {
  const stored = await db.query(
    `INSERT INTO pgrt.oauth_requests (credential_token, service, state, code_verifier, nonce, redirect_uri)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_token) DO NOTHING`,
    [
      request.credentialToken,
      request.service,
      request.state,
      request.codeVerifier ?? null,
      request.nonce ?? null,
      request.redirectUri,
    ],
  );
  return stored.rowCount === 1;
}

/** Takes (deletes) the login started for `credentialToken` if it is younger than `lifetimeMs`. */
export async function takeAuthorizationRequest(
  db: Queryable,
  credentialToken: string,
  lifetimeMs: number,
): Promise<AuthorizationRequest | undefined> {
  const taken = await db.query<{
    service: string;
    state: string;
    code_verifier: string | null;
    nonce: string | null;
    redirect_uri: string;
    fresh: boolean;
  }>(
    `DELETE FROM pgrt.oauth_requests WHERE credential_token = $1
     RETURNING service, state, code_verifier, nonce, redirect_uri,
               created_at > now() - make_interval(secs => $2) AS fresh`,
    [credentialToken, lifetimeMs / 1000],
  );
  const row = taken.rows[0];
  if (!row?.fresh) return undefined;
  return {
    credentialToken,
    service: row.service,
    state: row.state,
    codeVerifier: row.code_verifier ?? undefined,
    nonce: row.nonce ?? undefined,
    redirectUri: row.redirect_uri,
  };
}

/**
 * Stores the outcome of a provider redirect under its credential token: a login with its secret, or a failure
 * (no secret: Meteor lets `login` fetch an error with a null secret). The first outcome stored for a token stays:
 * false when one was there already (a replayed redirect), so a second redirect can neither replace a login nor
 * turn it into a failure.
 */
export async function storePendingCredential(
  db: Queryable,
  credentialToken: string,
  service: string,
  outcome: { readonly login: ExternalLogin; readonly secret: string } | { readonly failure: StoredFailure },
): Promise<boolean> {
  const [hashed, credential] =
    'login' in outcome
      ? [hashSecret(outcome.secret), { login: outcome.login }]
      : [null, { failure: outcome.failure }];
  const stored = await db.query(
    `INSERT INTO pgrt.oauth_pending_credentials (credential_token, hashed_secret, service, credential)
     VALUES ($1, $2, $3, $4) ON CONFLICT (credential_token) DO NOTHING`,
    [credentialToken, hashed, service, JSON.stringify(credential)],
  );
  return stored.rowCount === 1;
}

/**
 * Takes (deletes) the pending credential of `credentialToken` whose secret is `secret` (null: a stored failure),
 * if younger than `lifetimeMs`. A wrong secret finds nothing and deletes nothing, as in Meteor.
 */
export async function takePendingCredential(
  db: Queryable,
  credentialToken: string,
  secret: string | null,
  lifetimeMs: number,
): Promise<PendingCredential> {
  const taken = await db.query<{ credential: Record<string, unknown>; fresh: boolean }>(
    `DELETE FROM pgrt.oauth_pending_credentials
      WHERE credential_token = $1 AND hashed_secret IS NOT DISTINCT FROM $2
     RETURNING credential, created_at > now() - make_interval(secs => $3) AS fresh`,
    [credentialToken, secret === null ? null : hashSecret(secret), lifetimeMs / 1000],
  );
  const row = taken.rows[0];
  if (!row?.fresh) return { kind: 'none' };
  const credential = row.credential;
  if (secret !== null && typeof credential.login === 'object' && credential.login !== null)
    return { kind: 'login', login: credential.login as ExternalLogin };
  if (secret === null && typeof credential.failure === 'object' && credential.failure !== null)
    return { kind: 'failure', failure: credential.failure as StoredFailure };
  return { kind: 'none' };
}

/** Deletes authorization requests and pending credentials older than their lifetimes; resolves to the count. */
export async function sweepOAuthRecords(
  db: Queryable,
  lifetimes: { readonly requestMs: number; readonly credentialMs: number },
): Promise<number> {
  const requests = await db.query(
    'DELETE FROM pgrt.oauth_requests WHERE created_at <= now() - make_interval(secs => $1)',
    [lifetimes.requestMs / 1000],
  );
  const credentials = await db.query(
    'DELETE FROM pgrt.oauth_pending_credentials WHERE created_at <= now() - make_interval(secs => $1)',
    [lifetimes.credentialMs / 1000],
  );
  return (requests.rowCount ?? 0) + (credentials.rowCount ?? 0);
}
