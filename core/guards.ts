/**
 * Declarative access guards on methods and publications (`{ loginRequired: true, roles: ['admin'] }`), checked by
 * the session before a handler runs, whichever protocol called. Roles come from the app's {@link RoleResolver}
 * (the accounts plug-in installs one reading `pgrt.users.roles`); without one, no user has any role.
 *
 * Errors (Meteor.Error shape on DDP, `pgrt.error.403`-style on WAMP via each adapter's `toWireError`):
 * - no user and the guard needs one: {@link LoginRequiredError} `403 "Login required"`;
 * - a user without any of the listed roles: {@link AccessDeniedError} `403 "Access denied"`.
 */
import type { Queryable } from './database/database.js';
import { ClientError } from './errors.js';

/** What a method or publication demands of its caller. */
export interface Guard {
  /** The caller must be logged in (implied by `roles`). */
  readonly loginRequired?: boolean;
  /** The caller must hold at least one of these roles. */
  readonly roles?: readonly string[];
}

/** Looks up a user's roles (read outside any method transaction). */
export type RoleResolver = (db: Queryable, userId: string) => Promise<readonly string[]>;

/** 403 "Login required": an anonymous caller reached a guarded method or publication. */
export class LoginRequiredError extends ClientError {
  override readonly name = 'LoginRequiredError';
  constructor() {
    super(403, 'Login required');
  }
}

/** 403 "Access denied": the caller lacks every role the guard lists. */
export class AccessDeniedError extends ClientError {
  override readonly name = 'AccessDeniedError';
  constructor() {
    super(403, 'Access denied');
  }
}

/** The guard of some registration options, or undefined when they demand nothing. */
export function guardOf(options: Guard): Guard | undefined {
  const roles = options.roles && options.roles.length > 0 ? [...options.roles] : undefined;
  if (!options.loginRequired && !roles) return undefined;
  return { loginRequired: true, ...(roles ? { roles } : {}) };
}

/** Throws unless `userId` passes `guard`. Resolves immediately for an absent guard. */
export async function checkGuard(
  guard: Guard | undefined,
  userId: string | null,
  db: Queryable,
  resolveRoles: RoleResolver | undefined,
): Promise<void> {
  if (!guard) return;
  if (userId === null) throw new LoginRequiredError();
  const wanted = guard.roles;
  if (!wanted) return;
  const held = resolveRoles ? await resolveRoles(db, userId) : [];
  if (!wanted.some((role) => held.includes(role))) throw new AccessDeniedError();
}
