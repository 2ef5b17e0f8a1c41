/**
 * DDP session resumption across processes: a draining process hands its live sessions off through PostgreSQL
 * (handoff-store.ts), and the process a client comes back to takes its session over, so the client keeps its
 * session id and gets only what changed while it was away — not the whole publication again.
 *
 * **Hand-off** ({@link SessionHandoff.handOff}, on SIGTERM before the sockets close): each attached session whose
 * merge box tracks everything the client holds is captured — outbound count, user and login token hash, named
 * subscriptions, view — and ended at once in the same turn, so the client receives exactly the counted messages
 * and nothing after; then all of them are written in one transaction, bounded in time. A failed write loses
 * nothing: those clients start over with a new session, as without hand-off.
 *
 * **Take-over** ({@link SessionHandoff.takeOver}, on `connect {session, receivedCount}` for a session this process
 * does not hold): the row is taken (one taker), the client's count must equal the stored count (Meteor 3.5's rule;
 * a client that missed a message cannot be given it), a logged-in session's login token must still be valid
 * (core/app.ts `SessionLogins`), and every subscription must run again under that user (core/session.ts
 * `restore`). Then the client gets `connected` with the same session id and the differences between the view it
 * holds and the current one (`added`, `changed` with `cleared`, `removed`), then one `ready` for its subscriptions;
 * the count goes on from the client's. Anything else starts the client over with a new session, as today.
 */
import type { Connection } from '../../core/connection.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import { DdpSession, type DdpSessionSettings } from './ddp-session.js';
import type { HandoffStore, SessionToHandOff, TakenSession } from './handoff-store.js';

/** Hands sessions off to other processes and takes theirs over. One per DDP adapter. */
export class SessionHandoff {
  /** What each taken-over session was handed off as, until it is released to its client. */
  readonly #taken = new WeakMap<DdpSession, SessionToHandOff>();

  constructor(
    private readonly store: HandoffStore,
    private readonly core: RealtimeCore,
    private readonly logger: Logger,
  ) {}

  /**
   * Captures and ends `sessions` (those that can be handed off; the others are left alone), then writes them,
   * giving up after `timeoutMs`. Resolves to the number written (0 on failure, logged).
   */
  async handOff(sessions: Iterable<DdpSession>, timeoutMs: number): Promise<number> {
    const logins = this.core.app.sessionLoginsProvider;
    const captured: SessionToHandOff[] = [];
    for (const ddp of sessions) {
      if (ddp.ended || !ddp.attached) continue;
      const state = ddp.session.state();
      if (!state) continue;
      const loginTokenHash =
        state.userId === null ? null : (logins?.tokenHash(ddp.session.connection) ?? null);
      // A user without a token the taker can check (an app's own setUserId) is not handed off.
      if (state.userId !== null && loginTokenHash === null) continue;
      captured.push({ id: ddp.id, sentCount: ddp.sentCount, loginTokenHash, ...state });
      ddp.end(); // nothing more is counted or sent: the client's count stays the stored one
    }
    if (captured.length === 0) return 0;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not written within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // The statement timeout bounds each statement; this bounds the whole (a pool connection may be slow to come).
      const documents = await Promise.race([this.store.persist(captured, timeoutMs), expired]);
      this.logger.info(
        { sessions: captured.length, documents, ms: Math.round(performance.now() - started) },
        'DDP sessions handed off',
      );
      return captured.length;
    } catch (error) {
      this.logger.warn({ err: error, sessions: captured.length }, 'DDP session hand-off failed');
      return 0;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Takes over session `id` for a client on `socket` that received `receivedCount` messages: a restored session
   * holding its output (`release` writes `connected` and it), or undefined (the client starts over).
   */
  async takeOver(
    id: string,
    receivedCount: number,
    socket: Connection,
    settings: DdpSessionSettings,
  ): Promise<DdpSession | undefined> {
    let taken: TakenSession | undefined;
    try {
      taken = await this.store.take(id);
    } catch (error) {
      this.logger.warn({ err: error }, 'DDP hand-off lookup failed');
      return undefined;
    }
    if (!taken) return undefined;
    if (taken.sentCount !== receivedCount) {
      this.logger.debug(
        { receivedCount, sent: taken.sentCount },
        'DDP hand-off refused: receivedCount does not match',
      );
      return undefined;
    }
    const info: ConnectionInfo = {
      id,
      protocol: 'ddp',
      clientAddress: socket.remoteAddress,
      httpHeaders: socket.headers,
    };
    if (!(await this.#loginStillValid(info, taken))) return undefined;
    const session = new DdpSession(this.core, info, socket, settings, receivedCount);
    let restored = false;
    try {
      restored = await session.session.restore(taken);
    } catch (error) {
      this.logger.error({ err: error }, 'restoring a handed-off DDP session failed');
    }
    if (!restored) {
      this.logger.debug({}, 'DDP hand-off refused: a subscription could not be restored');
      session.end();
      return undefined;
    }
    this.#taken.set(session, { id, ...taken });
    return session;
  }

  /**
   * The client of a taken-over session left before getting it (its socket closed while the session was restored,
   * e.g. its connect timeout ran out on a busy machine): the session ends here and goes back to the store as it was
   * taken, for the client to take again on whichever process it reaches next. Resolves once written (or failed).
   */
  async giveBack(session: DdpSession, timeoutMs: number): Promise<void> {
    const original = this.#taken.get(session);
    session.end();
    if (!original) return;
    this.#taken.delete(session);
    try {
      await this.store.persist([original], timeoutMs);
    } catch (error) {
      this.logger.warn({ err: error }, 'giving a DDP session back to the hand-off store failed');
    }
  }

  /** The session reached its client: forget how it was taken. */
  released(session: DdpSession): void {
    this.#taken.delete(session);
  }

  async #loginStillValid(info: ConnectionInfo, taken: TakenSession): Promise<boolean> {
    if (taken.userId === null) return true;
    const logins = this.core.app.sessionLoginsProvider;
    if (!logins || taken.loginTokenHash === null) return false;
    try {
      if (await logins.adopt(info, taken.userId, taken.loginTokenHash)) return true;
    } catch (error) {
      this.logger.warn({ err: error }, 'checking a handed-off DDP login failed');
      return false;
    }
    this.logger.debug({ user: taken.userId }, 'DDP hand-off refused: the login is no longer valid');
    return false;
  }
}
