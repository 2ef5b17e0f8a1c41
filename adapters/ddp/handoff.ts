/**
 * DDP session resumption across processes: a draining process hands its live sessions off through PostgreSQL
 * (handoff-store.ts), and the process a client comes back to takes its session over, so the client keeps its
 * session id and gets only what changed while it was away — not the whole publication again.
 *
 * **Hand-off** ({@link SessionHandoff.handOff}, on SIGTERM before the sockets close): each attached session whose
 * merge box tracks everything the client holds is captured — outbound count, user and login token hash, named
 * subscriptions, view — and ended at once in the same turn, so the client receives exactly the counted messages
 * and nothing after; then they are announced (one short statement: the sessions are pending), and all of them are
 * encoded and written in one transaction. The drain waits for that write up to its budget and then closes the
 * sockets anyway: a client that comes back before the write commits finds its session pending and its new process
 * waits for it. A failed write loses nothing: those clients start over with a new session, as without hand-off.
 *
 * **Take-over** ({@link SessionHandoff.takeOver}, on `connect {session, receivedCount}` for a session this process
 * does not hold): the row is taken (one taker), the client's count must equal the stored count (Meteor 3.5's rule;
 * a client that missed a message cannot be given it), a logged-in session's login token must still be valid
 * (core/app.ts `SessionLogins`), and every subscription must run again under that user (core/session.ts
 * `restore`). Then the client gets `connected` with the same session id and the differences between the view it
 * holds and the current one (`added`, `changed` with `cleared`, `removed`), then one `ready` for its subscriptions;
 * the count goes on from the client's. Anything else starts the client over with a new session, as today.
 */
import { randomUUID } from 'node:crypto';
import type { Connection } from '../../core/connection.js';
import type { ConnectionInfo } from '../../core/contexts.js';
import type { Logger } from '../../core/logger.js';
import type { RealtimeCore } from '../../core/realtime-core.js';
import { DdpSession, type DdpSessionSettings } from './ddp-session.js';
import {
  encodeHandoff,
  type HandoffStore,
  PENDING,
  type SessionToHandOff,
  type TakenSession,
} from './handoff-store.js';

/** Longest pause between two looks at a pending session. */
const MAX_POLL_MS = 200;
/** Longest wait for a pending session, whatever its announcement says. */
const MAX_WAIT_MS = 15_000;

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
   * Captures and ends `sessions` (those that can be handed off; the others are left alone), announces them (their
   * clients' takers wait from then on), then encodes and writes them. Resolves to the number captured once written,
   * or after `timeoutMs` while the write goes on (logged when it ends; the clients that come back meanwhile wait
   * for it), or to 0 when the write failed (logged; those clients start over with a new session).
   */
  async handOff(sessions: Iterable<DdpSession>, timeoutMs: number): Promise<number> {
    const started = performance.now();
    const captured = this.#capture(sessions);
    if (captured.length === 0) return 0;
    const timing = { captureMs: Math.round(performance.now() - started) };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
    });
    const written = this.#write(captured, timeoutMs, started, timing);
    try {
      const outcome = await Promise.race([written, late]);
      if (outcome === 'late') {
        this.logger.warn(
          { sessions: captured.length, timeoutMs, ...timing },
          'DDP session hand-off still being written: its clients wait for it where they come back',
        );
        return captured.length;
      }
      return outcome ? captured.length : 0;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The state of each of `sessions` that can be handed off; those are ended (nothing more is counted or sent). */
  #capture(sessions: Iterable<DdpSession>): SessionToHandOff[] {
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
      ddp.end(); // the client's count stays the stored one
    }
    return captured;
  }

  /**
   * Announces, encodes and writes `captured` as one hand-off; resolves to whether it was written. `timing` gets each
   * step's duration. The drain stops waiting after `timeoutMs` (half its budget) but the write goes on: each of its
   * statements is bounded by twice that (the whole budget, past which the process drops its clients anyway), and
   * the announcement by three times, so that a taker waits no longer than a write can last (or its process, had it
   * died).
   */
  async #write(
    captured: readonly SessionToHandOff[],
    timeoutMs: number,
    started: number,
    timing: Record<string, number>,
  ): Promise<boolean> {
    const handoffId = randomUUID();
    const since = (from: number) => Math.round(performance.now() - from);
    try {
      let step = performance.now();
      await this.store.announce(
        handoffId,
        captured.map((session) => session.id),
        3 * timeoutMs,
      );
      timing.announceMs = since(step);
      step = performance.now();
      const encoded = encodeHandoff(captured);
      timing.encodeMs = since(step);
      step = performance.now();
      await this.store.write(handoffId, encoded, 2 * timeoutMs);
      timing.writeMs = since(step);
      this.logger.info(
        { sessions: captured.length, documents: encoded.documents.length, ms: since(started), ...timing },
        'DDP sessions handed off',
      );
      return true;
    } catch (error) {
      this.logger.warn(
        { err: error, sessions: captured.length, ms: since(started), ...timing },
        'DDP session hand-off failed',
      );
      await this.store.withdraw(handoffId).catch(() => {});
      return false;
    }
  }

  /**
   * Takes over session `id` for a client on `socket` that received `receivedCount` messages: a restored session
   * holding its output (`release` writes `connected` and it), or undefined (the client starts over). A session
   * announced and not yet written is waited for while `wanted()` (the client is still there).
   */
  async takeOver(
    id: string,
    receivedCount: number,
    socket: Connection,
    settings: DdpSessionSettings,
    wanted: () => boolean = () => true,
  ): Promise<DdpSession | undefined> {
    const taken = await this.#take(id, wanted);
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

  /**
   * Takes session `id` from the store, waiting while it is pending (asking again after 10 ms, then twice as long
   * each time up to {@link MAX_POLL_MS}): the announcement's expiry bounds the wait, and so do `wanted` and
   * {@link MAX_WAIT_MS}. Undefined when there is no session to take (or the lookup failed, logged).
   */
  async #take(id: string, wanted: () => boolean): Promise<TakenSession | undefined> {
    const started = performance.now();
    let delay = 10;
    try {
      for (;;) {
        const taken = await this.store.take(id);
        if (taken !== PENDING) {
          if (delay > 10)
            this.logger.debug(
              { found: taken !== undefined, waitedMs: Math.round(performance.now() - started) },
              'DDP hand-off waited for',
            );
          return taken;
        }
        if (!wanted() || performance.now() - started > MAX_WAIT_MS) return undefined;
        if (delay === 10) this.logger.debug({}, 'DDP hand-off pending: waiting for it to be written');
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(2 * delay, MAX_POLL_MS);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'DDP hand-off lookup failed');
      return undefined;
    }
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
