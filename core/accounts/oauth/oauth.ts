/**
 * OAuth login, as Meteor's `oauth` + `accounts-oauth` server packages, for Meteor's client packages and any client
 * that speaks their protocol (docs/reference.md "OAuth login"):
 *
 * 1. A client starts a login with a credential token (a fresh `Random.secret()`) inside Meteor's `state`
 *    (state.ts) and sends the user to the provider — through `<prefix>/_oauth/<service>/authorize?state=…`, where
 *    the server adds PKCE and a nonce and stores them with the state (pending-credentials.ts), or, for the services
 *    that allow it (GitHub, Google: Meteor's stock clients), straight to the provider.
 * 2. The provider redirects to `<prefix>/_oauth/<service>` with `code` and `state`: the state is decoded and, for
 *    a server-started login, must equal the stored one (which is taken: one redirect per state); the code is
 *    exchanged and the identity read (service.ts); the outcome is stored as a pending credential under the
 *    credential token with a fresh credential secret; the end-of-login page (pages.ts) hands the secret to the
 *    app's window (popup) or returns to the app (redirect).
 * 3. The app calls `login({oauth: {credentialToken, credentialSecret}})`: the pending credential is taken and the
 *    user updated or created from `services.<service>` (`updateOrCreateUserFromExternalService`).
 *
 * Every step keeps its state in PostgreSQL, so each may run on a different process. Failures are logged with
 * their message only (never a provider response or token); a failed step stores the failure, so the app's
 * `login` with a null secret learns it, as in Meteor. Service configuration: service-configurations.ts.
 */
import type { App, AppPlugin, PluginHost } from '../../app.js';
import type { MethodContext } from '../../contexts.js';
import type { Database, Queryable } from '../../database/database.js';
import { ClientError, ConfigurationError } from '../../errors.js';
import type { HttpRequest, HttpResponse } from '../../http-route.js';
import type { Logger } from '../../logger.js';
import { cryptoRandom } from '../../random/random-stream.js';
import { MatchFailedError } from '../password.js';
import {
  LoginCancelledError,
  OAuthCallbackError,
  OAuthLoginFailedError,
  ServiceNotConfiguredError,
} from './errors.js';
import { endOfLoginPage, pageScript } from './pages.js';
import {
  type ExternalLogin,
  type StoredFailure,
  storeAuthorizationRequest,
  storePendingCredential,
  sweepOAuthRecords,
  takeAuthorizationRequest,
  takePendingCredential,
} from './pending-credentials.js';
import {
  isServiceName,
  type LoginServiceConfiguration,
  type OAuthService,
  type ServiceLogin,
} from './service.js';
import {
  SERVICE_CONFIGURATION_COLLECTION,
  SERVICE_CONFIGURATION_TABLE,
  ServiceConfigurations,
} from './service-configurations.js';
import { decodeState, type OAuthState } from './state.js';

/** The publication Meteor's accounts-base client subscribes to. */
export const LOGIN_SERVICE_CONFIGURATION_PUBLICATION = 'meteor.loginServiceConfiguration';

/** What a login handler resolves to (Meteor's `{type, userId}` or `{type, error}`). */
export type ExternalLoginResult =
  | { readonly type: string; readonly userId: string }
  | { readonly type: string; readonly error: unknown };

/** The part of the accounts plug-in OAuth logs users in through. */
export interface ExternalServiceAccounts {
  /** Meteor's `Accounts.registerLoginHandler(name, handler)`. */
  registerLoginHandler(
    name: string,
    handler: (
      options: Readonly<Record<string, unknown>>,
      ctx: MethodContext,
    ) => Promise<ExternalLoginResult | undefined>,
  ): void;
  /** Meteor's `Accounts.updateOrCreateUserFromExternalService`, inside the login's transaction (`db`). */
  updateOrCreateUserFromExternalService(
    serviceName: string,
    serviceData: Record<string, unknown>,
    options: Record<string, unknown>,
    db: Queryable,
  ): Promise<ExternalLoginResult>;
}

/** Options of {@link oauth}. */
export interface OAuthOptions {
  /** The login services (openIdConnect(), github(), google(), or an own {@link OAuthService}). */
  readonly services: readonly OAuthService[];
  /** The accounts plug-in: `login({oauth})` is registered on it and creates its users. */
  readonly accounts?: ExternalServiceAccounts;
  /**
   * Meteor's `ROOT_URL`: redirect URIs are `<rootUrl>/_oauth/<service>` (register them at each provider) and a
   * redirect-style login may only return under it. Default: the origin each request came to (`Host`,
   * `X-Forwarded-Proto`), which is fine behind a proxy that sets them but should be fixed in production.
   */
  readonly rootUrl?: string;
  /** How long a pending credential waits for its `login` call, ms (default 60000, as Meteor's sweep). */
  readonly pendingCredentialLifetimeMs?: number;
  /** How long a server-started login waits for the provider's redirect, ms (default 600000). */
  readonly authorizationLifetimeMs?: number;
  /** How often each process deletes stale records, ms (default 60000; 0: never). */
  readonly sweepIntervalMs?: number;
  /**
   * Refuse a redirect-style `redirectUrl` outside `rootUrl` (default true; Meteor's
   * `packages.oauth.disableCheckRedirectUrlOrigin` is false). Non-http(s) URLs are refused always.
   */
  readonly checkRedirectUrlOrigin?: boolean;
}

/** The outcome of a failed step, for the log, the page status and the stored failure. */
interface Failure {
  readonly status: number;
  readonly stored: StoredFailure;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positive(value: number | undefined, fallback: number, name: string, zeroAllowed = false): number {
  const result = value ?? fallback;
  if (!Number.isFinite(result) || result < 0 || (result === 0 && !zeroAllowed))
    throw new ConfigurationError(`oauth: ${name} must be a positive number of ms`);
  return result;
}

/** The OAuth plug-in; see the module header. */
export class OAuth implements AppPlugin {
  /** Service configurations (Meteor's `ServiceConfiguration.configurations`). */
  readonly configurations: ServiceConfigurations;
  readonly #services = new Map<string, OAuthService>();
  readonly #accounts: ExternalServiceAccounts | undefined;
  readonly #rootUrl: URL | undefined;
  /** `<prefix>/_oauth`. */
  readonly #routePrefix: string;
  readonly #credentialLifetimeMs: number;
  readonly #authorizationLifetimeMs: number;
  readonly #sweepIntervalMs: number;
  readonly #checkRedirectUrlOrigin: boolean;
  #db: Database | undefined;
  #logger: Logger | undefined;

  constructor(options: OAuthOptions) {
    for (const service of options.services) {
      if (!isServiceName(service.name))
        throw new ConfigurationError(`login service name '${service.name}' must be letters, digits, - or _`);
      if (service.name === 'password' || service.name === 'resume')
        throw new ConfigurationError(`'${service.name}' is an internal login service`);
      if (this.#services.has(service.name))
        throw new ConfigurationError(`Already registered the ${service.name} OAuth service`);
      this.#services.set(service.name, service);
    }
    this.#accounts = options.accounts;
    if (options.rootUrl !== undefined) {
      const root = new URL(options.rootUrl);
      if (root.protocol !== 'http:' && root.protocol !== 'https:')
        throw new ConfigurationError('oauth: rootUrl must be an http(s) URL');
      root.pathname = root.pathname.replace(/\/+$/, '');
      root.search = '';
      root.hash = '';
      this.#rootUrl = root;
    }
    this.#routePrefix = `${this.#rootUrl?.pathname.replace(/\/+$/, '') ?? ''}/_oauth`;
    this.#credentialLifetimeMs = positive(
      options.pendingCredentialLifetimeMs,
      60_000,
      'pendingCredentialLifetimeMs',
    );
    this.#authorizationLifetimeMs = positive(
      options.authorizationLifetimeMs,
      600_000,
      'authorizationLifetimeMs',
    );
    this.#sweepIntervalMs = positive(options.sweepIntervalMs, 60_000, 'sweepIntervalMs', true);
    this.#checkRedirectUrlOrigin = options.checkRedirectUrlOrigin ?? true;
    this.configurations = new ServiceConfigurations(() => this.db);
  }

  /** The database, once the core started. */
  get db(): Database {
    if (!this.#db) throw new ConfigurationError('oauth: the core has not started');
    return this.#db;
  }

  /** The registered service names (Meteor's `Accounts.oauth.serviceNames()`). */
  serviceNames(): string[] {
    return [...this.#services.keys()];
  }

  /**
   * Registers the tables (migration set `pgrt.oauth`), the configurations given in code, the sweep (start hook), the service configuration
   * collection and publication, the `/_oauth` route and the `oauth` login handler.
   */
  install(app: App): void {
    app.migrations('pgrt.oauth', new URL('./migrations/', import.meta.url));
    app.onStart(async (db, host) => {
      this.#db = db;
      for (const service of this.#services.values())
        if (service.configuration) await this.configurations.configure(service.name, service.configuration);
      return this.#watch(host);
    });
    app.collection(SERVICE_CONFIGURATION_COLLECTION, { table: SERVICE_CONFIGURATION_TABLE });
    if (!app.publications.has(LOGIN_SERVICE_CONFIGURATION_PUBLICATION))
      app.publish(LOGIN_SERVICE_CONFIGURATION_PUBLICATION, (ctx) => this.configurations.publish(ctx));
    app.route({ prefix: this.#routePrefix, handle: (request) => this.handleRequest(request) });
    this.#accounts?.registerLoginHandler('oauth', (options, ctx) => this.login(ctx, options));
  }

  // ---- server API ------------------------------------------------------------------------------------------

  /**
   * Sets fields of a service's configuration (Meteor's `ServiceConfiguration.configurations.upsertAsync({service},
   * {$set: config})`); `secret` is stored apart and never published. Every process uses it from the next login.
   */
  async configure(service: string, config: Omit<LoginServiceConfiguration, 'service'>): Promise<void> {
    await this.configurations.configure(service, config);
  }

  /** Removes a service's configuration; its logins then fail ("Service not configured"). */
  async removeConfiguration(service: string): Promise<boolean> {
    return await this.configurations.remove(service);
  }

  /**
   * Takes the pending credential of a login (Meteor's `OAuth.retrieveCredential`): the provider's
   * `{serviceName, serviceData, options}`, or undefined when there is none for that token and secret.
   */
  async retrieveCredential(
    credentialToken: string,
    credentialSecret: string,
  ): Promise<ExternalLogin | undefined> {
    const taken = await takePendingCredential(
      this.db,
      credentialToken,
      credentialSecret,
      this.#credentialLifetimeMs,
    );
    return taken.kind === 'login' ? taken.login : undefined;
  }

  /** Deletes stale authorization requests and pending credentials now; resolves to how many. */
  async sweep(): Promise<number> {
    return await sweepOAuthRecords(this.db, {
      requestMs: this.#authorizationLifetimeMs,
      credentialMs: this.#credentialLifetimeMs,
    });
  }

  // ---- login({oauth}) ----------------------------------------------------------------------------------------

  /**
   * The `oauth` login handler (Meteor's accounts-oauth): `{oauth: {credentialToken, credentialSecret}}` exactly
   * (else 400 "Match failed"); undefined for other logins. No matching, fresh pending credential: Meteor's
   * `LoginCancelledError` (145546287 "No matching login attempt found"). A stored failure (secret null) is
   * thrown. Otherwise the user is updated or created in `ctx`'s transaction, which also takes the credential.
   */
  async login(
    ctx: MethodContext,
    options: Record<string, unknown>,
  ): Promise<ExternalLoginResult | undefined> {
    if (!('oauth' in options) || options.oauth === undefined) return undefined;
    const request = options.oauth;
    if (!isRecord(request)) throw new MatchFailedError();
    const keys = Object.keys(request);
    const token = request.credentialToken;
    const secret = request.credentialSecret;
    if (
      keys.length !== 2 ||
      typeof token !== 'string' ||
      !(secret === null || typeof secret === 'string') ||
      !keys.includes('credentialSecret')
    )
      throw new MatchFailedError();
    const taken = await takePendingCredential(ctx, token, secret, this.#credentialLifetimeMs);
    switch (taken.kind) {
      case 'none':
        return { type: 'oauth', error: new LoginCancelledError() };
      case 'failure': {
        const { error, reason } = taken.failure;
        if (error !== undefined) throw new ClientError(error, reason);
        throw new OAuthLoginFailedError(
          'the provider step of this OAuth login failed (see the redirect log)',
        );
      }
      case 'login': {
        const { serviceName, serviceData, options: userOptions } = taken.login;
        if (!this.#services.has(serviceName))
          return {
            type: 'oauth',
            error: new LoginCancelledError(`No registered oauth service found for: ${serviceName}`),
          };
        if (!this.#accounts) throw new ConfigurationError('oauth: no accounts plug-in to log users in with');
        return await this.#accounts.updateOrCreateUserFromExternalService(
          serviceName,
          serviceData,
          userOptions,
          ctx,
        );
      }
    }
  }

  // ---- HTTP ------------------------------------------------------------------------------------------------

  /**
   * Answers `<prefix>/_oauth/…`: the page scripts, `<service>/authorize` (GET) and `<service>` (GET, or POST for
   * `response_mode=form_post`). Anything else under the prefix: 404.
   */
  async handleRequest(request: HttpRequest): Promise<HttpResponse | undefined> {
    const rest = request.path.slice(this.#routePrefix.length);
    const segments = rest.split('/').slice(1);
    const [name, action, ...extra] = segments;
    if (name === undefined || name === '' || extra.length > 0) return undefined;
    if (action === undefined) {
      const script = pageScript(name);
      if (script) return request.method === 'GET' ? script : methodNotAllowed('GET');
      if (request.method !== 'GET' && request.method !== 'POST') return methodNotAllowed('GET, POST');
      return await this.#redirected(name, request);
    }
    if (action !== 'authorize') return undefined;
    if (request.method !== 'GET') return methodNotAllowed('GET');
    return await this.#authorize(name, request);
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
      const stored = await storeAuthorizationRequest(this.db, {
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
      this.#logger?.info(
        { service: name, error: providerError.slice(0, 100) },
        'oauth: the provider refused',
      );
      if (this.#services.has(name))
        await this.db
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
      const stored = await storePendingCredential(this.db, state.credentialToken, name, {
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
      this.db,
      state.credentialToken,
      this.#authorizationLifetimeMs,
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
    const service = this.#services.get(name);
    if (!service) throw new ClientError(404, `Unexpected OAuth service ${name}`);
    const config = await this.configurations.get(name);
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
      await storePendingCredential(this.db, state.credentialToken, name, { failure: failure.stored });
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
    this.#logger?.warn({ service: name, error: summary }, 'oauth: login step failed');
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
    return `${this.#routePrefix}/`;
  }

  /** The app's root (`rootUrl`, else the request's origin), with a trailing slash. */
  #appUrl(request: HttpRequest): URL {
    if (this.#rootUrl) return new URL(`${this.#rootUrl.href.replace(/\/+$/, '')}/`);
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
    if (!this.#checkRedirectUrlOrigin) return true;
    if (target.username !== '' || target.password !== '') return false;
    const loopback = (host: string) => (host === 'localhost' ? '127.0.0.1' : host);
    const sameOrigin =
      target.protocol === appUrl.protocol &&
      target.port === appUrl.port &&
      loopback(target.hostname) === loopback(appUrl.hostname);
    return sameOrigin && `${target.pathname}/`.startsWith(appUrl.pathname);
  }

  /** Starts the configuration publication's bus watch and the sweep; returns their stop. */
  #watch(host: PluginHost): () => void {
    this.#logger = host.logger;
    const stopWatching = this.configurations.watch((handler) => host.bus.subscribe(handler), host.logger);
    const timer =
      this.#sweepIntervalMs > 0
        ? setInterval(() => {
            this.sweep().catch((error: unknown) =>
              host.logger.error({ err: error }, 'oauth: deleting stale login records failed'),
            );
          }, this.#sweepIntervalMs)
        : undefined;
    timer?.unref();
    return () => {
      stopWatching();
      clearInterval(timer);
    };
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

/** The OAuth plug-in: `app.use(oauth({ accounts, services: [github(), google()], rootUrl }))`. */
export function oauth(options: OAuthOptions): OAuth {
  return new OAuth(options);
}
