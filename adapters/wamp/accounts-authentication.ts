/**
 * WAMP `ticket` and `wampcra` authentication against the accounts user store (core/accounts): the same users,
 * passwords and resume tokens as DDP's `login`, through the same login pipeline (`validateLoginAttempt`,
 * `onLogin`, `onLoginFailure` hooks; docs/reference.md "Accounts"). Core knows nothing of WAMP: the WAMP-CRA key
 * is a password-derived credential ({@link CRA_CREDENTIAL}) that {@link accountsAuthenticators} registers on the
 * store, and the handshake logins use the store's `loginWithSecret` / `authenticate`.
 *
 * Attempts as the hooks see them: `methodName` `ticket` or `wampcra`, `methodArguments` `[{user: authid}]` (never
 * the secret), `type` `password` or `resume` (ticket) and `wampcra`; `connection` `{id: <WAMP session id>,
 * protocol: 'wamp', clientAddress, httpHeaders}`, equal to what the session's methods later see.
 *
 * WAMP-CRA probing (issue 12 item 4): an unknown authid gets a challenge shaped exactly like a known user's — a
 * salt derived from a per-database secret and the authid (HMAC-SHA256, so it is the same on every process and at
 * every attempt, like a stored salt), the same iterations and keylen — and the challenge never carries the user
 * id or a role (its `authid` is the one the client sent; no `authrole`). Checking a signature costs the same for
 * both: one HMAC with a key (stored for a known user, derived from the secret for an unknown one, never PBKDF2 at
 * login time) and a constant-time comparison, then the same login pipeline, which looks the user up either way.
 */
import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccountIdentity, Accounts, LoginCall } from '../../core/accounts/accounts.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import { isClientError, TooManyRequestsError } from '../../core/errors.js';
import { type Authenticator, type AuthRequest, craSign, ticketAuthenticator } from './authentication.js';
import { AuthenticationError, WampUri } from './errors.js';
import type { Dict } from './messages.js';

/** `authprovider` of sessions authenticated against the accounts user store; their authid is the user id. */
export const ACCOUNTS_AUTHPROVIDER = 'pgrt';

/** The name of the WAMP-CRA key among the accounts' password-derived credentials. */
export const CRA_CREDENTIAL = 'wampcra';
/** PBKDF2 parameters of the WAMP-CRA keys (Autobahn's `auth_cra.derive_key` defaults). */
export const CRA_ITERATIONS = 1000;
/** Key length in bytes of the WAMP-CRA keys. */
export const CRA_KEYLEN = 32;
/** The database secret the salts of unknown authids are derived from. */
const UNKNOWN_SALT_SECRET = 'wamp.cra.unknown';

/** The WAMP-CRA key material the accounts store keeps per user (a password-derived credential). */
export type CraKeyMaterial = {
  readonly salt: string;
  /** base64 PBKDF2-SHA256(sha256hex(password), salt, iterations, keylen). */
  readonly key: string;
  readonly iterations: number;
  readonly keylen: number;
};

/**
 * Derives the WAMP-CRA key material of a password from its digest (the password's lowercase hex SHA-256): a fresh
 * random salt and base64 PBKDF2-SHA256(digest, salt, 1000, 32). A client computes the same key with
 * `autobahn.auth_cra.derive_key(sha256hex(password), salt)`.
 */
export function deriveCraKey(digest: string): CraKeyMaterial {
  const salt = randomBytes(16).toString('base64');
  const key = pbkdf2Sync(digest, salt, CRA_ITERATIONS, CRA_KEYLEN, 'sha256').toString('base64');
  return { salt, key, iterations: CRA_ITERATIONS, keylen: CRA_KEYLEN };
}

function craKeyMaterial(data: Readonly<Record<string, unknown>>): CraKeyMaterial | undefined {
  const { salt, key, iterations, keylen } = data;
  if (typeof salt !== 'string' || typeof key !== 'string') return undefined;
  return {
    salt,
    key,
    iterations: typeof iterations === 'number' ? iterations : CRA_ITERATIONS,
    keylen: typeof keylen === 'number' ? keylen : CRA_KEYLEN,
  };
}

/**
 * Key material for an authid no user has: salt and key derived from the database secret and the authid, so the
 * challenge is stable and shaped like a known user's; nobody knows the password behind it.
 */
function unknownKeyMaterial(secret: Buffer, authid: string): CraKeyMaterial {
  const salt = createHmac('sha256', secret)
    .update(`salt\u0000${authid}`)
    .digest()
    .subarray(0, 16)
    .toString('base64');
  const key = createHmac('sha256', secret).update(`key\u0000${authid}`).digest().toString('base64');
  return { salt, key, iterations: CRA_ITERATIONS, keylen: CRA_KEYLEN };
}

/** The WAMP role of a user: their first role, or `user`. */
export function accountRole(identity: AccountIdentity): string {
  return identity.roles[0] ?? 'user';
}

/** The core's view of the connection a WAMP session being authenticated will have (core-bridge.ts `joined`). */
export function handshakeConnection(request: AuthRequest): ConnectionInfo {
  return {
    id: String(request.session),
    protocol: 'wamp',
    clientAddress: request.transport.remoteAddress,
    httpHeaders: request.transport.headers as ConnectionInfo['httpHeaders'],
  };
}

/** ABORT reason of a login refused by the failed-login limits (details: the message says how long to wait). */
export const TOO_MANY_REQUESTS = 'pgrt.error.too_many_requests';

/**
 * A refused login as an ABORT: the client error's reason under `wamp.error.authentication_failed`, or
 * {@link TOO_MANY_REQUESTS} when the failed-login limits refused it.
 */
function refused(error: unknown): never {
  if (error instanceof TooManyRequestsError)
    throw new AuthenticationError(TOO_MANY_REQUESTS, error.reason ?? 'too many requests', { cause: error });
  if (isClientError(error))
    throw new AuthenticationError(WampUri.authenticationFailed, error.reason ?? 'authentication failed', {
      cause: error,
    });
  throw error;
}

/**
 * Ticket and WAMP-CRA authenticators over the accounts user store (docs/reference.md "Accounts"):
 *
 * - `ticket`: `HELLO.Details.authid` is the username, email or user id; the ticket is the plain password or a
 *   resume token from `login` (over DDP or WAMP).
 * - `wampcra`: same authid; the challenge carries `salt`, `iterations` (1000) and `keylen` (32); the client signs
 *   with `auth_cra.derive_key(sha256hex(password), salt, iterations, keylen)` (Autobahn), i.e. the secret is the
 *   lowercase hex SHA-256 of the password (what Meteor clients send as `digest`).
 *
 * WELCOME carries `authid` = the user id, `authrole` = the user's first role or `user`, `authprovider` `pgrt`.
 * A refused login ABORTs with `wamp.error.authentication_failed` and the login error's reason (by default the
 * ambiguous "Something went wrong. Please check your credentials." for every credentials failure).
 *
 * A session whose ticket was a resume token is tied to that token, as a DDP connection that logged in with it:
 * when the token is removed, the WAMP session is ended with GOODBYE `wamp.close.killed` on whichever process it
 * lives (core/accounts/revocation.ts; core-bridge.ts `closeConnection`). Password and WAMP-CRA sessions are not
 * tied to a token; they are ended only when their user is deleted.
 */
export function accountsAuthenticators(store: Accounts): Authenticator[] {
  store.registerDerivedCredential(CRA_CREDENTIAL, deriveCraKey);
  return [
    ticketAuthenticator(
      async (authid, ticket, request) => {
        const call: LoginCall = {
          connection: handshakeConnection(request),
          methodName: 'ticket',
          methodArguments: [{ user: authid }],
          identity: authid,
        };
        const identity = await store.loginWithSecret(call, authid, ticket).catch(refused);
        return { authid: identity.userId, authrole: accountRole(identity) };
      },
      { authprovider: ACCOUNTS_AUTHPROVIDER },
    ),
    accountsCraAuthenticator(store),
  ];
}

/** WAMP-CRA over the accounts store (see the module header). */
function accountsCraAuthenticator(store: Accounts): Authenticator {
  return {
    authmethod: 'wampcra',
    async start(request) {
      const authid = request.authid;
      if (authid === undefined)
        throw new AuthenticationError(WampUri.noSuchPrincipal, 'wampcra authentication needs an authid');
      const credential = await store.derivedCredential(authid, CRA_CREDENTIAL);
      const known = credential ? craKeyMaterial(credential.data) : undefined;
      const material = known ?? unknownKeyMaterial(await store.databaseSecret(UNKNOWN_SALT_SECRET), authid);
      const challenge = JSON.stringify({
        authid,
        authmethod: 'wampcra',
        authprovider: ACCOUNTS_AUTHPROVIDER,
        nonce: randomBytes(16).toString('base64'),
        timestamp: new Date().toISOString(),
        session: request.session,
      });
      const extra: Dict = {
        challenge,
        salt: material.salt,
        iterations: material.iterations,
        keylen: material.keylen,
      };
      return {
        kind: 'challenge',
        extra,
        async verify(signature) {
          const expected = Buffer.from(craSign(material.key, challenge));
          const given = Buffer.from(signature);
          const ok = given.length === expected.length && timingSafeEqual(given, expected);
          const call: LoginCall = {
            connection: handshakeConnection(request),
            methodName: 'wampcra',
            methodArguments: [{ user: authid }],
            identity: authid,
          };
          const identity = await store
            .authenticate(call, 'wampcra', async () => {
              const userId = known ? credential?.userId : undefined;
              if (userId === undefined) return { error: store.credentialsError('User not found') };
              return ok ? { userId } : { userId, error: store.credentialsError('Incorrect password') };
            })
            .catch(refused);
          return {
            authid: identity.userId,
            authrole: accountRole(identity),
            authmethod: 'wampcra',
            authprovider: ACCOUNTS_AUTHPROVIDER,
          };
        },
      };
    },
  };
}
