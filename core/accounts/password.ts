/**
 * Password handling as Meteor's accounts-password does it (reference/ddp.md §1.15): the client sends the
 * lowercase hex SHA-256 of the password (`{digest, algorithm: 'sha-256'}`) or, for clients without SHA, the plain
 * string; the server stores `bcrypt(digest, rounds)` (default 10 rounds) and re-hashes transparently when the
 * configured rounds change. bcrypt is `bcryptjs` (pure JS, `$2a$`/`$2b$`/`$2y$` hashes, Meteor's included).
 */
import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { ClientError } from '../errors.js';

/** A password as clients send it: Meteor's digest object or the plain string. */
export type PasswordInput = string | { readonly digest: string; readonly algorithm: string };

/** Meteor's default bcrypt rounds. */
export const DEFAULT_BCRYPT_ROUNDS = 10;

/** The longest plain password accepted (Meteor's default validator). */
export const MAX_PLAIN_PASSWORD_LENGTH = 256;

/** `check()` failure, as Meteor sanitises it: 400 "Match failed". */
export class MatchFailedError extends ClientError {
  override readonly name = 'MatchFailedError';
  constructor() {
    super(400, 'Match failed');
  }
}

/** Lowercase hex SHA-256 of a UTF-8 string (Meteor's `SHA256`, `Accounts._hashPassword`). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Checks the shape of a password argument (Meteor's `passwordValidator`) and returns the digest to bcrypt:
 * a string of at most 256 characters (hashed here), or `{digest: 64 characters, algorithm: 'sha-256'}`.
 * Anything else: {@link MatchFailedError}.
 */
export function passwordDigest(password: unknown): string {
  if (typeof password === 'string') {
    if (password.length > MAX_PLAIN_PASSWORD_LENGTH) throw new MatchFailedError();
    return sha256Hex(password);
  }
  if (typeof password !== 'object' || password === null || Array.isArray(password))
    throw new MatchFailedError();
  const keys = Object.keys(password);
  const { digest, algorithm } = password as Record<string, unknown>;
  if (keys.some((key) => key !== 'digest' && key !== 'algorithm')) throw new MatchFailedError();
  if (typeof digest !== 'string' || digest.length !== 64 || algorithm !== 'sha-256')
    throw new MatchFailedError();
  return digest;
}

/** bcrypt of a digest. */
export function hashDigest(digest: string, rounds: number): Promise<string> {
  return bcrypt.hash(digest, rounds);
}

/** Hashes of nothing anyone knows, per rounds: compared against when the user does not exist (same timing). */
const dummyHashes = new Map<number, string>();

/**
 * Compares a digest with a stored hash, or, with `undefined`, with a dummy hash of `rounds` rounds, so that an
 * unknown user costs as much time as a wrong password. Resolves false for malformed hashes.
 */
export async function verifyDigest(
  digest: string,
  hash: string | undefined,
  rounds: number,
): Promise<boolean> {
  let compareWith = hash;
  if (compareWith === undefined) {
    compareWith = dummyHashes.get(rounds);
    if (compareWith === undefined) {
      compareWith = await bcrypt.hash(randomBytes(16).toString('hex'), rounds);
      dummyHashes.set(rounds, compareWith);
    }
  }
  try {
    const ok = await bcrypt.compare(digest, compareWith);
    return ok && hash !== undefined;
  } catch {
    return false;
  }
}

/** True when a stored hash was made with other rounds than `rounds` (Meteor re-hashes on the next login). */
export function needsRehash(hash: string, rounds: number): boolean {
  try {
    return bcrypt.getRounds(hash) !== rounds;
  } catch {
    return false;
  }
}
