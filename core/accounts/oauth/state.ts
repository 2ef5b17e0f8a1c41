/**
 * Meteor's OAuth `state` parameter (oauth package, `OAuth._stateParam` on the client, `OAuth._stateFromQuery` on
 * the server): base64 of the JSON `{loginStyle, credentialToken, isCordova, redirectUrl?}`, made by the client
 * that starts a login and echoed back by the provider to `/_oauth/<service>`. `credentialToken` names the login
 * attempt (the key of its pending credential); `redirectUrl` is where the redirect style returns.
 */
import { OAuthCallbackError } from './errors.js';

/** `popup` (a window the app opened) or `redirect` (the app's own window left and comes back). */
export type LoginStyle = 'popup' | 'redirect';

/** The decoded state. */
export interface OAuthState {
  readonly loginStyle: LoginStyle;
  readonly credentialToken: string;
  readonly isCordova: boolean;
  readonly redirectUrl: string | undefined;
}

/** Longest state accepted (Meteor's are ~100 characters plus the redirect URL). */
const MAX_STATE_LENGTH = 4096;

/**
 * True for strings made by Meteor's `Random.secret()`/`Random.id()` (Meteor's `isSafe`): only these go into the
 * end-of-login page and the pending-credential table. Bounded at 256 characters.
 */
export function isSafeToken(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 256 && /^[a-zA-Z0-9_-]+$/.test(value);
}

/**
 * Decodes a state as Meteor's server does (base64, Latin-1, JSON). Anything else — not base64 JSON, an unknown
 * login style, an unsafe credential token, a non-string redirect URL — throws {@link OAuthCallbackError}. Meteor
 * took an undecodable state for a bare credential token of a pre-1.0 client; pgrt refuses it.
 */
export function decodeState(raw: string | null): OAuthState {
  if (!raw) throw new OAuthCallbackError('the OAuth redirect has no state');
  if (raw.length > MAX_STATE_LENGTH) throw new OAuthCallbackError('the OAuth state is too long');
  // Providers that do not URL-encode the state turn its '+' into a space (the reason Meteor base64-encodes it).
  const base64 = raw.replace(/ /g, '+');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(base64)) throw new OAuthCallbackError('the OAuth state is not base64');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(base64, 'base64').toString('latin1'));
  } catch (error) {
    throw new OAuthCallbackError('the OAuth state is not base64 JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new OAuthCallbackError('the OAuth state is not an object');
  const state = parsed as Record<string, unknown>;
  const loginStyle = state.loginStyle;
  if (loginStyle !== 'popup' && loginStyle !== 'redirect')
    throw new OAuthCallbackError(`Unrecognized login style: ${String(loginStyle)}`);
  if (!isSafeToken(state.credentialToken))
    throw new OAuthCallbackError('the OAuth state has no usable credentialToken');
  const redirectUrl = state.redirectUrl;
  if (redirectUrl !== undefined && redirectUrl !== null && typeof redirectUrl !== 'string')
    throw new OAuthCallbackError('the OAuth state has a redirectUrl that is not a string');
  return {
    loginStyle,
    credentialToken: state.credentialToken,
    isCordova: state.isCordova === true,
    redirectUrl: typeof redirectUrl === 'string' ? redirectUrl : undefined,
  };
}

/**
 * Encodes a state as Meteor's client does (`OAuth._stateParam`; the server's `OAuth._generateState`), for server
 * code and tests that start a login themselves.
 */
export function encodeState(state: {
  readonly loginStyle: LoginStyle;
  readonly credentialToken: string;
  readonly isCordova?: boolean;
  readonly redirectUrl?: string;
}): string {
  const json = JSON.stringify({
    loginStyle: state.loginStyle,
    credentialToken: state.credentialToken,
    isCordova: state.isCordova ?? false,
    ...(state.redirectUrl === undefined ? {} : { redirectUrl: state.redirectUrl }),
  });
  return Buffer.from(json, 'latin1').toString('base64');
}
