/**
 * What a login service is to the OAuth plug-in (Meteor's `OAuth.registerService(name, 2, null, handler)`): a name
 * (the `<service>` of `/_oauth/<service>` and of `services.<service>` on the user), how to send the user to the
 * provider, and how to turn the provider's redirect into Meteor's `{serviceData, options}`. Implementations:
 * openid-connect.ts (any OpenID Connect issuer; Google is a preset of it) and github.ts.
 */
import type { AuthorizationRequest } from './pending-credentials.js';

/**
 * A service's configuration as stored (Meteor's `ServiceConfiguration.configurations` document): `clientId`,
 * `secret`, `loginStyle` and any service-specific fields (`issuer`, `loginUrlParameters`, …). Everything but
 * `secret` is published to clients.
 */
export interface LoginServiceConfiguration {
  readonly service: string;
  readonly clientId?: string;
  /** Never published, never in a captured table. */
  readonly secret?: string;
  /** The login style clients use unless they ask for another (Meteor's default: `popup`). */
  readonly loginStyle?: 'popup' | 'redirect';
  /** Extra parameters of the provider's authorization URL (Meteor's google `loginUrlParameters`). */
  readonly loginUrlParameters?: Readonly<Record<string, string>>;
  readonly [field: string]: unknown;
}

/** Where the provider sends the user back, and the state to echo. */
export interface AuthorizeParams {
  /** `<rootUrl>/_oauth/<service>`: must be registered at the provider. */
  readonly redirectUri: string;
  /** Meteor's base64 JSON state (state.ts), sent unchanged. */
  readonly state: string;
}

/** A login the server starts: the provider URL and the secrets its redirect is checked with. */
export interface StartedAuthorization {
  readonly url: URL;
  /** PKCE verifier (RFC 7636), kept server-side. */
  readonly codeVerifier?: string;
  /** OpenID Connect nonce, checked in the ID token. */
  readonly nonce?: string;
}

/** The provider's redirect, for {@link OAuthService.complete}. */
export interface CompleteParams {
  /** The redirect as received: `redirectUri` with the provider's parameters (`code`, `state`, `iss`, …). */
  readonly callbackUrl: URL;
  readonly redirectUri: string;
  /** The state as received (already decoded and, for a server-started login, equal to the one sent). */
  readonly state: string;
  /** The server-started login this redirect completes; undefined for a login a client started itself. */
  readonly started: AuthorizationRequest | undefined;
}

/** Meteor's OAuth handler result: `serviceData` (must have `id`) goes to `services.<service>`. */
export interface ServiceLogin {
  readonly serviceData: Record<string, unknown> & { readonly id: unknown };
  /** Passed to `updateOrCreateUserFromExternalService` (e.g. `{profile: {name}}`). */
  readonly options: Record<string, unknown>;
}

/** A login service. */
export interface OAuthService {
  readonly name: string;
  /**
   * Configuration written at start when given in code (Meteor's `settings.packages['service-configuration']`):
   * merged over the stored row, field by field.
   */
  readonly configuration: Omit<LoginServiceConfiguration, 'service'> | undefined;
  /**
   * Whether a redirect for a login no server start was stored for is accepted: Meteor's stock client packages
   * (github-oauth, google-oauth) build the provider URL in the browser, so there is no PKCE verifier or nonce;
   * the provider's single-use code and the registered redirect URI are what protects them. False: every login
   * must start at `/_oauth/<service>/authorize`.
   */
  readonly clientStartedLogins: boolean;
  /** The provider URL of a server-started login (with PKCE and nonce where the service uses them). */
  authorize(config: LoginServiceConfiguration, params: AuthorizeParams): Promise<StartedAuthorization>;
  /** Exchanges the redirect's code and reads the user's identity. Rejects on any failure. */
  complete(config: LoginServiceConfiguration, params: CompleteParams): Promise<ServiceLogin>;
}

/** A service name usable in a URL path and a jsonb key: letters, digits, `-`, `_` (Meteor's are like `github`). */
export function isServiceName(name: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name);
}
