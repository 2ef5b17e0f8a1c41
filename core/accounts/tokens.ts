/**
 * Resume tokens as Meteor makes them: `Random.secret()` (43 characters, 256 bits) given to the client once; only
 * `base64(sha256(token))` is stored (`Accounts._hashLoginToken`), so a database dump logs nobody in.
 */
import { createHash } from 'node:crypto';
import { cryptoRandom } from '../random/random-stream.js';

/** A new resume token. */
export function newLoginToken(): string {
  return cryptoRandom.secret();
}

/** The stored form of a token: base64 of its SHA-256. */
export function hashLoginToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}

/** When a token made at `when` expires, after `days`. */
export function tokenExpiration(when: Date, days: number): Date {
  return new Date(when.getTime() + days * 24 * 60 * 60 * 1000);
}
