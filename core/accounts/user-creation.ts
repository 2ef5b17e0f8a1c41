/**
 * Creating users with Meteor's hooks and order (meteor/meteor packages/accounts-password/password_server.js
 * `createUser`, accounts-base/accounts_server.js `_createUserCheckingDuplicates`, `insertUserDoc`,
 * `defaultCreateUserHook`, `defaultValidateNewUserHook`):
 *
 * 1. the options are checked as Meteor's `Match.ObjectIncluding({username?: String, email?: String, password?})`:
 *    unknown keys pass (they are for `onCreateUser`); a username or email is needed (400 "Need to set a username
 *    or email");
 * 2. username and email are cleaned (hygiene.ts) and checked for a duplicate — an address case-insensitively, a
 *    username also against look-alikes of every stored name (user-store.ts `usernameTaken`) — (403
 *    "Username already exists." / "Email already exists.", ambiguous when `ambiguousErrorMessages`);
 * 3. the document `{_id, createdAt, username?, emails?: [{address, verified: false}], services: {}}` is handed
 *    to the `onCreateUser(options, user)` hook, whose result is the document to insert (default: `user` with
 *    `options.profile` copied);
 * 4. every `validateNewUser(user)` hook runs, the built-in `restrictCreationByEmailDomain` check first: a falsy
 *    result is 403 "User validation failed"; a throw is that error;
 * 5. the document is inserted (user-documents.ts), then the password hash (user-store.ts). A unique violation of
 *    a concurrent signup is the same 403 as step 2.
 *
 * External services (`updateOrCreateUserFromExternalService`, Meteor's) create their users through step 3–5.
 */
import type { Queryable } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import { cryptoRandom } from '../random/random-stream.js';
import { LoginFailedError } from './errors.js';
import { checkPasswordNotEmpty, cleanEmail, cleanUsername } from './hygiene.js';
import type { HookHandle } from './login-pipeline.js';
import { MatchFailedError, passwordDigest } from './password.js';
import type { UserDocument, UserDocuments } from './user-documents.js';
import { isRecord, type UserStore } from './user-store.js';

/** Meteor's `onCreateUser(options, user)`: resolves the document to insert. */
export type OnCreateUser = (
  options: Readonly<Record<string, unknown>>,
  user: UserDocument,
) => UserDocument | Promise<UserDocument>;

/** Meteor's `validateNewUser(user)`: a falsy result refuses the user; a throw refuses it with that error. */
export type ValidateNewUser = (user: UserDocument) => unknown;

/** `restrictCreationByEmailDomain`: a domain (`school.edu`) or a predicate of the address. */
export type EmailDomainRule = string | ((email: string) => boolean);

/** The creation settings. */
export interface CreationSettings {
  readonly restrictCreationByEmailDomain?: EmailDomainRule | undefined;
  readonly ambiguousErrorMessages: boolean;
}

/** 403 "User validation failed": a `validateNewUser` hook returned a falsy value. */
export class UserValidationFailedError extends ClientError {
  override readonly name = 'UserValidationFailedError';
  constructor() {
    super(403, 'User validation failed');
  }
}

/** Escapes a string for a regular expression (Meteor's `_escapeRegExp`). */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The user-creation pipeline of one accounts plug-in. */
export class UserCreation {
  #onCreateUser: OnCreateUser | undefined;
  readonly #validators: { readonly fn: ValidateNewUser }[] = [];

  constructor(
    private readonly users: UserStore,
    private readonly documents: UserDocuments,
    private readonly settings: CreationSettings,
  ) {
    const domain = settings.restrictCreationByEmailDomain;
    if (domain !== undefined && typeof domain !== 'string' && typeof domain !== 'function')
      throw new ConfigurationError('restrictCreationByEmailDomain must be a domain or a function');
  }

  /** Sets the `onCreateUser` hook (once, as Meteor: "Can only call onCreateUser once"). */
  onCreateUser(fn: OnCreateUser): void {
    if (this.#onCreateUser) throw new ConfigurationError('Can only call onCreateUser once');
    if (typeof fn !== 'function') throw new ConfigurationError('onCreateUser needs a function');
    this.#onCreateUser = fn;
  }

  /** Adds a `validateNewUser` hook. */
  validateNewUser(fn: ValidateNewUser): HookHandle {
    if (typeof fn !== 'function') throw new ConfigurationError('validateNewUser needs a function');
    const entry = { fn };
    this.#validators.push(entry);
    return {
      stop: () => {
        const i = this.#validators.indexOf(entry);
        if (i >= 0) this.#validators.splice(i, 1);
      },
    };
  }

  /**
   * Meteor's `createUser(options)` (steps 1–5): resolves the new user's id. `extra` adds server-only fields to
   * the document before `onCreateUser` sees it (the server API's `id` and `roles`).
   */
  async createUser(
    db: Queryable,
    options: unknown,
    extra: { readonly id?: string; readonly roles?: readonly string[] } = {},
  ): Promise<string> {
    if (!isRecord(options)) throw new MatchFailedError();
    const { username: rawUsername, email: rawEmail, password } = options;
    if (rawUsername !== undefined && typeof rawUsername !== 'string') throw new MatchFailedError();
    if (rawEmail !== undefined && typeof rawEmail !== 'string') throw new MatchFailedError();
    const digest = password === undefined ? undefined : passwordDigest(password);
    if (digest !== undefined)
      checkPasswordNotEmpty(typeof password === 'string' ? password : undefined, digest);
    if (!rawUsername && !rawEmail) throw new ClientError(400, 'Need to set a username or email');
    const username = rawUsername ? cleanUsername(rawUsername) : undefined;
    const email = rawEmail ? cleanEmail(rawEmail) : undefined;
    if (username !== undefined && (await this.users.usernameTaken(db, username)))
      this.#duplicate('Username already exists.');
    if (email !== undefined && (await this.users.find(db, { email })))
      this.#duplicate('Email already exists.');
    const user: UserDocument = {
      _id: extra.id ?? cryptoRandom.id(),
      createdAt: new Date(),
      ...(username === undefined ? {} : { username }),
      ...(email === undefined ? {} : { emails: [{ address: email, verified: false }] }),
      ...(extra.roles === undefined ? {} : { roles: [...extra.roles] }),
      services: {},
    };
    const id = await this.insertUserDoc(db, options, user);
    if (digest !== undefined) await this.users.setPassword(db, id, digest);
    return id;
  }

  /** Meteor's `insertUserDoc(options, user)` (steps 3–5 without the password); resolves the id. */
  async insertUserDoc(
    db: Queryable,
    options: Readonly<Record<string, unknown>>,
    user: UserDocument,
  ): Promise<string> {
    const base: UserDocument = { createdAt: new Date(), ...user, _id: user._id || cryptoRandom.id() };
    const doc = this.#onCreateUser
      ? await this.#onCreateUser(options, base)
      : defaultCreateUserHook(options, base);
    if (!isRecord(doc) || typeof doc._id !== 'string' || doc._id === '')
      throw new ConfigurationError('onCreateUser must return the user document (with its _id)');
    this.#validateDomain(doc);
    for (const { fn } of [...this.#validators]) if (!(await fn(doc))) throw new UserValidationFailedError();
    try {
      await this.documents.insert(db, doc);
    } catch (error) {
      const constraint =
        (error as { code?: string; constraint?: string }).code === '23505'
          ? (error as { constraint?: string }).constraint
          : undefined;
      if (constraint === 'user_emails_pkey') this.#duplicate('Email already exists.', error);
      if (constraint === 'users_username_ci') this.#duplicate('Username already exists.', error);
      throw error;
    }
    return doc._id;
  }

  /** Meteor's `_testEmailDomain`. */
  testEmailDomain(email: string): boolean {
    const domain = this.settings.restrictCreationByEmailDomain;
    return (
      domain === undefined ||
      (typeof domain === 'function' && domain(email)) ||
      (typeof domain === 'string' && new RegExp(`@${escapeRegExp(domain)}$`, 'i').test(email))
    );
  }

  /** Meteor's `defaultValidateNewUserHook`: an address (or a service's `email`) must pass the domain rule. */
  #validateDomain(user: UserDocument): void {
    const domain = this.settings.restrictCreationByEmailDomain;
    if (domain === undefined) return;
    let good = false;
    if (user.emails && user.emails.length > 0)
      good = user.emails.some((e) => this.testEmailDomain(e.address));
    else if (user.services && Object.keys(user.services).length > 0)
      good = Object.values(user.services).some(
        (service) => typeof service.email === 'string' && this.testEmailDomain(service.email),
      );
    if (good) return;
    if (typeof domain === 'string') throw new ClientError(403, `@${domain} email required`);
    throw new ClientError(403, "Email doesn't match the criteria.");
  }

  /** Meteor's `_handleError` for a duplicate: the message, or the ambiguous one. */
  #duplicate(message: string, cause?: unknown): never {
    if (this.settings.ambiguousErrorMessages) throw new LoginFailedError(message);
    throw new ClientError(403, message, undefined, { cause });
  }
}

/** Meteor's `defaultCreateUserHook`: copies `options.profile`. */
function defaultCreateUserHook(options: Readonly<Record<string, unknown>>, user: UserDocument): UserDocument {
  if (options.profile) return { ...user, profile: options.profile as Record<string, unknown> };
  return user;
}
