/**
 * Meteor's server helpers for users (accounts-password/password_server.js `setUsername`, `addEmailAsync`,
 * `removeEmail`, `findUserByUsername`, `findUserByEmail`; accounts-base/accounts_server.js
 * `updateOrCreateUserFromExternalService` with its `beforeExternalLogin`, `onExternalLogin` and
 * `setAdditionalFindUserOnExternalLogin` hooks), with their error strings. Every write goes through the same
 * hygiene (hygiene.ts) and uniqueness rules as `createUser`.
 */
import type { Queryable } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import type { AccountErrors } from './errors.js';
import { cleanEmail, cleanUsername } from './hygiene.js';
import type { LoginHandlerResult } from './login-pipeline.js';
import type { UserCreation } from './user-creation.js';
import { type FieldSelector, project, type UserDocument, type UserDocuments } from './user-documents.js';
import { EMAILS_ARRAY, type UserStore } from './user-store.js';

/** Meteor's `beforeExternalLogin(serviceName, serviceData, user)`: falsy refuses (403 "Login forbidden"). */
export type BeforeExternalLogin = (
  service: string,
  serviceData: Readonly<Record<string, unknown>>,
  user: UserDocument | undefined,
) => unknown;
/** Meteor's `onExternalLogin(options, user)`: resolves the fields to set (or, for a new user, `onCreateUser`'s options). */
export type OnExternalLogin = (
  options: Readonly<Record<string, unknown>>,
  user: UserDocument | undefined,
) => Record<string, unknown> | Promise<Record<string, unknown>>;
/** Meteor's `setAdditionalFindUserOnExternalLogin`: finds the user when no one has that service id yet. */
export type AdditionalFindUser = (details: {
  readonly serviceName: string;
  readonly serviceData: Readonly<Record<string, unknown>>;
  readonly options: Readonly<Record<string, unknown>>;
}) => UserDocument | undefined | Promise<UserDocument | undefined>;

/** Options of the `findUserBy…` helpers. */
export interface FindUserOptions {
  /** A top-level projection; default: `defaultFieldSelector`. */
  readonly fields?: FieldSelector;
}

function nonEmptyString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '')
    throw new ClientError(400, 'Match failed', undefined, { cause: what });
  return value;
}

/** The server helpers of one accounts plug-in. */
export class UserHelpers {
  #beforeExternalLogin: BeforeExternalLogin | undefined;
  #onExternalLogin: OnExternalLogin | undefined;
  #additionalFind: AdditionalFindUser | undefined;

  constructor(
    private readonly users: UserStore,
    private readonly documents: UserDocuments,
    private readonly creation: UserCreation,
    private readonly errors: AccountErrors,
  ) {}

  set beforeExternalLogin(fn: BeforeExternalLogin) {
    if (this.#beforeExternalLogin) throw new ConfigurationError('Can only call beforeExternalLogin once');
    this.#beforeExternalLogin = fn;
  }
  set onExternalLogin(fn: OnExternalLogin) {
    if (this.#onExternalLogin) throw new ConfigurationError('Can only call onExternalLogin once');
    this.#onExternalLogin = fn;
  }
  set additionalFindUserOnExternalLogin(fn: AdditionalFindUser) {
    if (this.#additionalFind)
      throw new ConfigurationError('Can only call setAdditionalFindUserOnExternalLogin once');
    this.#additionalFind = fn;
  }

  /** Meteor's `findUserByUsername`: the user document, or null. */
  async findUserByUsername(
    db: Queryable,
    username: string,
    options: FindUserOptions = {},
  ): Promise<UserDocument | null> {
    const user = await this.users.find(db, { username: nonEmptyString(username, 'username') });
    return user ? await this.#document(db, user.id, options) : null;
  }

  /** Meteor's `findUserByEmail`: the user document, or null. */
  async findUserByEmail(
    db: Queryable,
    email: string,
    options: FindUserOptions = {},
  ): Promise<UserDocument | null> {
    const user = await this.users.find(db, { email: nonEmptyString(email, 'email') });
    return user ? await this.#document(db, user.id, options) : null;
  }

  /** The user document of `userId`, or null. */
  async findUserById(
    db: Queryable,
    userId: string,
    options: FindUserOptions = {},
  ): Promise<UserDocument | null> {
    return await this.#document(db, nonEmptyString(userId, 'userId'), options);
  }

  /**
   * Meteor's `setUsername(userId, newUsername)`: unknown user: the credentials 403 ("User not found"); a name
   * another user has, or a look-alike of it (user-store.ts `usernameTaken`): "Username already exists." (ambiguous
   * by default).
   */
  async setUsername(db: Queryable, userId: string, newUsername: string): Promise<void> {
    nonEmptyString(userId, 'userId');
    const username = cleanUsername(nonEmptyString(newUsername, 'newUsername'));
    const user = await this.users.find(db, { id: userId });
    if (!user) throw this.errors.credentials('User not found');
    if (await this.users.usernameTaken(db, username, userId))
      throw this.errors.credentials('Username already exists.');
    try {
      await db.query('UPDATE pgrt.users SET username = $2 WHERE id = $1', [userId, username]);
    } catch (error) {
      if ((error as { code?: string }).code === '23505')
        throw this.errors.credentials('Username already exists.', error);
      throw error;
    }
  }

  /**
   * Meteor's `addEmailAsync(userId, newEmail, verified = false)`: an address the user has in another case is
   * replaced; one another user has: "Email already exists." (ambiguous by default); unknown user: 403 "User not
   * found".
   */
  async addEmail(db: Queryable, userId: string, newEmail: string, verified = false): Promise<void> {
    nonEmptyString(userId, 'userId');
    const email = cleanEmail(nonEmptyString(newEmail, 'newEmail'));
    if (typeof verified !== 'boolean') throw new ClientError(400, 'Match failed');
    const found = await db.query('SELECT 1 FROM pgrt.users WHERE id = $1 FOR UPDATE', [userId]);
    if (found.rowCount === 0) throw new ClientError(403, 'User not found');
    const entry = JSON.stringify({ address: email, verified });
    try {
      // Own addresses equal case-insensitively are replaced; otherwise the address is appended.
      await db.query(
        `UPDATE pgrt.users u
            SET emails = coalesce((SELECT jsonb_agg(CASE WHEN lower(e->>'address') = lower($2) THEN $3::jsonb ELSE e END
                                                    ORDER BY i)
                                     FROM jsonb_array_elements(${EMAILS_ARRAY}) WITH ORDINALITY AS x (e, i)), '[]'::jsonb)
                         || CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(${EMAILS_ARRAY}) e
                                               WHERE lower(e->>'address') = lower($2))
                                 THEN '[]'::jsonb ELSE jsonb_build_array($3::jsonb) END
          WHERE u.id = $1`,
        [userId, email, entry],
      );
    } catch (error) {
      if ((error as { code?: string }).code === '23505')
        throw this.errors.credentials('Email already exists.', error);
      throw error;
    }
  }

  /** Meteor's `removeEmail(userId, email)`: removes that exact address; unknown user: 403 "User not found". */
  async removeEmail(db: Queryable, userId: string, email: string): Promise<void> {
    nonEmptyString(userId, 'userId');
    nonEmptyString(email, 'email');
    const removed = await db.query(
      `UPDATE pgrt.users u
          SET emails = coalesce((SELECT jsonb_agg(e ORDER BY i)
                                   FROM jsonb_array_elements(${EMAILS_ARRAY}) WITH ORDINALITY AS x (e, i)
                                  WHERE e->>'address' IS DISTINCT FROM $2), '[]'::jsonb)
        WHERE u.id = $1`,
      [userId, email],
    );
    if (removed.rowCount === 0) throw new ClientError(403, 'User not found');
  }

  /**
   * Meteor's `updateOrCreateUserFromExternalService(serviceName, serviceData, options)`: the user whose
   * `services.<serviceName>.id` is `serviceData.id` (or the one `setAdditionalFindUserOnExternalLogin` finds) gets
   * `serviceData` merged into `services.<serviceName>` and the fields `onExternalLogin` returns; without one, a
   * user `{services: {<serviceName>: serviceData}}` is created through `onCreateUser(options, user)` and the
   * `validateNewUser` hooks. `beforeExternalLogin` returning falsy: 403 "Login forbidden". Resolves the login
   * handler result `{type: serviceName, userId}`. `db`: a method's `ctx` to run in its transaction.
   */
  async updateOrCreateUserFromExternalService(
    db: Queryable,
    serviceName: string,
    serviceData: Readonly<Record<string, unknown>>,
    options: Readonly<Record<string, unknown>> = {},
  ): Promise<LoginHandlerResult & { readonly type: string; readonly userId: string }> {
    if (serviceName === 'password' || serviceName === 'resume')
      throw new Error(`Can't use updateOrCreateUserFromExternalService with internal service ${serviceName}`);
    if (typeof serviceName !== 'string' || serviceName === '') throw new ClientError(400, 'Match failed');
    if (!Object.hasOwn(serviceData, 'id'))
      throw new Error(`Service data for service ${serviceName} must include id`);
    const existingId = await this.documents.findByService(db, serviceName, String(serviceData.id));
    let user = existingId === undefined ? undefined : await this.documents.find(db, existingId);
    if (!user && this.#additionalFind)
      user = (await this.#additionalFind({ serviceName, serviceData, options })) ?? undefined;
    if (this.#beforeExternalLogin && !(await this.#beforeExternalLogin(serviceName, serviceData, user)))
      throw new ClientError(403, 'Login forbidden');
    let opts: Record<string, unknown> = user ? {} : { ...options };
    if (this.#onExternalLogin) opts = await this.#onExternalLogin(options, user);
    if (user) {
      await this.documents.setService(db, user._id, serviceName, serviceData);
      await this.documents.update(db, user._id, opts);
      return { type: serviceName, userId: user._id };
    }
    const userId = await this.creation.insertUserDoc(db, opts, {
      _id: '',
      services: { [serviceName]: { ...serviceData } },
    });
    return { type: serviceName, userId };
  }

  async #document(db: Queryable, userId: string, options: FindUserOptions): Promise<UserDocument | null> {
    if (options.fields === undefined) return (await this.documents.find(db, userId)) ?? null;
    const doc = await this.documents.find(db, userId, { raw: true });
    return doc ? project(doc, options.fields) : null;
  }
}
