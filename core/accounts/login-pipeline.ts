/**
 * The login pipeline, with Meteor's semantics and order (meteor/meteor packages/accounts-base/accounts_server.js:
 * `registerLoginHandler`, `_runLoginHandlers`, `_attemptLogin`, `_validateLogin`, `_successfulLogin`,
 * `_failedLogin`, `_successfulLogout`). Every login goes through it, whatever its protocol: the `login` method
 * (each registered handler in turn: `resume`, `password`, then the app's), `createUser`, `resetPassword` and
 * `verifyEmail` (type `password`), and the logins protocol adapters make during their handshake (WAMP `ticket`
 * and `wampcra`).
 *
 * One attempt:
 * 1. the handler (or the method's own login function) runs; a throw becomes `{error}`; its `type` defaults to the
 *    handler's name, else `unknown`; a result with neither `userId` nor `error` is a programming error;
 * 2. the attempt `{type, allowed, error?, user?, connection, methodName, methodArguments}` is built (`user`: the
 *    user document, `defaultFieldSelector` applied, when a `userId` is known; read only when a login hook exists);
 * 3. every `validateLoginAttempt` hook runs, in registration order, each with its own copy: a throw sets
 *    `allowed: false` and `error` to what was thrown; a falsy return sets `allowed: false` and, when there was no
 *    error yet, 403 "Login forbidden";
 * 4. allowed: the caller logs the connection in (a token, the session's user) and every `onLogin` hook runs;
 *    refused: every `onLoginFailure` hook runs and the attempt's error is thrown.
 *
 * `onLogin`, `onLoginFailure` and `onLogout` hooks are awaited in order; what they throw is logged and ignored
 * (Meteor's `debugPrintExceptions`), so a broken hook never changes a login's outcome.
 */
import type { ConnectionInfo, MethodContext } from '../contexts.js';
import type { Queryable } from '../database/database.js';
import { ClientError, ConfigurationError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { UserDocument } from './user-documents.js';

/** What a login handler (or a login function) resolves to: Meteor's internal login `result`. */
export interface LoginHandlerResult {
  /** The service name; default: the handler's name. */
  readonly type?: string;
  /** The user logging in; required when there is no `error`, and worth giving with one (hooks see the user). */
  readonly userId?: string;
  /** Why the login is refused (any value; a {@link ClientError} reaches the client as is). */
  readonly error?: unknown;
  /** Merged into the `login` method's result (Meteor's `options`). */
  readonly options?: Readonly<Record<string, unknown>>;
  /**
   * A token already in the database (the `resume` handler): the login uses it instead of making a new one.
   * `revision`: the user's `tokens_revoked` when it was read (revocation.ts), read again when absent.
   */
  readonly stampedLoginToken?: { readonly token: string; readonly when: Date; readonly revision?: number };
}

/**
 * A login handler (Meteor's `Accounts.registerLoginHandler`): gets the `login` method's options object and the
 * method's context; resolves `undefined` when the options are not for it (the next handler is tried), else a
 * {@link LoginHandlerResult}. It may throw instead of returning `{error}` (then hooks see no user).
 */
export type LoginHandler = (
  options: Readonly<Record<string, unknown>>,
  ctx: MethodContext,
) => LoginHandlerResult | undefined | Promise<LoginHandlerResult | undefined>;

/** Meteor's login attempt object, as each hook gets it (a copy per hook; the connection is shared). */
export interface LoginAttempt {
  /** `password`, `resume`, a handler's name, a protocol's handshake method (`wampcra`), or `unknown`. */
  type: string;
  allowed: boolean;
  error?: unknown;
  /** The user document (defaultFieldSelector applied), when the attempt names a known user. */
  user?: UserDocument;
  readonly connection: ConnectionInfo;
  /** `login`, `createUser`, `resetPassword`, `verifyEmail`, or the handshake's (e.g. `wamp.ticket`). */
  methodName: string;
  methodArguments: unknown[];
}

/** A `validateLoginAttempt` hook: a falsy result or a throw refuses the login. */
export type ValidateLoginAttempt = (attempt: LoginAttempt) => unknown;
/** An `onLogin` / `onLoginFailure` hook. */
export type LoginHook = (attempt: LoginAttempt) => unknown;
/** An `onLogout` hook: the user that logged out (undefined if gone) and the connection. */
export type LogoutHook = (details: { user: UserDocument | undefined; connection: ConnectionInfo }) => unknown;

/** What registering a hook returns: `stop()` unregisters it (Meteor's hook handle). */
export interface HookHandle {
  stop(): void;
}

/** What a login call is: the method (or handshake) and its arguments, as hooks see them. */
export interface LoginCall {
  readonly connection: ConnectionInfo;
  readonly methodName: string;
  readonly methodArguments: readonly unknown[];
  /**
   * The user name the attempt gives (username, email or id), for the failed-login limits (login-throttle.ts);
   * absent: limited per client address only.
   */
  readonly identity?: string;
  /**
   * Where the hooks' user document is read: the login's own transaction (a method's context), so a user the
   * handler created in it (an external-service login) is seen; absent: the pool.
   */
  readonly db?: Queryable;
}

/** An allowed attempt: who, and the handler's result. */
export interface AllowedLogin {
  readonly userId: string;
  readonly type: string;
  readonly result: LoginHandlerResult;
  readonly attempt: LoginAttempt;
}

/** Loads a user document for the hooks (defaultFieldSelector applied), or undefined. */
export type LoadUser = (userId: string, db?: Queryable) => Promise<UserDocument | undefined>;

/** 403 "Login forbidden": a `validateLoginAttempt` hook returned a falsy value (Meteor's error). */
export class LoginForbiddenError extends ClientError {
  override readonly name = 'LoginForbiddenError';
  constructor() {
    super(403, 'Login forbidden');
  }
}

/** A list of hooks that can be unregistered. */
class HookList<F> {
  readonly #hooks = new Set<{ readonly fn: F }>();
  add(fn: F): HookHandle {
    if (typeof fn !== 'function') throw new ConfigurationError('a hook must be a function');
    const entry = { fn };
    this.#hooks.add(entry);
    return { stop: () => this.#hooks.delete(entry) };
  }
  get size(): number {
    return this.#hooks.size;
  }
  *[Symbol.iterator](): IterableIterator<F> {
    for (const entry of [...this.#hooks]) yield entry.fn;
  }
}

/** Runs `fn`, turning a throw into `{error}`, and defaults the result's `type` (Meteor's `tryLoginMethod`). */
export async function tryLogin(
  type: string | null,
  fn: () => LoginHandlerResult | undefined | Promise<LoginHandlerResult | undefined>,
): Promise<LoginHandlerResult | undefined> {
  let result: LoginHandlerResult | undefined;
  try {
    result = await fn();
  } catch (error) {
    result = { error };
  }
  if (result && !result.type && type) return { ...result, type };
  return result;
}

/** Copies an attempt for one hook (Meteor clones it with EJSON, but not the connection). */
function copyAttempt(attempt: LoginAttempt): LoginAttempt {
  return {
    ...attempt,
    ...(attempt.user === undefined ? {} : { user: structuredClone(attempt.user) }),
    methodArguments: structuredClone(attempt.methodArguments),
  };
}

/** The handlers and hooks of one accounts plug-in. */
export class LoginPipeline {
  readonly #handlers: { readonly name: string | null; readonly handler: LoginHandler }[] = [];
  readonly #validate = new HookList<ValidateLoginAttempt>();
  readonly #onLogin = new HookList<LoginHook>();
  readonly #onLoginFailure = new HookList<LoginHook>();
  readonly #onLogout = new HookList<LogoutHook>();
  #logger: Logger | undefined;

  constructor(private readonly loadUser: LoadUser) {}

  /** Where hook failures are logged (the core's logger, once started). */
  set logger(logger: Logger | undefined) {
    this.#logger = logger;
  }

  /** Appends a login handler (Meteor's `registerLoginHandler([name], handler)`). */
  registerLoginHandler(name: string | null, handler: LoginHandler): void {
    if (typeof handler !== 'function') throw new ConfigurationError('a login handler must be a function');
    if (name !== null && (typeof name !== 'string' || name === ''))
      throw new ConfigurationError('a login handler name must be a non-empty string');
    this.#handlers.push({ name, handler });
  }

  validateLoginAttempt(fn: ValidateLoginAttempt): HookHandle {
    return this.#validate.add(fn);
  }
  onLogin(fn: LoginHook): HookHandle {
    return this.#onLogin.add(fn);
  }
  onLoginFailure(fn: LoginHook): HookHandle {
    return this.#onLoginFailure.add(fn);
  }
  onLogout(fn: LogoutHook): HookHandle {
    return this.#onLogout.add(fn);
  }

  /**
   * Tries every handler in registration order until one resolves something other than `undefined` (Meteor's
   * `_runLoginHandlers`); none: 400 "Unrecognized options for login request". A handler resolving a non-object:
   * 400 "A login handler should return a result or undefined".
   */
  async runHandlers(
    options: Readonly<Record<string, unknown>>,
    ctx: MethodContext,
  ): Promise<LoginHandlerResult> {
    for (const { name, handler } of this.#handlers) {
      const result = await tryLogin(name, () => handler(options, ctx));
      if (result !== undefined) {
        if (typeof result !== 'object' || result === null)
          throw new ClientError(400, 'A login handler should return a result or undefined');
        return result;
      }
    }
    return { error: new ClientError(400, 'Unrecognized options for login request') };
  }

  /**
   * Steps 2–4 of the module header for `result`: resolves the allowed login after `logIn` (which logs the
   * connection in) and the `onLogin` hooks, or runs the `onLoginFailure` hooks and throws the attempt's error.
   */
  async attempt<R>(
    call: LoginCall,
    result: LoginHandlerResult,
    logIn: (allowed: AllowedLogin) => Promise<R>,
  ): Promise<R> {
    if (!result.userId && result.error === undefined)
      throw new ConfigurationError('A login method must specify a userId or an error');
    // Only hooks read the user. When there are any, it is loaded even without a user id (finding nothing), so a
    // login naming no user costs what one naming a user does: failures must not tell which users exist.
    const hooked = this.#validate.size + this.#onLogin.size + this.#onLoginFailure.size > 0;
    const user = hooked ? await this.loadUser(result.userId ?? '', call.db) : undefined;
    const attempt: LoginAttempt = {
      type: result.type || 'unknown',
      allowed: Boolean(result.userId) && result.error === undefined,
      connection: call.connection,
      methodName: call.methodName,
      methodArguments: [...call.methodArguments],
      ...(result.error === undefined ? {} : { error: result.error }),
      ...(user ? { user } : {}),
    };
    await this.#validateLogin(attempt);
    if (attempt.allowed && result.userId) {
      const value = await logIn({ userId: result.userId, type: attempt.type, result, attempt });
      await this.#each(this.#onLogin, 'onLogin', attempt);
      return value;
    }
    await this.#each(this.#onLoginFailure, 'onLoginFailure', attempt);
    throw attempt.error;
  }

  /** Runs the `onLogout` hooks (Meteor's `_successfulLogout`); the user is loaded only when a hook exists. */
  async loggedOut(connection: ConnectionInfo, userId: string | null): Promise<void> {
    if (this.#onLogout.size === 0) return;
    const user = userId === null ? undefined : await this.loadUser(userId);
    for (const hook of this.#onLogout) {
      try {
        await hook({ user: user && structuredClone(user), connection });
      } catch (error) {
        this.#logger?.error({ err: error }, 'accounts: an onLogout hook failed');
      }
    }
  }

  async #validateLogin(attempt: LoginAttempt): Promise<void> {
    for (const hook of this.#validate) {
      let allowed: unknown;
      try {
        allowed = await hook(copyAttempt(attempt));
      } catch (error) {
        attempt.allowed = false;
        // As Meteor: the last thrown error wins.
        attempt.error = error;
        continue;
      }
      if (!allowed) {
        attempt.allowed = false;
        // A specific error from an earlier hook or the login itself (e.g. a wrong password) is kept.
        if (attempt.error === undefined) attempt.error = new LoginForbiddenError();
      }
    }
  }

  async #each(hooks: HookList<LoginHook>, what: string, attempt: LoginAttempt): Promise<void> {
    for (const hook of hooks) {
      try {
        await hook(copyAttempt(attempt));
      } catch (error) {
        this.#logger?.error({ err: error }, `accounts: an ${what} hook failed`);
      }
    }
  }
}
