/**
 * What a username, an email address and a password may be, checked before anything is stored (issue 12 item 8).
 * Meteor checks none of this; its error strings are kept where it has them, the others are 400s of their own.
 *
 * Usernames are normalized to Unicode NFKC (fullwidth `ａｄｍｉｎ` becomes `admin`), trimmed, and runs of spaces
 * inside become one space; then they are refused when
 * empty, longer than {@link MAX_USERNAME_LENGTH} characters, or containing control, format (zero-width, bidi
 * overrides), separator or private-use characters, or letters of more than one of the Latin, Greek and Cyrillic
 * scripts (`аdmin` with a Cyrillic `а`). The normalized form is stored. A new name collides (403 "Username already
 * exists.") with every stored name that looks like it: the same case-insensitively, or with the same
 * `pgrt.username_key` (accounts migration 0002: NFKC, trimmed, Cyrillic and Greek letters that look like Latin ones
 * as those, lower case), which also catches an all-Cyrillic `рорру` against `poppy` and names stored before this
 * normalization existed or imported from Meteor (they are kept as they are, and found by their key at login).
 *
 * An email address is one address: at most {@link MAX_EMAIL_LENGTH} characters (RFC 5321's path limit), no
 * control or space characters, a local part of at most 64 characters without `@ , ; : < > ( ) [ ] \ "`, and a
 * domain of dot-separated labels of letters, digits and inner hyphens. Addresses are unique case-insensitively.
 *
 * A password may not be empty: neither `""` nor the SHA-256 digest of `""` that Meteor clients send for it.
 */
import { ClientError } from '../errors.js';

/** The longest username, in characters after normalization. */
export const MAX_USERNAME_LENGTH = 64;
/** The longest email address (RFC 5321: 256-octet path minus the angle brackets). */
export const MAX_EMAIL_LENGTH = 254;
/** The longest local part of an address (RFC 5321). */
const MAX_LOCAL_PART_LENGTH = 64;

/** Meteor's digest of the empty password: `SHA256('')`. */
export const EMPTY_PASSWORD_DIGEST = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** 400: a username, email address or password that cannot be stored. */
export class InvalidAccountFieldError extends ClientError {
  override readonly name = 'InvalidAccountFieldError';
  constructor(reason: string) {
    super(400, reason);
  }
}

/** Control, format (zero-width, bidi), line/paragraph separator, private-use, unassigned and surrogate code points. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]/u;
/** Space-like characters other than the plain space inside a username (U+3164 Hangul filler and others). */
const ODD_SPACES = /(?! )[\p{Zs}\u115F\u1160\u3164\uFFA0]/u;
const SCRIPTS: readonly [string, RegExp][] = [
  ['Latin', /\p{Script=Latin}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
];

/** The username to store for `raw` (see the module header), or an {@link InvalidAccountFieldError}. */
export function cleanUsername(raw: string): string {
  const username = raw.normalize('NFKC').trim().replace(/ {2,}/g, ' ');
  if (username === '') throw new InvalidAccountFieldError('Username may not be empty');
  if ([...username].length > MAX_USERNAME_LENGTH)
    throw new InvalidAccountFieldError(`Username may be at most ${MAX_USERNAME_LENGTH} characters`);
  if (INVISIBLE.test(username) || ODD_SPACES.test(username))
    throw new InvalidAccountFieldError('Username may not contain invisible or control characters');
  const scripts = SCRIPTS.filter(([, pattern]) => pattern.test(username));
  if (scripts.length > 1)
    throw new InvalidAccountFieldError(
      `Username may not mix ${scripts.map(([name]) => name).join(' and ')} letters`,
    );
  return username;
}

const LOCAL_PART = /^[^\s@,;:<>()[\]\\"]+$/u;
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** The address to store for `raw` (one syntactically valid address), or an {@link InvalidAccountFieldError}. */
export function cleanEmail(raw: string): string {
  const email = raw.trim();
  if (email.length > MAX_EMAIL_LENGTH)
    throw new InvalidAccountFieldError(`Email address may be at most ${MAX_EMAIL_LENGTH} characters`);
  if (INVISIBLE.test(email)) throw new InvalidAccountFieldError('Invalid email address');
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (
    at <= 0 ||
    local.length > MAX_LOCAL_PART_LENGTH ||
    !LOCAL_PART.test(local) ||
    local.startsWith('.') ||
    local.endsWith('.') ||
    local.includes('..') ||
    !domain.split('.').every((label) => DOMAIN_LABEL.test(label))
  )
    throw new InvalidAccountFieldError('Invalid email address');
  return email;
}

/** Refuses the empty password (plain or as Meteor's digest of it). */
export function checkPasswordNotEmpty(plain: string | undefined, digest: string): void {
  if (plain === '' || digest === EMPTY_PASSWORD_DIGEST)
    throw new InvalidAccountFieldError('Password may not be empty');
}
