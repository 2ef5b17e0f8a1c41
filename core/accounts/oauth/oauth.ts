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
 * `login` with a null secret learns it, as in Meteor. Steps 1 and 2 (HTTP): oauth-endpoint.ts; service
 * configuration: service-configurations.ts.
 */
import type { App, AppPlugin, PluginHost } from '../../app.js';
import type { MethodContext } from '../../contexts.js';
import type { Database, Queryable } from '../../database/database.js';
import { ClientError, ConfigurationError } from '../../errors.js';
import type { HttpRequest, HttpResponse } from '../../http-route.js';
import type { Logger } from '../../logger.js';
import { type RateLimitBudget, RateLimiter } from '../../rate-limit.js';
import { MatchFailedError } from '../password.js';
import { LoginCancelledError, OAuthLoginFailedError } from './errors.js';
import { AUTHORIZE_REQUEST, OAuthEndpoint, REDIRECT_REQUEST } from './oauth-endpoint.js';
import { type ExternalLogin, sweepOAuthRecords, takePendingCredential } from './pending-credentials.js';
import { isServiceName, type LoginServiceConfiguration, type OAuthService } from './service.js';
import {
  SERVICE_CONFIGURATION_COLLECTION,
  SERVICE_CONFIGURATION_TABLE,
  ServiceConfigurations,
} from './service-configurations.js';

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
  /**
   * Requests per client address (as the server's `forwardedCount` computes it) to `<service>/authorize` and,
   * counted apart, to the provider's redirect `<service>`: each may write a row, so each is limited; past it, 429
   * with `Retry-After`. Default 30 per 60000 ms; false removes it, and so does a core with `rateLimits: false`.
   * Counted per process.
   */
  readonly rateLimit?: false | RateLimitBudget;
}

/** The default of {@link OAuthOptions.rateLimit}: 30 requests of each kind per minute per client address. */
export const DEFAULT_OAUTH_RATE_LIMIT: RateLimitBudget = { numRequests: 30, intervalMs: 60_000 };

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
  readonly #endpoint: OAuthEndpoint;
  readonly #rateLimiter: RateLimiter | undefined;
  #db: Database | undefined;
  #logger: Logger | undefined;
  /** False once the core started with `rateLimits: false`. */
  #rateLimited = true;

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
    this.#rateLimiter = requestLimiter(options.rateLimit ?? DEFAULT_OAUTH_RATE_LIMIT);
    this.configurations = new ServiceConfigurations(() => this.db);
    this.#endpoint = new OAuthEndpoint({
      services: this.#services,
      configurations: this.configurations,
      db: () => this.db,
      logger: () => this.#logger,
      rootUrl: this.#rootUrl,
      routePrefix: this.#routePrefix,
      authorizationLifetimeMs: this.#authorizationLifetimeMs,
      checkRedirectUrlOrigin: this.#checkRedirectUrlOrigin,
      rateLimiter: () => (this.#rateLimited ? this.#rateLimiter : undefined),
    });
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
   * Registers the tables (migration set `pgrt.oauth`), the configurations given in code, the sweep (start hook),
   * the service configuration collection and publication, the `/_oauth` route and the `oauth` login handler.
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
   * Answers `<prefix>/_oauth/…` (oauth-endpoint.ts): the page scripts, `<service>/authorize` (GET) and `<service>`
   * (GET, or POST for `response_mode=form_post`). Anything else under the prefix: 404.
   */
  async handleRequest(request: HttpRequest): Promise<HttpResponse | undefined> {
    return await this.#endpoint.handle(request);
  }

  /** Starts the configuration publication's bus watch and the sweep; returns their stop. */
  #watch(host: PluginHost): () => void {
    this.#logger = host.logger;
    this.#rateLimited = host.rateLimited;
    const stopWatching = this.configurations.watch((handler) => {
      const unsubscribe = host.bus.subscribe(handler);
      // A bus that filters tables (NATS) must carry the configurations' changes to every process.
      const watch = host.bus.watch?.([SERVICE_CONFIGURATION_TABLE]);
      return () => {
        unsubscribe();
        watch?.release();
      };
    }, host.logger);
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

/** {@link OAuthOptions.rateLimit} as a limiter: one counter per request kind and client address. */
function requestLimiter(budget: false | RateLimitBudget): RateLimiter | undefined {
  if (budget === false) return undefined;
  const limiter = new RateLimiter({ accounts: false, perConnection: false });
  try {
    limiter.addRule(
      {
        type: 'http',
        name: (name) => name === AUTHORIZE_REQUEST || name === REDIRECT_REQUEST,
        clientAddress: () => true,
      },
      budget.numRequests,
      budget.intervalMs,
    );
  } catch (error) {
    throw new ConfigurationError('oauth: rateLimit needs numRequests ≥ 0 and intervalMs > 0', {
      cause: error,
    });
  }
  return limiter;
}

/** The OAuth plug-in: `app.use(oauth({ accounts, services: [github(), google()], rootUrl }))`. */
export function oauth(options: OAuthOptions): OAuth {
  return new OAuth(options);
}
