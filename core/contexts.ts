/**
 * The contexts handed to publication and method handlers: who is asking (the session's user, whichever protocol
 * they came through) and what they may do.
 */
import type { Cursor, SqlCursorOptions } from './cursor.js';
import type { Modifier } from './modifier.js';
import type { QueryOptions, Selector } from './query/compile.js';
import type { RandomGenerator } from './random/alea.js';

/** Facts about the client connection behind a session. */
export interface ConnectionInfo {
  /** The session id (DDP `session`, WAMP session id as a string). */
  readonly id: string;
  /** `ddp` or `wamp`. */
  readonly protocol: string;
  /** Client IP address (X-Forwarded-For honoured only when configured). */
  readonly clientAddress: string;
  /** HTTP headers of the upgrade request (lower-case names). */
  readonly httpHeaders: Readonly<Record<string, string | string[] | undefined>>;
}

/** Field values for the low-level publication API (EJSON values; `_id` is ignored). */
export type Fields = Record<string, unknown>;

/** A document as clients see it: its fields (NULL columns absent) and `_id`, the key value. */
export type Document = Fields & { readonly _id: string | number };

/** What a publication handler sees. Mirrors Meteor's `this` in `Meteor.publish`, without `this`. */
export interface PublicationContext {
  /** The logged-in user's id, or null. */
  readonly userId: string | null;
  readonly connection: ConnectionInfo;
  /** A live query on a registered collection. */
  find(collection: string, selector?: Selector, options?: QueryOptions): Cursor;
  /** A live custom SQL query, re-run and diffed when `options.tables` change. Rows must include the key column. */
  sql(collection: string, text: string, params?: readonly unknown[], options?: SqlCursorOptions): Cursor;
  /** Low-level API: publish a document (id: the document's key value). */
  added(collection: string, id: string | number, fields: Fields): void;
  /** Low-level API: change fields; a field set to `undefined` is cleared. */
  changed(collection: string, id: string | number, fields: Fields): void;
  /** Low-level API: withdraw a document. */
  removed(collection: string, id: string | number): void;
  /** Low-level API: initial data sent. Ignored for universal publications and after the first call. */
  ready(): void;
  /** Stops the subscription with an error (the client is told it stopped, with the error). */
  error(error: unknown): void;
  /** Stops the subscription (the client is told it stopped). */
  stop(): void;
  /** Registers a callback run once when the subscription stops for any reason. */
  onStop(callback: () => void | Promise<void>): void;
}

/** Result of {@link MethodContext.query}. */
export interface QueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

/** What a method handler sees. */
export interface MethodContext {
  /** The logged-in user's id, or null. */
  readonly userId: string | null;
  readonly connection: ConnectionInfo;
  /** The method's name. */
  readonly name: string;
  /** Runs SQL inside the method's transaction (or autocommit when the method has `transaction: false`). */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * A new document id for `collection`, drawn from the method's seeded random stream, so it equals the id the
   * Meteor client's stub generated for the same insert (DDP `randomSeed`).
   */
  newId(collection: string): string;
  /** The method's named random stream (Meteor's `DDP.randomStream(name)`). */
  randomStream(name: string): RandomGenerator;
  /** Lets the session's next message start before this method finishes (DDP in-order processing). */
  unblock(): void;
  /**
   * Changes the session's user (Meteor's `this.setUserId`; login and logout call it). `userId` reflects the new
   * value at once; the session applies it when the method has succeeded and its transaction committed, before
   * `result`: every subscription reruns for the new user and the client receives only the differences
   * (core/session.ts). A method that fails leaves the session's user unchanged.
   */
  setUserId(userId: string | null): void;
  /** Inserts a document into a registered collection's table; returns its key. Missing key: `newId`. */
  insert(collection: string, document: Fields): Promise<string | number>;
  /** Updates fields of one document by key; `undefined` values become NULL. Returns true if it existed. */
  update(collection: string, id: string | number, fields: Fields): Promise<boolean>;
  /** Deletes one document by key. Returns true if it existed. */
  remove(collection: string, id: string | number): Promise<boolean>;
  /**
   * Reads one document by key inside the method's transaction, or undefined. `forUpdate` locks its row until the
   * transaction ends (`SELECT … FOR UPDATE`), so a check on it holds when the method then writes it.
   */
  findOne(
    collection: string,
    id: string | number,
    options?: { readonly forUpdate?: boolean },
  ): Promise<Document | undefined>;
  /**
   * Applies a Mongo-style modifier (`$set`, `$unset`, `$inc` on top-level fields; core/modifier.ts) to one
   * document by key. Returns true if it existed.
   */
  modify(collection: string, id: string | number, modifier: Modifier): Promise<boolean>;
}
