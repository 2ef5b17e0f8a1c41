/**
 * Authentication: the pluggable step between HELLO and WELCOME (reference/wamp.md §1.9 "Authentication").
 *
 * A realm has a list of {@link Authenticator}s, one per `authmethod`. The router takes the first of the client's
 * `HELLO.Details.authmethods` (default `["anonymous"]`) that the realm offers and calls its `start`: the answer is
 * either an identity (WELCOME at once) or a challenge (CHALLENGE, then the client's AUTHENTICATE goes to
 * `verify`). Failures are {@link AuthenticationError}s whose URI becomes the ABORT reason; anything else thrown
 * becomes `wamp.error.authentication_failed` (and is logged).
 *
 * Built in: {@link anonymousAuthenticator}, {@link ticketAuthenticator} and {@link wampCraAuthenticator}; both of
 * the latter take an async lookup, so a user store in PostgreSQL (the accounts issue) plugs in without change.
 * {@link staticUsers} builds those lookups from a fixed map (tests, small deployments);
 * {@link accountsAuthenticators} plugs both into the accounts user store (core/accounts), with `authprovider`
 * {@link ACCOUNTS_AUTHPROVIDER}, so the core session of such a WAMP session runs as that user.
 */
import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccountIdentity, Accounts } from '../../core/accounts/accounts.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import { AuthenticationError, WampUri } from './errors.js';
import type { Dict } from './messages.js';

/** What the router knows when authentication starts. */
export interface AuthRequest {
  readonly realm: string;
  /** The session id WELCOME will carry (already allocated: WAMP-CRA puts it in the challenge). */
  readonly session: number;
  /** `HELLO.Details.authid`, if the client sent one. */
  readonly authid: string | undefined;
  /** `HELLO.Details.authextra` (`{}` when absent). */
  readonly authextra: Dict;
  /** All of `HELLO.Details`. */
  readonly details: Dict;
  readonly transport: { readonly remoteAddress: string; readonly headers: Readonly<Record<string, unknown>> };
}

/** Who the session is, once authenticated (goes into WELCOME.Details). */
export interface AuthIdentity {
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod: string;
  readonly authprovider: string;
  /** Sent as `WELCOME.Details.authextra` when present. */
  readonly authextra?: Dict;
}

/** The first step's outcome. */
export type AuthStart =
  | { readonly kind: 'welcome'; readonly identity: AuthIdentity }
  | {
      readonly kind: 'challenge';
      /** `CHALLENGE.Extra`. */
      readonly extra: Dict;
      /**
       * Checks `AUTHENTICATE.Signature`; resolves to the identity or rejects (an {@link AuthenticationError}).
       */
      verify(signature: string, extra: Dict): Promise<AuthIdentity>;
    };

/** One authentication method of a realm. */
export interface Authenticator {
  /** The `authmethod` it implements: `anonymous`, `ticket`, `wampcra`, … */
  readonly authmethod: string;
  start(request: AuthRequest): Promise<AuthStart>;
}

/** Options of {@link anonymousAuthenticator}. */
export interface AnonymousOptions {
  /** Role given to anonymous sessions (default `anonymous`). */
  readonly authrole?: string;
}

/** Anyone gets in: authid = the session id (decimal), authrole `anonymous`. */
export function anonymousAuthenticator(options: AnonymousOptions = {}): Authenticator {
  const authrole = options.authrole ?? 'anonymous';
  return {
    authmethod: 'anonymous',
    start: async (request) => ({
      kind: 'welcome',
      identity: {
        authid: String(request.session),
        authrole,
        authmethod: 'anonymous',
        authprovider: 'static',
      },
    }),
  };
}

/** A principal as a lookup returns it. */
export interface Principal {
  /** The role the session gets. */
  readonly authrole: string;
  /** The authid to use (default: the one the client sent). */
  readonly authid?: string;
  readonly authextra?: Dict;
}

/** Verifies a ticket: resolves to the principal, or null when the authid is unknown or the ticket is wrong. */
export type TicketCheck = (authid: string, ticket: string, request: AuthRequest) => Promise<Principal | null>;

/** Options shared by the challenge-response authenticators. */
export interface ProviderOptions {
  /** `authprovider` in WELCOME (default `static`). */
  readonly authprovider?: string;
}

/** Ticket authentication: CHALLENGE `[4, "ticket", {}]`, the AUTHENTICATE signature is the ticket. */
export function ticketAuthenticator(check: TicketCheck, options: ProviderOptions = {}): Authenticator {
  const authprovider = options.authprovider ?? 'static';
  return {
    authmethod: 'ticket',
    async start(request) {
      const authid = request.authid;
      if (authid === undefined) {
        throw new AuthenticationError(WampUri.noSuchPrincipal, 'ticket authentication needs an authid');
      }
      return {
        kind: 'challenge',
        extra: {},
        async verify(signature) {
          const principal = await check(authid, signature, request);
          if (!principal) throw new AuthenticationError(WampUri.authenticationFailed, 'invalid ticket');
          return {
            authid: principal.authid ?? authid,
            authrole: principal.authrole,
            authmethod: 'ticket',
            authprovider,
            ...(principal.authextra ? { authextra: principal.authextra } : {}),
          };
        },
      };
    },
  };
}

/** A WAMP-CRA principal: its secret (or derived key, see `salt`) and role. */
export interface CraPrincipal extends Principal {
  /** The shared secret. With `salt`, clients derive the HMAC key with PBKDF2-SHA256 from it. */
  readonly secret: string;
  /** The derived key itself (what a user store keeps instead of the secret); wins over `secret` with a salt. */
  readonly key?: string;
  readonly salt?: string;
  /** PBKDF2 iterations (default 1000, Autobahn's). */
  readonly iterations?: number;
  /** Derived key length in bytes (default 32). */
  readonly keylen?: number;
}

/** Finds a WAMP-CRA principal, or null. */
export type CraLookup = (authid: string, request: AuthRequest) => Promise<CraPrincipal | null>;

/**
 * The HMAC key of a principal: the secret itself, or with a salt the base64 of
 * PBKDF2-SHA256(secret, salt, iterations, keylen) (Autobahn's `auth_cra.derive_key`).
 */
export function craKey(principal: CraPrincipal): string {
  if (principal.salt === undefined) return principal.secret;
  if (principal.key !== undefined) return principal.key;
  return pbkdf2Sync(
    principal.secret,
    principal.salt,
    principal.iterations ?? 1000,
    principal.keylen ?? 32,
    'sha256',
  ).toString('base64');
}

/** Base64 HMAC-SHA256 of `challenge` under `key` (Autobahn's `auth_cra.sign`). */
export function craSign(key: string, challenge: string): string {
  return createHmac('sha256', key).update(challenge).digest('base64');
}

/**
 * WAMP-CRA: CHALLENGE `extra.challenge` is a JSON string with authid, authrole, authmethod, authprovider, nonce,
 * timestamp and session (plus `salt`, `iterations`, `keylen` when the secret is salted); the client answers with
 * the base64 HMAC-SHA256 of that string. An unknown authid still gets a challenge (with a random secret), so
 * principals cannot be probed; it then fails as a wrong signature would.
 */
export function wampCraAuthenticator(lookup: CraLookup, options: ProviderOptions = {}): Authenticator {
  const authprovider = options.authprovider ?? 'static';
  return {
    authmethod: 'wampcra',
    async start(request) {
      const authid = request.authid;
      if (authid === undefined) {
        throw new AuthenticationError(WampUri.noSuchPrincipal, 'wampcra authentication needs an authid');
      }
      const found = await lookup(authid, request);
      const principal: CraPrincipal = found ?? { secret: randomBytes(24).toString('base64'), authrole: '' };
      const finalAuthid = principal.authid ?? authid;
      const challenge = JSON.stringify({
        authid: finalAuthid,
        authrole: principal.authrole,
        authmethod: 'wampcra',
        authprovider,
        nonce: randomBytes(16).toString('base64'),
        timestamp: new Date().toISOString(),
        session: request.session,
      });
      const extra: Dict = { challenge };
      if (principal.salt !== undefined) {
        extra.salt = principal.salt;
        extra.iterations = principal.iterations ?? 1000;
        extra.keylen = principal.keylen ?? 32;
      }
      const expected = Buffer.from(craSign(craKey(principal), challenge));
      return {
        kind: 'challenge',
        extra,
        async verify(signature) {
          const given = Buffer.from(signature);
          if (!found || given.length !== expected.length || !timingSafeEqual(given, expected)) {
            throw new AuthenticationError(WampUri.authenticationFailed, 'invalid signature');
          }
          return {
            authid: finalAuthid,
            authrole: principal.authrole,
            authmethod: 'wampcra',
            authprovider,
            ...(principal.authextra ? { authextra: principal.authextra } : {}),
          };
        },
      };
    },
  };
}

/** A user of {@link staticUsers}. */
export interface StaticUser {
  readonly authrole: string;
  /** Ticket (for `ticket`) or shared secret (for `wampcra`). */
  readonly secret: string;
  readonly salt?: string;
  readonly iterations?: number;
  readonly keylen?: number;
}

/** Lookups over a fixed user map (authid → user), for {@link ticketAuthenticator} and {@link wampCraAuthenticator}. */
export function staticUsers(users: Readonly<Record<string, StaticUser>>): {
  readonly ticket: TicketCheck;
  readonly cra: CraLookup;
} {
  const get = (authid: string): StaticUser | undefined =>
    Object.hasOwn(users, authid) ? users[authid] : undefined;
  return {
    async ticket(authid, ticket) {
      const user = get(authid);
      if (!user) return null;
      const a = Buffer.from(ticket);
      const b = Buffer.from(user.secret);
      return a.length === b.length && timingSafeEqual(a, b) ? { authrole: user.authrole } : null;
    },
    async cra(authid) {
      const user = get(authid);
      if (!user) return null;
      return {
        authrole: user.authrole,
        secret: user.secret,
        ...(user.salt === undefined ? {} : { salt: user.salt }),
        ...(user.iterations === undefined ? {} : { iterations: user.iterations }),
        ...(user.keylen === undefined ? {} : { keylen: user.keylen }),
      };
    },
  };
}

/** `authprovider` of sessions authenticated against the accounts user store; their authid is the user id. */
export const ACCOUNTS_AUTHPROVIDER = 'pgrt';

/** The name of the WAMP-CRA key among the accounts' password-derived credentials. */
export const CRA_CREDENTIAL = 'wampcra';
/** PBKDF2 parameters of the WAMP-CRA keys (Autobahn's `auth_cra.derive_key` defaults). */
export const CRA_ITERATIONS = 1000;
/** Key length in bytes of the WAMP-CRA keys. */
export const CRA_KEYLEN = 32;

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

/** The WAMP role of a user: their first role, or `user`. */
export function accountRole(identity: AccountIdentity): string {
  return identity.roles[0] ?? 'user';
}

/** The core's view of the connection a WAMP session being authenticated will have (core-bridge.ts `joined`). */
export function handshakeConnection(request: AuthRequest): Pick<ConnectionInfo, 'protocol' | 'id'> {
  return { protocol: 'wamp', id: String(request.session) };
}

/**
 * Ticket and WAMP-CRA authenticators over the accounts user store (docs/reference.md "Accounts"):
 *
 * - `ticket`: `HELLO.Details.authid` is the username, email or user id; the ticket is the plain password or a
 *   resume token from `login` (over DDP or WAMP).
 * - `wampcra`: same authid; the challenge carries `salt`, `iterations` (1000) and `keylen` (32); the client signs
 *   with `auth_cra.derive_key(sha256hex(password), salt, iterations, keylen)` (Autobahn), i.e. the secret is the
 *   lowercase hex SHA-256 of the password (what Meteor clients send as `digest`). The key material is a
 *   password-derived credential of the accounts store ({@link CRA_CREDENTIAL}), registered here: it is derived
 *   whenever a password is set or used through pgrt.
 *
 * WELCOME carries `authid` = the user id, `authrole` = the user's first role or `user`, `authprovider` `pgrt`.
 *
 * A session whose ticket was a resume token is tied to that token, as a DDP connection that logged in with it:
 * when the token is removed (`logout` or `changePassword` elsewhere, `removeOtherTokens`, expiry, a deleted user),
 * the WAMP session is ended with GOODBYE `wamp.close.killed` on whichever process it lives
 * (core/accounts/revocation.ts; core-bridge.ts `closeConnection`). Password and WAMP-CRA sessions are not tied to
 * a token; they are ended only when their user is deleted.
 */
export function accountsAuthenticators(store: Accounts): Authenticator[] {
  store.registerDerivedCredential(CRA_CREDENTIAL, deriveCraKey);
  const options = { authprovider: ACCOUNTS_AUTHPROVIDER };
  return [
    ticketAuthenticator(async (authid, ticket, request) => {
      const identity = await store.checkSecret(authid, ticket, handshakeConnection(request));
      return identity ? { authid: identity.userId, authrole: accountRole(identity) } : null;
    }, options),
    wampCraAuthenticator(async (authid) => {
      const credential = await store.derivedCredential(authid, CRA_CREDENTIAL);
      const material = credential && craKeyMaterial(credential.data);
      if (!credential || !material) return null;
      return {
        authid: credential.userId,
        authrole: accountRole(credential),
        secret: '',
        ...material,
      };
    }, options),
  ];
}
