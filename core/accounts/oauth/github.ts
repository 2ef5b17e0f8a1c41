/**
 * The GitHub login service, compatible with Meteor's github-oauth: GitHub's OAuth 2 web flow (GitHub is not an
 * OpenID Connect provider), the code exchanged on `openid-client`'s OAuth 2 core (PKCE S256 for logins the server
 * starts), then `GET /user` and `GET /user/emails`. `serviceData` has Meteor's fields: `id`, `accessToken`,
 * `email` (the profile's, else the primary address, else ''), `username` (the login), `name`, `avatar`,
 * `company`, `blog`, `location`, `bio`, `emails`; `options.profile.name`. Logins started by Meteor's own
 * github-oauth client are accepted. GitHub Enterprise Server: `github({ url, apiUrl })`.
 */
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

/** Options of {@link github}. */
export interface GitHubOptions {
  /** Configuration written at start: `clientId`, `secret`, `loginStyle`, `scope` (default `user:email`). */
  readonly configuration?: Omit<LoginServiceConfiguration, 'service'>;
  /** The web host (default `https://github.com`). */
  readonly url?: string;
  /** The REST API (default `https://api.github.com`; Enterprise Server: `<url>/api/v3`). */
  readonly apiUrl?: string;
  /** Accept logins started by a client itself, as Meteor's github-oauth (default true). */
  readonly clientStartedLogins?: boolean;
  /** Allow `http:` URLs: development and tests only. */
  readonly allowInsecureRequests?: boolean;
}

/** GitHub's `/user/emails` entries. */
interface GitHubEmail {
  readonly email: string;
  readonly primary: boolean;
  readonly verified: boolean;
  readonly visibility: string | null;
}

/** The GitHub login service; see the module header. */
export class GitHubService implements OAuthService {
  readonly name = 'github';
  readonly configuration: Omit<LoginServiceConfiguration, 'service'> | undefined;
  readonly clientStartedLogins: boolean;
  readonly #url: string;
  readonly #apiUrl: string;
  readonly #insecure: boolean;

  constructor(options: GitHubOptions = {}) {
    this.configuration = options.configuration;
    this.clientStartedLogins = options.clientStartedLogins ?? true;
    this.#url = (options.url ?? 'https://github.com').replace(/\/+$/, '');
    this.#apiUrl = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    this.#insecure = options.allowInsecureRequests === true;
  }

  async authorize(config: LoginServiceConfiguration, params: AuthorizeParams): Promise<StartedAuthorization> {
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(this.#client(config), {
      ...config.loginUrlParameters,
      redirect_uri: params.redirectUri,
      scope: typeof config.scope === 'string' ? config.scope : 'user:email',
      state: params.state,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, codeVerifier };
  }

  async complete(config: LoginServiceConfiguration, params: CompleteParams): Promise<ServiceLogin> {
    const response = await oidc.authorizationCodeGrant(this.#client(config), params.callbackUrl, {
      expectedState: params.state,
      ...(params.started?.codeVerifier ? { pkceCodeVerifier: params.started.codeVerifier } : {}),
    });
    const accessToken = response.access_token;
    const identity = await this.#get(accessToken, '/user');
    if (typeof identity !== 'object' || identity === null || !('id' in identity))
      throw new Error('GitHub /user answered without an id');
    const user = identity as Record<string, unknown>;
    // As Meteor: a failure to list the addresses is not a failed login.
    const emails = await this.#get(accessToken, '/user/emails').catch(() => []);
    const list = Array.isArray(emails) ? (emails as GitHubEmail[]) : [];
    const primary = list.find((entry) => entry.primary);
    return {
      serviceData: {
        id: user.id,
        accessToken,
        email: (typeof user.email === 'string' && user.email) || primary?.email || '',
        username: user.login,
        name: user.name,
        avatar: user.avatar_url,
        company: user.company,
        blog: user.blog,
        location: user.location,
        bio: user.bio,
        emails: list,
      },
      options: { profile: { name: user.name } },
    };
  }

  #client(config: LoginServiceConfiguration): oidc.Configuration {
    if (!config.clientId) throw new ConfigurationError('login service github: no clientId');
    const client = new oidc.Configuration(
      {
        issuer: this.#url,
        authorization_endpoint: `${this.#url}/login/oauth/authorize`,
        token_endpoint: `${this.#url}/login/oauth/access_token`,
      },
      config.clientId,
      undefined,
      oidc.ClientSecretPost(config.secret ?? ''),
    );
    if (this.#insecure) oidc.allowInsecureRequests(client);
    return client;
  }

  async #get(accessToken: string, path: string): Promise<unknown> {
    const response = await fetch(`${this.#apiUrl}${path}`, {
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${accessToken}`,
        'user-agent': 'pgrt',
      },
    });
    if (!response.ok) throw new Error(`GitHub ${path} answered ${response.status}`);
    return await response.json();
  }
}

/** GitHub: `github({ configuration: { clientId, secret } })`. */
export function github(options: GitHubOptions = {}): GitHubService {
  return new GitHubService(options);
}
