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
 * {@link staticUsers} builds those lookups from a fixed map (tests, small deployments); accounts-authentication.ts
 * `accountsAuthenticators` gives both over the accounts user store (core/accounts).
 */
import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
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
