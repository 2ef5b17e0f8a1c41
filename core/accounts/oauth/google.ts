/**
 * The Google login service, compatible with Meteor's google-oauth: an OpenID Connect service (openid-connect.ts)
 * for the issuer `https://accounts.google.com`, named `google`, whose `serviceData` has the fields Meteor's stores
 * (`id`, `email`, `verified_email`, `name`, `given_name`, `family_name`, `picture`, `locale`, `accessToken`,
 * `idToken`, `expiresAt`, `scope`, `refreshToken` when Google sends one). Logins started by Meteor's own
 * google-oauth client (which builds the Google URL in the browser) are accepted, as are server-started ones (PKCE
 * and nonce). Offline access: `loginUrlParameters: { access_type: 'offline' }` in the configuration, as in Meteor.
 */
import {
  type OpenIdConnectOptions,
  OpenIdConnectService,
  type ProviderTokens,
  standardServiceLogin,
} from './openid-connect.js';
import type { ServiceLogin } from './service.js';

/** Google's issuer. */
export const GOOGLE_ISSUER = 'https://accounts.google.com';

/** Meteor's `serviceData` for Google from the standard OpenID one. */
export function googleServiceLogin(
  tokens: ProviderTokens,
  claims: Readonly<Record<string, unknown>>,
): ServiceLogin {
  const standard = standardServiceLogin(tokens, claims);
  const {
    email_verified: verified,
    preferred_username: _u,
    nickname: _n,
    zoneinfo: _z,
    ...rest
  } = standard.serviceData;
  return {
    serviceData: { ...rest, ...(verified === undefined ? {} : { verified_email: verified }) },
    options: standard.options,
  };
}

/** Options of {@link google}: those of {@link openIdConnect} but the name. */
export type GoogleOptions = Omit<OpenIdConnectOptions, 'name'>;

/**
 * Google: `google({ configuration: { clientId, secret } })` (or a configuration stored with `configure`). The
 * issuer is Google's unless the configuration names another (`issuer`, e.g. a test provider).
 */
export function google(options: GoogleOptions = {}): OpenIdConnectService {
  return new OpenIdConnectService({
    clientStartedLogins: true,
    serviceLogin: googleServiceLogin,
    issuer: GOOGLE_ISSUER,
    ...options,
    name: 'google',
  });
}
