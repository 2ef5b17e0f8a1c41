/**
 * Which connection is logged in with which resume token, and revocation (Meteor's per-connection `loginToken`
 * and its `_setLoginToken` observe on `services.resume.loginTokens`): a connection logged in with a resume token
 * is logged out by the server when that token is removed, whoever removed it on whichever process — `changePassword`
 * and `removeOtherTokens` (other tokens), `resetPassword` and `setPassword` (all tokens), `logout` elsewhere with
 * the same token, the expiry sweep, a deleted user, plain SQL. As Meteor (`removed: connection.close`), the
 * connection is closed (`Session.closeConnection`): its client reconnects and its `login {resume}` fails with 403
 * "You've been logged out by the server. Please log in again.". A session whose adapter cannot close its
 * connection is logged out in place instead, as a `logout` call would.
 *
 * How it reaches every process: through the change bus, not a channel of its own. A statement trigger on
 * `pgrt.login_tokens` increments the owner's `pgrt.users.tokens_revoked` in the removing transaction
 * (migrations/0001_accounts.sql); `pgrt.users` is a captured table, so that update reaches every process in commit order in every
 * capture mode (notify, outbox, logical), with the outbox's gap replay, and without a token hash leaving the
 * database (its own NOTIFY channel would need a second LISTEN connection per process, its own gap handling, and a
 * NOTIFY in writers' transactions that outbox and logical modes exist to avoid). Each process keeps, per
 * connection, the token it logged in with and the counter it was last seen valid at; a counter above that
 * re-checks those tokens in the database (one query) and logs out the connections whose token is gone. A deleted
 * user logs out all of its sessions; a bus `resync` re-checks every token.
 *
 * Logins made before their connection has a core session (a protocol handshake that authenticated with a resume
 * token) are kept as pending, by protocol and connection id, until the session is first seen.
 */
import type { PluginHost, SessionLogins } from '../app.js';
import type { BusEvent } from '../bus/change-bus.js';
import type { ConnectionInfo } from '../contexts.js';
import type { Database } from '../database/database.js';
import type { Session } from '../session.js';
import { findLoginToken } from './login-tokens.js';
import { tokenExpiration } from './tokens.js';

/** How a connection is logged in: Meteor's per-connection `loginToken`, plus what revocation needs. */
export interface Login {
  readonly userId: string;
  readonly hashedToken: string;
  /** The user's `tokens_revoked` when the token was last seen in the database. */
  revision: number;
}

/** The sessions of one connection selected for a re-check, with the login and user they had then. */
interface Selected {
  readonly login: Login | undefined;
  readonly userId: string | null;
  readonly sessions: Session[];
}

/** `pgrt.users` as the change bus names it. */
const USERS_TABLE = 'pgrt.users';
/** A pending login whose session was never seen is forgotten after this long. */
const PENDING_LOGIN_TTL_MS = 60_000;

/** The key of a pending login. */
function pendingKey(connection: Pick<ConnectionInfo, 'protocol' | 'id'>): string {
  return `${connection.protocol}\u0000${connection.id}`;
}

/** The logins of this process's connections and their revocation. One per accounts plug-in. */
export class ConnectionLogins {
  readonly #logins = new WeakMap<ConnectionInfo, Login>();
  /** Logins made during a handshake, by {@link pendingKey}, until the connection's session is first seen. */
  readonly #pending = new Map<string, { readonly login: Login; readonly at: number }>();
  /**
   * Per user with logins on this process: the `tokens_revoked` up to which they are checked. A bus update of the
   * user's row with a higher value re-checks them; users absent here have nothing to check (the cheap filter that
   * keeps ordinary profile updates from scanning the sessions).
   */
  readonly #checkedRevision = new Map<string, number>();
  /** A re-check failed: the next housekeeping re-checks every login. */
  #recheckAll = false;
  #host: PluginHost | undefined;

  constructor(private readonly database: () => Database) {}

  /**
   * Starts watching the bus and, every `intervalMs` (0: never), the housekeeping that then runs `sweep`; returns
   * their stop (the core calls it at close).
   */
  watch(host: PluginHost, intervalMs: number, sweep: () => Promise<unknown>): () => void {
    this.#host = host;
    const unsubscribe = host.bus.subscribe((event) => this.#busEvent(event));
    // A bus that filters tables (NATS) must carry the users table's changes to every process.
    const watch = host.bus.watch?.([USERS_TABLE]);
    const timer =
      intervalMs > 0
        ? setInterval(() => {
            this.#housekeeping(sweep).catch((error: unknown) =>
              host.logger.error({ err: error }, 'accounts: expiring login tokens failed'),
            );
          }, intervalMs)
        : undefined;
    timer?.unref();
    return () => {
      unsubscribe();
      watch?.release();
      clearInterval(timer);
      this.#host = undefined;
    };
  }

  /** Records that `connection` is logged in with `login`. */
  set(connection: ConnectionInfo, login: Login): void {
    this.#logins.set(connection, login);
    this.#watchUser(login);
  }

  /** Records a login made before `connection` has a session (see the module header). */
  setPending(connection: Pick<ConnectionInfo, 'protocol' | 'id'>, login: Login): void {
    this.#pending.set(pendingKey(connection), { login, at: Date.now() });
    this.#watchUser(login);
  }

  /** Forgets the login of `connection` (logout: its own token's removal must not close it). */
  delete(connection: ConnectionInfo): void {
    this.#logins.delete(connection);
  }

  /** The login of a connection; a pending login moves here when first asked for. */
  get(connection: ConnectionInfo): Login | undefined {
    const login = this.#logins.get(connection);
    if (login || this.#pending.size === 0) return login;
    const key = pendingKey(connection);
    const pending = this.#pending.get(key);
    if (!pending) return undefined;
    this.#pending.delete(key);
    this.#logins.set(connection, pending.login);
    return pending.login;
  }

  /**
   * The logins as a session hand-off sees them (core/app.ts {@link SessionLogins}): a handed-off session stays
   * logged in only with a token that still exists, is its user's and has not expired (`loginExpirationInDays`).
   */
  sessionLogins(loginExpirationInDays: number): SessionLogins {
    return {
      tokenHash: (connection) => this.get(connection)?.hashedToken,
      adopt: async (connection, userId, hashedToken) => {
        const found = await findLoginToken(this.database(), hashedToken, { userId });
        if (!found || tokenExpiration(found.when, loginExpirationInDays) <= new Date()) return false;
        this.set(connection, { userId, hashedToken, revision: found.revision });
        return true;
      },
    };
  }

  #watchUser(login: Login): void {
    // Not raised when present: logins already here may not be checked up to this login's revision yet.
    if (!this.#checkedRevision.has(login.userId)) this.#checkedRevision.set(login.userId, login.revision);
  }

  /** Called synchronously for each bus event, in commit order. */
  #busEvent(event: BusEvent): void {
    switch (event.kind) {
      case 'change': {
        if (event.table !== USERS_TABLE) return;
        const userId = String(event.key);
        if (event.op === 'delete') {
          this.#checkedRevision.delete(userId);
          this.#recheck((login, session) => (login?.userId ?? session.userId) === userId);
          return;
        }
        const checked = this.#checkedRevision.get(userId);
        if (checked === undefined) return;
        const revision = Number(event.row?.tokens_revoked);
        if (Number.isFinite(revision)) {
          if (revision <= checked) return;
          this.#checkedRevision.set(userId, revision);
        }
        this.#recheck(
          (login) => login?.userId === userId && (!Number.isFinite(revision) || login.revision < revision),
        );
        return;
      }
      case 'truncate':
        if (event.table !== USERS_TABLE) return;
        this.#checkedRevision.clear();
        this.#recheck((login, session) => login !== undefined || session.userId !== null);
        return;
      case 'resync':
        this.#recheck((login) => login !== undefined);
        return;
      case 'fence':
      case 'message':
        return;
    }
  }

  /**
   * Re-checks the sessions `match` selects: those logged in with a token still in the database stay (and are
   * marked checked); the others are logged out. A matched session without a login (a handshake with a password or
   * a derived credential, or an app's own `setUserId`) is only selected when its user is gone, and is logged out.
   */
  #recheck(match: (login: Login | undefined, session: Session) => boolean): void {
    const host = this.#host;
    if (!host) return;
    const selected = new Map<ConnectionInfo, Selected>();
    for (const session of host.sessions) {
      const login = this.get(session.connection);
      if (!match(login, session)) continue;
      const entry = selected.get(session.connection);
      if (entry) entry.sessions.push(session);
      else
        selected.set(session.connection, {
          login,
          userId: login?.userId ?? session.userId,
          sessions: [session],
        });
    }
    if (selected.size === 0) return;
    this.#logOutRevoked(selected).catch((error: unknown) => {
      this.#recheckAll = true;
      host.logger.error({ err: error }, 'accounts: checking login tokens failed; retried at housekeeping');
    });
  }

  async #logOutRevoked(selected: ReadonlyMap<ConnectionInfo, Selected>): Promise<void> {
    const hashes = new Set<string>();
    for (const { login } of selected.values()) if (login) hashes.add(login.hashedToken);
    const valid = new Map<string, { user_id: string; revision: string }>();
    if (hashes.size > 0) {
      const found = await this.database().query<{ hashed_token: string; user_id: string; revision: string }>(
        `SELECT t.hashed_token, t.user_id, u.tokens_revoked AS revision
           FROM pgrt.login_tokens t JOIN pgrt.users u ON u.id = t.user_id
          WHERE t.hashed_token = ANY($1)`,
        [[...hashes]],
      );
      for (const row of found.rows) valid.set(row.hashed_token, row);
    }
    for (const [connection, { login, userId, sessions }] of selected) {
      const row = login ? valid.get(login.hashedToken) : undefined;
      if (login && row?.user_id === login.userId) {
        login.revision = Math.max(login.revision, Number(row.revision));
        continue;
      }
      // Logged in again (or out) while the query ran: that login is not the one found missing.
      if (this.#logins.get(connection) !== login) continue;
      this.#logins.delete(connection);
      for (const session of sessions) {
        // Without a login, only the user found gone is logged out (not one a method set since).
        if (!login && session.userId !== userId) continue;
        this.#host?.logger.info(
          { session: connection.id, protocol: connection.protocol, user: userId },
          'login token removed: logged out by the server',
        );
        // As Meteor: the connection is closed (its client reconnects and its resume fails). An adapter that
        // cannot close it gets the session logged out in place.
        if (session.closeConnection('logged out by the server')) continue;
        session.setUserId(null).catch((error: unknown) => {
          this.#host?.logger.error({ err: error, session: connection.id }, 'accounts: logging out failed');
        });
      }
    }
  }

  /**
   * Every housekeeping interval: forgets what closed connections left (users without logins here, pending logins
   * whose session never appeared), re-checks every login after a failed re-check, then runs `sweep`.
   */
  async #housekeeping(sweep: () => Promise<unknown>): Promise<void> {
    const host = this.#host;
    if (!host) return;
    const users = new Set<string>();
    for (const session of host.sessions) {
      const login = this.get(session.connection);
      if (login) users.add(login.userId);
    }
    const stale = Date.now() - PENDING_LOGIN_TTL_MS;
    for (const [key, pending] of this.#pending) {
      if (pending.at < stale) this.#pending.delete(key);
      else users.add(pending.login.userId);
    }
    for (const userId of this.#checkedRevision.keys())
      if (!users.has(userId)) this.#checkedRevision.delete(userId);
    if (this.#recheckAll) {
      this.#recheckAll = false;
      this.#recheck((login) => login !== undefined);
    }
    await sweep();
  }
}
