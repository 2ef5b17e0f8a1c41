/**
 * Who a Supabase client is: the token it sends as `access_token` (in the join payload and later `access_token`
 * pushes; supabase-js sends its apikey there until a user signs in) becomes an {@link Identity}.
 *
 * The default {@link TokenVerifier}:
 * - a JWT (three base64url parts) must be HS256, signed with the configured `jwtSecret`, and unexpired; its `sub` is
 *   the user id (no `sub`: anonymous, as Supabase's `anon` key). Without a secret every JWT is refused;
 * - any other token that is one of the accounts' unexpired resume tokens (core/accounts: `login` over DDP or WAMP)
 *   is that user;
 * - anything else (`anon`, a publishable key) is anonymous.
 * An app swaps it by registering {@link SupabaseTokenVerifierToken} in the container it passes to `createServer`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { findLoginToken } from '../../core/accounts/login-tokens.js';
import { hashLoginToken, tokenExpiration } from '../../core/accounts/tokens.js';
import type { Queryable } from '../../core/database/database.js';
import { expiredJwt, jwtSignatureError, malformedJwt } from './errors.js';

/** The user behind a token. */
export interface Identity {
  /** The user id, or null for anonymous clients. */
  readonly userId: string | null;
  /** A JWT's claims; undefined for other tokens. */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
}

/** Turns a client's token into an identity; rejects with a ChannelError (errors.ts) to refuse it. */
export interface TokenVerifier {
  verify(token: string | undefined): Promise<Identity>;
}

/** Injection token of the {@link TokenVerifier} (a swappable part of the adapter). */
export const SupabaseTokenVerifierToken = Symbol('pgrt.supabase.TokenVerifier');

/** The anonymous identity. */
export const ANONYMOUS: Identity = Object.freeze({ userId: null, claims: undefined });

/** Options of {@link defaultTokenVerifier}. */
export interface TokenVerifierOptions {
  /** HS256 secret of accepted JWTs; absent: JWTs are refused. */
  readonly jwtSecret?: string | undefined;
  /** Resume tokens older than this are refused (default 90, Meteor's and the accounts' default). */
  readonly loginExpirationInDays?: number;
  /** The clock, in ms (tests). */
  readonly now?: () => number;
}

/** The default verifier: HS256 JWTs, then resume tokens, else anonymous (see the module header). */
export function defaultTokenVerifier(db: Queryable, options: TokenVerifierOptions = {}): TokenVerifier {
  const now = options.now ?? Date.now;
  const days = options.loginExpirationInDays ?? 90;
  return {
    async verify(token) {
      if (token === undefined || token === '') return ANONYMOUS;
      if (JWT_SHAPE.test(token)) {
        const claims = verifyHs256(token, options.jwtSecret, now());
        const sub = claims.sub;
        return { userId: typeof sub === 'string' && sub !== '' ? sub : null, claims };
      }
      const found = await findResumeToken(db, token);
      if (found && tokenExpiration(found.when, days).getTime() > now())
        return { userId: found.userId, claims: undefined };
      return ANONYMOUS;
    },
  };
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The claims of an HS256 JWT signed with `secret`; throws a ChannelError when it is malformed, signed otherwise
 * (or no secret is given) or expired (`exp`, seconds).
 */
export function verifyHs256(
  token: string,
  secret: string | undefined,
  nowMs: number,
): Record<string, unknown> {
  const [headerPart, claimsPart, signaturePart] = token.split('.') as [string, string, string];
  const header = jsonPart(headerPart);
  const claims = jsonPart(claimsPart);
  if (!header || !claims) throw malformedJwt();
  if (header.alg !== 'HS256' || secret === undefined) throw jwtSignatureError();
  const expected = createHmac('sha256', secret).update(`${headerPart}.${claimsPart}`).digest();
  const given = Buffer.from(signaturePart, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw jwtSignatureError();
  const exp = claims.exp;
  if (exp !== undefined) {
    if (typeof exp !== 'number') throw malformedJwt();
    const left = exp - Math.floor(nowMs / 1000);
    if (left <= 0) throw expiredJwt(-left);
  }
  return claims;
}

/** Signs `claims` as an HS256 JWT (for tests and server-side tooling). */
export function signHs256(claims: Readonly<Record<string, unknown>>, secret: string): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${signature}`;
}

function jsonPart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The resume token's user and date, or undefined (also when the app has no accounts tables). */
async function findResumeToken(
  db: Queryable,
  token: string,
): Promise<{ userId: string; when: Date } | undefined> {
  try {
    return await findLoginToken(db, hashLoginToken(token));
  } catch (error) {
    if ((error as { code?: unknown }).code === '42P01') return undefined; // no pgrt.login_tokens: no accounts
    throw error;
  }
}
