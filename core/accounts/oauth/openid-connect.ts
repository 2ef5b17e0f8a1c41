/**
 * A login service for any OpenID Connect provider (Keycloak, Auth0, Okta, Azure AD, Google, a company's IdP…),
 * on `openid-client` (panva; certified OpenID Connect relying party): the issuer's discovery document, the
 * authorization code flow with PKCE (S256) and a nonce for logins the server starts, the ID token validated
 * (signature, issuer, audience, expiry, nonce), the `iss` response parameter checked where the issuer sends it,
 * then the userinfo endpoint's claims. `serviceData.id` is the subject (`sub`).
 *
 * Stored configuration fields besides Meteor's `clientId`/`secret`/`loginStyle`: `issuer` (the issuer URL; may also
 * be given in code), `scope` (default `openid email profile`), `loginUrlParameters`.
 */
import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { ConfigurationError } from '../../errors.js';
import type {
  AuthorizeParams,
  CompleteParams,
  LoginServiceConfiguration,
  OAuthService,
  ServiceLogin,
  StartedAuthorization,
} from './service.js';

/** Options of {@link openIdConnect}. */
export interface OpenIdConnectOptions {
  /** The service name (`/_oauth/<name>`, `services.<name>`); default `oidc`. */
  readonly name?: string;
  /**
   * The issuer URL when the stored configuration has no `issuer` field (a configuration's `issuer` wins: one
   * service class serves any provider its configuration names).
   */
  readonly issuer?: string;
  /** Configuration written at start (merged over the stored one): `issuer`, `clientId`, `secret`, `loginStyle`, … */
  readonly configuration?: Omit<LoginServiceConfiguration, 'service'>;
  /**
   * Accept redirects of logins started by a client itself (no PKCE verifier, no nonce): default false, every
   * login starts at `/_oauth/<name>/authorize`.
   */
  readonly clientStartedLogins?: boolean;
  /** How the client authenticates at the token endpoint (default `client_secret_post`). */
  readonly clientAuthentication?: 'client_secret_post' | 'client_secret_basic';
  /** Read the userinfo endpoint after the token exchange when the issuer has one (default true). */
  readonly userinfo?: boolean;
  /**
   * Allow `http:` issuer and endpoint URLs: development and tests only (a provider on localhost). Default false:
   * only https.
   */
  readonly allowInsecureRequests?: boolean;
  /** Builds `{serviceData, options}` from the tokens and claims (default {@link standardServiceLogin}). */
  readonly serviceLogin?: (tokens: ProviderTokens, claims: Readonly<Record<string, unknown>>) => ServiceLogin;
}

/** What the token endpoint gave. Never logged. */
export interface ProviderTokens {
  readonly accessToken: string;
  readonly idToken: string | undefined;
  readonly refreshToken: string | undefined;
  /** Seconds, as the token endpoint said. */
  readonly expiresIn: number | undefined;
  readonly scope: string | undefined;
}

/** The OpenID standard claims copied into `serviceData` when present. */
const STANDARD_CLAIMS = [
  'email',
  'email_verified',
  'name',
  'given_name',
  'family_name',
  'preferred_username',
  'nickname',
  'picture',
  'locale',
  'zoneinfo',
] as const;

/**
 * `serviceData`: `id` (= `sub`), `accessToken`, `idToken`, `expiresAt` (ms since the epoch), `refreshToken` (only
 * when given, so a stored one is not lost), `scope` (an array, as Meteor's google), and the standard claims;
 * `options.profile.name` from `name`.
 */
export function standardServiceLogin(
  tokens: ProviderTokens,
  claims: Readonly<Record<string, unknown>>,
): ServiceLogin {
  const serviceData: Record<string, unknown> & { id: unknown } = {
    id: claims.sub,
    accessToken: tokens.accessToken,
  };
  if (tokens.idToken !== undefined) serviceData.idToken = tokens.idToken;
  if (tokens.expiresIn !== undefined) serviceData.expiresAt = Date.now() + tokens.expiresIn * 1000;
  if (tokens.refreshToken !== undefined) serviceData.refreshToken = tokens.refreshToken;
  if (tokens.scope !== undefined) serviceData.scope = tokens.scope.split(' ').filter(Boolean);
  for (const claim of STANDARD_CLAIMS) if (claims[claim] !== undefined) serviceData[claim] = claims[claim];
  return {
    serviceData,
    options: typeof claims.name === 'string' ? { profile: { name: claims.name } } : {},
  };
}

/** A generic OpenID Connect login service; see the module header. */
export class OpenIdConnectService implements OAuthService {
  readonly name: string;
  readonly configuration: Omit<LoginServiceConfiguration, 'service'> | undefined;
  readonly clientStartedLogins: boolean;
  readonly #options: OpenIdConnectOptions;
  /** Discovered configurations by issuer, client id and secret (a changed configuration discovers again). */
  readonly #discovered = new Map<string, Promise<oidc.Configuration>>();

  constructor(options: OpenIdConnectOptions = {}) {
    this.name = options.name ?? 'oidc';
    this.configuration = options.configuration;
    this.clientStartedLogins = options.clientStartedLogins ?? false;
    this.#options = options;
  }

  async authorize(config: LoginServiceConfiguration, params: AuthorizeParams): Promise<StartedAuthorization> {
    const client = await this.#client(config);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(client, {
      ...config.loginUrlParameters,
      redirect_uri: params.redirectUri,
      scope: typeof config.scope === 'string' ? config.scope : 'openid email profile',
      state: params.state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, codeVerifier, nonce };
  }

  async complete(config: LoginServiceConfiguration, params: CompleteParams): Promise<ServiceLogin> {
    const client = await this.#client(config);
    const checks: oidc.AuthorizationCodeGrantChecks = {
      expectedState: params.state,
      idTokenExpected: true,
      ...(params.started?.codeVerifier ? { pkceCodeVerifier: params.started.codeVerifier } : {}),
      ...(params.started?.nonce ? { expectedNonce: params.started.nonce } : {}),
    };
    const response = await oidc.authorizationCodeGrant(client, params.callbackUrl, checks);
    const idClaims = response.claims();
    if (!idClaims) throw new Error('the token endpoint returned no ID token');
    let claims: Record<string, unknown> = { ...idClaims };
    if ((this.#options.userinfo ?? true) && client.serverMetadata().userinfo_endpoint) {
      const info = await oidc.fetchUserInfo(client, response.access_token, idClaims.sub);
      claims = { ...claims, ...info, sub: idClaims.sub };
    }
    const tokens: ProviderTokens = {
      accessToken: response.access_token,
      idToken: response.id_token,
      refreshToken: response.refresh_token,
      expiresIn: response.expiresIn(),
      scope: response.scope,
    };
    return (this.#options.serviceLogin ?? standardServiceLogin)(tokens, claims);
  }

  /** The discovered client of `config` (cached; a failed discovery is retried at the next login). */
  #client(config: LoginServiceConfiguration): Promise<oidc.Configuration> {
    const issuer = config.issuer ?? this.#options.issuer;
    if (typeof issuer !== 'string' || issuer === '')
      throw new ConfigurationError(`login service ${this.name}: the configuration has no issuer`);
    if (!config.clientId) throw new ConfigurationError(`login service ${this.name}: no clientId`);
    const secret = config.secret ?? '';
    const key = `${issuer}\n${config.clientId}\n${createHash('sha256').update(secret).digest('base64')}`;
    let client = this.#discovered.get(key);
    if (!client) {
      const insecure = this.#options.allowInsecureRequests === true;
      const authentication =
        this.#options.clientAuthentication === 'client_secret_basic'
          ? oidc.ClientSecretBasic(secret)
          : oidc.ClientSecretPost(secret);
      client = oidc.discovery(
        new URL(issuer),
        config.clientId,
        undefined,
        authentication,
        insecure ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
      this.#discovered.set(key, client);
      client.catch(() => this.#discovered.delete(key));
    }
    return client;
  }
}

/**
 * A generic OpenID Connect login service:
 * `openIdConnect({ name: 'corp', configuration: { issuer, clientId, secret } })`.
 */
export function openIdConnect(options: OpenIdConnectOptions = {}): OpenIdConnectService {
  return new OpenIdConnectService(options);
}
