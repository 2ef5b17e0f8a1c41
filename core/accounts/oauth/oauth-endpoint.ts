/**
 * The HTTP side of OAuth login (oauth.ts module header, steps 1 and 2): `<prefix>/_oauth/<service>/authorize`
 * starts a login on the server, `<prefix>/_oauth/<service>` takes the provider's redirect, and the end-of-login
 * page scripts. State lives in PostgreSQL (pending-credentials.ts), so each request may reach any process.
 */
import type { Database } from '../../database/database.js';
import { ClientError } from '../../errors.js';
import type { HttpRequest, HttpResponse } from '../../http-route.js';
import type { Logger } from '../../logger.js';
import { cryptoRandom } from '../../random/random-stream.js';
import type { RateLimiter } from '../../rate-limit.js';
import { OAuthCallbackError, ServiceNotConfiguredError } from './errors.js';
import { endOfLoginPage, pageScript } from './pages.js';
import {
  type StoredFailure,
  storeAuthorizationRequest,
  storePendingCredential,
  takeAuthorizationRequest,
} from './pending-credentials.js';
import type { LoginServiceConfiguration, OAuthService, ServiceLogin } from './service.js';
import type { ServiceConfigurations } from './service-configurations.js';
import { decodeState, type OAuthState } from './state.js';

/** What the endpoint needs of the plug-in. */
export interface OAuthEndpointOptions {
  readonly services: ReadonlyMap<string, OAuthService>;
  readonly configurations: ServiceConfigurations;
  /** The database, once the core started. */
  readonly db: () => Database;
  readonly logger: () => Logger | undefined;
  /** `rootUrl` without a trailing slash, or undefined (then each request's origin). */
  readonly rootUrl: URL | undefined;
  /** `<prefix>/_oauth`. */
  readonly routePrefix: string;
  readonly authorizationLifetimeMs: number;
  readonly checkRedirectUrlOrigin: boolean;
  /** The per-address limit of authorize and redirect requests, or undefined when off. */
  readonly rateLimiter: () => RateLimiter | undefined;
}

/** The names the two requests that store state are counted under (`RateLimitInput.name`). */
export const AUTHORIZE_REQUEST = 'oauth.authorize';
export const REDIRECT_REQUEST = 'oauth.redirect';

/** The outcome of a failed step, for the log, the page status and the stored failure. */
interface Failure {
  readonly status: number;
  readonly stored: StoredFailure;
}

/** Answers the `/_oauth` route; see the module header and docs/reference.md "OAuth login". */
export class OAuthEndpoint {
  readonly #options: OAuthEndpointOptions;

  constructor(options: OAuthEndpointOptions) {
    this.#options = options;
  }

  #db(): Database {
    return this.#options.db();
  }

  /**
   * Answers `<prefix>/_oauth/…`: the page scripts, `<service>/authorize` (GET) and `<service>` (GET, or POST for
   * `response_mode=form_post`). Anything else under the prefix: 404.
   */
  async handle(request: HttpRequest): Promise<HttpResponse | undefined> {
    const rest = request.path.slice(this.#options.routePrefix.length);
    const segments = rest.split('/').slice(1);
    const [name, action, ...extra] = segments;
    if (name === undefined || name === '' || extra.length > 0) return undefined;
    if (action === undefined) {
      const script = pageScript(name);
      if (script) return request.method === 'GET' ? script : methodNotAllowed('GET');
      if (request.method !== 'GET' && request.method !== 'POST') return methodNotAllowed('GET, POST');
      return this.#limited(REDIRECT_REQUEST, request) ?? (await this.#redirected(name, request));
    }
    if (action !== 'authorize') return undefined;
    if (request.method !== 'GET') return methodNotAllowed('GET');
    return this.#limited(AUTHORIZE_REQUEST, request) ?? (await this.#authorize(name, request));
  }

  /**
   * Counts a request that may write a row (an authorization request, a pending credential or a stored failure)
   * against its client address; past the budget, the 429 to answer instead, before anything is decoded or stored.
   */
  #limited(kind: string, request: HttpRequest): HttpResponse | undefined {
    const refused = this.#options.rateLimiter()?.check({
      type: 'http',
      name: kind,
      userId: null,
      connectionId: '',
      clientAddress: request.clientAddress,
    });
    if (!refused) return undefined;
    this.#options.logger()?.debug({ address: request.clientAddress, kind }, 'oauth: rate limited');
    return {
      status: 429,
      headers: {
        'retry-after': String(Math.ceil(refused.timeToResetMs / 1000)),
        'cache-control': 'no-store',
      },
      body: 'Too many requests\n',
    };
  }

  /** `GET <prefix>/_oauth/<service>/authorize?state=…`: a server-started login (PKCE, nonce) → 302 to the provider. */
  async #authorize(name: string, request: HttpRequest): Promise<HttpResponse> {
    const decoded = this.#decodeRequestState(request.query.get('state'), name, request);
    if ('page' in decoded) return decoded.page;
    const { state, raw, redirectUrl } = decoded;
    try {
      const { service, config } = await this.#configured(name);
      const redirectUri = this.#redirectUri(name, request);
      const started = await service.authorize(config, { redirectUri, state: raw });
      const stored = await storeAuthorizationRequest(this.#db(), {
        credentialToken: state.credentialToken,
        service: name,
        state: raw,
        codeVerifier: started.codeVerifier,
        nonce: started.nonce,
        redirectUri,
      });
      if (!stored) throw new OAuthCallbackError('this credential token has already started a login');
      return {
        status: 302,
        headers: {
          location: started.url.href,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        },
      };
    } catch (error) {
      return await this.#failed(name, state, redirectUrl, error);
    }
  }

  /** `<prefix>/_oauth/<service>?code&state`: the provider's redirect; see the module header. */
  async #redirected(name: string, request: HttpRequest): Promise<HttpResponse> {
    const params = request.method === 'POST' ? request.form : request.query;
    const decoded = this.#decodeRequestState(params.get('state'), name, request);
    if ('page' in decoded) return decoded.page;
    const { state, raw, redirectUrl } = decoded;
    const providerError = params.get('error');
    if (providerError !== null) {
      // The user declined (or the provider refused): nothing is stored, so the app's login is "cancelled".
      this.#options
        .logger()
        ?.info({ service: name, error: providerError.slice(0, 100) }, 'oauth: the provider refused');
      if (this.#options.services.has(name))
        await this.#db()
          .query('DELETE FROM pgrt.oauth_requests WHERE credential_token = $1 AND service = $2', [
            state.credentialToken,
            name,
          ])
          .catch((error: unknown) => this.#logFailure(name, error));
      return this.#page(state, redirectUrl);
    }
    try {
      const login = await this.#completeLogin(name, state, raw, params, request);
      const secret = cryptoRandom.secret();
      const stored = await storePendingCredential(this.#db(), state.credentialToken, name, {
        login: { serviceName: name, serviceData: login.serviceData, options: login.options },
        secret,
      });
      if (!stored)
        throw new OAuthCallbackError('a login outcome is already stored for this credential token');
      return this.#page(state, redirectUrl, { token: state.credentialToken, secret });
    } catch (error) {
      return await this.#failed(name, state, redirectUrl, error);
    }
  }

  /** Checks the redirect against its server-started login (if any), then lets the service finish it. */
  async #completeLogin(
    name: string,
    state: OAuthState,
    raw: string,
    params: URLSearchParams,
    request: HttpRequest,
  ): Promise<ServiceLogin> {
    const { service, config } = await this.#configured(name);
    const started = await takeAuthorizationRequest(
      this.#db(),
      state.credentialToken,
      this.#options.authorizationLifetimeMs,
    );
    if (started) {
      if (started.service !== name || started.state !== raw)
        throw new OAuthCallbackError('the state differs from the one its login started with');
    } else if (!service.clientStartedLogins) {
      throw new OAuthCallbackError('no login was started with this state (unknown, expired or already used)');
    }
    const redirectUri = started?.redirectUri ?? this.#redirectUri(name, request);
    const callbackUrl = new URL(redirectUri);
    for (const [key, value] of params) callbackUrl.searchParams.append(key, key === 'state' ? raw : value);
    return await service.complete(config, { callbackUrl, redirectUri, state: raw, started });
  }

  async #configured(name: string): Promise<{ service: OAuthService; config: LoginServiceConfiguration }> {
    const service = this.#options.services.get(name);
    if (!service) throw new ClientError(404, `Unexpected OAuth service ${name}`);
    const config = await this.#options.configurations.get(name);
    if (!config) throw new ServiceNotConfiguredError(name);
    return { service, config };
  }

  /**
   * Decodes the request's state and checks a redirect-style `redirectUrl`; on failure, the page to answer with
   * (nothing is stored: the state's credential token is not to be trusted).
   */
  #decodeRequestState(
    param: string | null,
    name: string,
    request: HttpRequest,
  ):
    | { readonly state: OAuthState; readonly raw: string; readonly redirectUrl: string | undefined }
    | { readonly page: HttpResponse } {
    let state: OAuthState;
    try {
      state = decodeState(param);
    } catch (error) {
      this.#logFailure(name, error);
      return {
        page: endOfLoginPage({ loginStyle: 'popup', isCordova: false, status: 400 }, this.#scriptBase()),
      };
    }
    const raw = (param ?? '').replace(/ /g, '+');
    if (state.loginStyle !== 'redirect') return { state, raw, redirectUrl: undefined };
    const appUrl = this.#appUrl(request);
    const redirectUrl = state.redirectUrl;
    if (redirectUrl !== undefined && this.#redirectAllowed(redirectUrl, appUrl))
      return { state, raw, redirectUrl };
    this.#logFailure(
      name,
      new OAuthCallbackError(
        `redirectUrl (${String(redirectUrl)}) is not on the same host as the app (${appUrl})`,
      ),
    );
    // As Meteor: back to the app's root, without credentials.
    return {
      page: endOfLoginPage(
        { loginStyle: 'redirect', redirectUrl: appUrl.href, isCordova: state.isCordova, status: 400 },
        this.#scriptBase(),
      ),
    };
  }

  /** Logs a failed step, stores it for the state's credential token (first outcome wins), answers the page. */
  async #failed(
    name: string,
    state: OAuthState,
    redirectUrl: string | undefined,
    error: unknown,
  ): Promise<HttpResponse> {
    const failure = this.#logFailure(name, error);
    try {
      await storePendingCredential(this.#db(), state.credentialToken, name, { failure: failure.stored });
    } catch (storeError) {
      this.#logFailure(name, storeError);
    }
    return this.#page(state, redirectUrl, undefined, failure.status);
  }

  /** Logs a failure by its class and message only: provider responses and tokens never reach the log. */
  #logFailure(name: string, error: unknown): Failure {
    const failure = classify(error);
    const summary =
      error instanceof Error
        ? { name: error.name, message: error.message, code: (error as { code?: unknown }).code }
        : { message: String(error) };
    this.#options.logger()?.warn({ service: name, error: summary }, 'oauth: login step failed');
    return failure;
  }

  #page(
    state: OAuthState,
    redirectUrl: string | undefined,
    credentials?: { readonly token: string; readonly secret: string },
    status?: number,
  ): HttpResponse {
    return endOfLoginPage(
      {
        loginStyle: state.loginStyle,
        isCordova: state.isCordova,
        ...(credentials ? { credentials } : {}),
        ...(redirectUrl === undefined ? {} : { redirectUrl }),
        ...(status === undefined ? {} : { status }),
      },
      this.#scriptBase(),
    );
  }

  #scriptBase(): string {
    return `${this.#options.routePrefix}/`;
  }

  /** The app's root (`rootUrl`, else the request's origin), with a trailing slash. */
  #appUrl(request: HttpRequest): URL {
    if (this.#options.rootUrl) return new URL(`${this.#options.rootUrl.href.replace(/\/+$/, '')}/`);
    const host = request.headers.host;
    return new URL(`${request.protocol}://${typeof host === 'string' ? host : 'localhost'}/`);
  }

  /** `<rootUrl>/_oauth/<service>`: the redirect URI registered at the provider. */
  #redirectUri(name: string, request: HttpRequest): string {
    return new URL(`_oauth/${name}`, this.#appUrl(request)).href;
  }

  /** Meteor's `_checkRedirectUrlOrigin`, on parsed URLs: same origin as the app, under its path. */
  #redirectAllowed(redirectUrl: string, appUrl: URL): boolean {
    let target: URL;
    try {
      target = new URL(redirectUrl);
    } catch {
      return false;
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return false;
    if (!this.#options.checkRedirectUrlOrigin) return true;
    if (target.username !== '' || target.password !== '') return false;
    const loopback = (host: string) => (host === 'localhost' ? '127.0.0.1' : host);
    const sameOrigin =
      target.protocol === appUrl.protocol &&
      target.port === appUrl.port &&
      loopback(target.hostname) === loopback(appUrl.hostname);
    return sameOrigin && `${target.pathname}/`.startsWith(appUrl.pathname);
  }
}

/** How a failed step is answered and stored. */
function classify(error: unknown): Failure {
  if (error instanceof ClientError)
    return {
      status: error.error === 404 ? 404 : 400,
      stored: { error: error.error, reason: error.reason },
    };
  if (error instanceof OAuthCallbackError)
    return { status: 400, stored: { error: undefined, reason: undefined } };
  if (error instanceof ServiceNotConfiguredError)
    return { status: 404, stored: { error: undefined, reason: undefined } };
  // The provider or the network failed (code exchange, ID token check, userinfo).
  return { status: 502, stored: { error: undefined, reason: undefined } };
}

function methodNotAllowed(allow: string): HttpResponse {
  return { status: 405, headers: { allow }, body: 'Method not allowed\n' };
}
