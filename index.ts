/**
 * pgrt's public API: register collections, publications and methods on an {@link App}, then
 * {@link createServer} with the protocols to speak.
 */

export type { DdpOptions } from './adapters/ddp/ddp-protocol.js';
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
export { addType as addEjsonType } from './core/ejson.js';
export {
  ClientError,
  ConfigurationError,
  NotFoundError,
  TooManyRequestsError,
  ValidationError,
  type ValidationIssue,
} from './core/errors.js';
export type { Logger } from './core/logger.js';
export type { PublicationStrategy } from './core/merge-box.js';
export type { QueryOptions, Selector } from './core/query/compile.js';
export { createServer, ddp, type PgrtServer, type Protocol, type ServerOptions } from './server.js';
