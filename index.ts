/**
 * pgrt's public API: register collections, publications and methods on an {@link App}, then
 * {@link createServer} with the protocols to speak.
 */

export * from './adapters/builtin.js';
export {
  type AdapterFlag,
  type AnyProtocolAdapter,
  type ConfigSections,
  defineAdapter,
  type Endpoint,
  type EndpointBase,
  type Protocol,
  type ProtocolAdapter,
  type ProtocolContext,
  type ProtocolHandle,
  type ProtocolListener,
  type ProtocolPart,
  type SectionValues,
  type SharedConfig,
} from './adapters/protocol-adapter.js';
export {
  configJsonSchema,
  configSchema,
  configSchemaFor,
  type PgrtConfig,
  type PgrtConfigInput,
} from './config/config-schema.js';
export {
  ConfigError,
  type ConfigIssue,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
} from './config/load-config.js';
export { maskSecrets } from './config/mask-secrets.js';
export {
  type AccountIdentity,
  Accounts,
  type AccountsOptions,
  type AdditionalFindUser,
  accounts,
  type BeforeExternalLogin,
  type CredentialDeriver,
  type DerivedCredential,
  type EmailDomainRule,
  type EmailToken,
  type FieldSelector,
  type FindUserOptions,
  type HookHandle,
  type LoginAttempt,
  type LoginCall,
  type LoginHandler,
  type LoginHandlerResult,
  type LoginHook,
  type LoginResult,
  type LogoutHook,
  type MeteorUserDocument,
  type NewUser,
  type OnCreateUser,
  type OnExternalLogin,
  type SendAccountEmailOptions,
  type SentEmail,
  type UserDocument,
  type ValidateLoginAttempt,
  type ValidateNewUser,
} from './core/accounts/accounts.js';
export type {
  AccountEmailKind,
  EmailMessage,
  EmailTemplate,
  EmailTemplates,
  EmailUrl,
  EmailUrls,
  EmailUser,
  SendEmail,
} from './core/accounts/emails.js';
export { type GitHubOptions, GitHubService, github } from './core/accounts/oauth/github.js';
export {
  GOOGLE_ISSUER,
  type GoogleOptions,
  google,
  googleServiceLogin,
} from './core/accounts/oauth/google.js';
export {
  type ExternalLoginResult,
  type ExternalServiceAccounts,
  OAuth,
  type OAuthOptions,
  oauth,
} from './core/accounts/oauth/oauth.js';
export {
  type OpenIdConnectOptions,
  OpenIdConnectService,
  openIdConnect,
  type ProviderTokens,
  standardServiceLogin,
} from './core/accounts/oauth/openid-connect.js';
export type { AuthorizationRequest, ExternalLogin } from './core/accounts/oauth/pending-credentials.js';
export type {
  AuthorizeParams,
  CompleteParams,
  LoginServiceConfiguration,
  OAuthService,
  ServiceLogin,
  StartedAuthorization,
} from './core/accounts/oauth/service.js';
export { encodeState, type LoginStyle, type OAuthState } from './core/accounts/oauth/state.js';
export type {
  CollectionOptions,
  MethodHandler,
  MethodOptions,
  PublicationHandler,
  PublicationOptions,
  PublishResult,
} from './core/app.js';
export { App } from './core/app.js';
export type {
  ConnectionInfo,
  Fields,
  MethodContext,
  PublicationContext,
  QueryResult,
} from './core/contexts.js';
export type { Cursor, SqlCursorOptions } from './core/cursor.js';
export {
  type Migration,
  MigrationError,
  type MigrationErrorCode,
  type MigrationSet,
  migrationSet,
  sqlMigrations,
} from './core/database/migrations.js';
export { addType as addEjsonType } from './core/ejson.js';
export {
  ClientError,
  ConfigurationError,
  NotFoundError,
  TooManyRequestsError,
  ValidationError,
  type ValidationIssue,
} from './core/errors.js';
export type { HttpRequest, HttpResponse, HttpRoute } from './core/http-route.js';
export type { Logger } from './core/logger.js';
export type { PublicationStrategy } from './core/merge-box.js';
export type { QueryOptions, Selector } from './core/query/compile.js';
export {
  RateLimiter,
  type RateLimitInput,
  type RateLimitMatcher,
  type RateLimitOptions,
  type RateLimitRule,
} from './core/rate-limit.js';
export { ServerMetrics, type ServerMetricsOptions } from './server/metrics.js';
export { createServer, type PgrtServer, type ServerOptions } from './server.js';
export type { TransportLimits } from './transports/connection-guard.js';
export type { Classified, Classifier } from './transports/frame-classifier.js';
