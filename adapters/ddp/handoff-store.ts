/**
 * DDP session hand-off through PostgreSQL (tables `pgrt.ddp_handoff*`, core/database/migrations/0005): a draining
 * process writes its live sessions ({@link HandoffStore.persist}) so that whichever process the client comes back
 * to can resume the session ({@link HandoffStore.take}) instead of starting over — handoff.ts does the resuming.
 *
 * One drain is one hand-off row with an expiry (the DDP grace period); its documents are written once
 * (handoff-view.ts), its sessions reference them by number. Everything goes in one transaction (documents before
 * sessions, so a taker never sees a session without its documents), as multi-row inserts of bounded size, under
 * a statement timeout. A take deletes the session's row and returns it (`DELETE … RETURNING`: exactly one taker);
 * a hand-off whose sessions were all taken, and every expired one, is deleted with its documents.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../../core/database/database.js';
import type { Snapshot } from '../../core/merge-box.js';
import {
  DocumentTable,
  decodeSubscriptions,
  decodeView,
  encodeSubscriptions,
  encodeView,
  type HandedOffSubscription,
  hashSessionId,
  viewDocumentNumbers,
} from './handoff-view.js';

/** Rows per INSERT statement. */
const BATCH_ROWS = 2000;

/** What a draining process writes of one session. */
export interface SessionToHandOff {
  /** The session id (stored hashed). */
  readonly id: string;
  /** Messages the session counted (resumption.ts): the client's `receivedCount` must equal it. */
  readonly sentCount: number;
  readonly userId: string | null;
  /** The hash of the login token the session is logged in with (as `pgrt.login_tokens` stores it), or null. */
  readonly loginTokenHash: string | null;
  readonly subscriptions: readonly HandedOffSubscription[];
  /** What the client holds. */
  readonly view: Snapshot;
}

/** A session taken from the store. */
export interface TakenSession {
  readonly sentCount: number;
  readonly userId: string | null;
  readonly loginTokenHash: string | null;
  readonly subscriptions: readonly HandedOffSubscription[];
  readonly view: Snapshot;
}

/** Reads and writes the hand-off tables. */
export class HandoffStore {
  /**
   * @param db the database.
   * @param ttlMs how long a written session can be taken (the DDP grace period).
   */
  constructor(
    private readonly db: Database,
    readonly ttlMs: number,
  ) {}

  /**
   * Writes `sessions` in one transaction, failing after `timeoutMs` (then nothing is written). Returns the number
   * of distinct documents written.
   */
  async persist(sessions: readonly SessionToHandOff[], timeoutMs: number): Promise<number> {
    if (sessions.length === 0) return 0;
    const documents = new DocumentTable();
    const rows = sessions.map((session) => ({
      hash: hashSessionId(session.id),
      sent: session.sentCount,
      user: session.userId,
      token: session.loginTokenHash,
      subs: encodeSubscriptions(session.subscriptions),
      view: encodeView(session.view, documents),
    }));
    const id = randomUUID();
    await this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
      await tx.query('DELETE FROM pgrt.ddp_handoffs WHERE expires_at < now()');
      await tx.query(
        `INSERT INTO pgrt.ddp_handoffs (id, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')`,
        [id, this.ttlMs],
      );
      const texts = documents.texts;
      for (let from = 0; from < texts.length; from += BATCH_ROWS) {
        const batch = texts.slice(from, from + BATCH_ROWS);
        await tx.query(
          `INSERT INTO pgrt.ddp_handoff_documents (handoff_id, n, fields)
           SELECT $1, $2::int + ord - 1, f FROM unnest($3::text[]) WITH ORDINALITY AS t(f, ord)`,
          [id, from, batch],
        );
      }
      for (let from = 0; from < rows.length; from += BATCH_ROWS) {
        const batch = rows.slice(from, from + BATCH_ROWS);
        // A session id handed off twice (a second drain of the same session) keeps the latest.
        await tx.query(
          `INSERT INTO pgrt.ddp_handoff_sessions
             (session_hash, handoff_id, sent_count, user_id, login_token_hash, subscriptions, view)
           SELECT h, $1, c, u, t, s, v
             FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(h, c, u, t, s, v)
           ON CONFLICT (session_hash) DO UPDATE SET handoff_id = EXCLUDED.handoff_id,
             sent_count = EXCLUDED.sent_count, user_id = EXCLUDED.user_id,
             login_token_hash = EXCLUDED.login_token_hash, subscriptions = EXCLUDED.subscriptions,
             view = EXCLUDED.view`,
          [
            id,
            batch.map((r) => r.hash),
            batch.map((r) => r.sent),
            batch.map((r) => r.user),
            batch.map((r) => r.token),
            batch.map((r) => r.subs),
            batch.map((r) => r.view),
          ],
        );
      }
    });
    return documents.texts.length;
  }

  /**
   * Takes session `sessionId`: deletes its row and returns it, or undefined when there is none (never written,
   * already taken, or expired). Of concurrent takers, one gets it.
   */
  async take(sessionId: string): Promise<TakenSession | undefined> {
    const taken = await this.db.query<{
      handoff_id: string;
      sent_count: string;
      user_id: string | null;
      login_token_hash: string | null;
      subscriptions: string;
      view: string;
      live: boolean;
    }>(
      `WITH taken AS (DELETE FROM pgrt.ddp_handoff_sessions WHERE session_hash = $1 RETURNING *)
       SELECT taken.*, h.expires_at > now() AS live
         FROM taken JOIN pgrt.ddp_handoffs h ON h.id = taken.handoff_id`,
      [hashSessionId(sessionId)],
    );
    const row = taken.rows[0];
    if (!row) return undefined;
    try {
      if (!row.live) return undefined;
      const numbers = viewDocumentNumbers(row.view);
      const contents = new Map<number, string>();
      if (numbers.length > 0) {
        const docs = await this.db.query<{ n: number; fields: string }>(
          'SELECT n, fields FROM pgrt.ddp_handoff_documents WHERE handoff_id = $1 AND n = ANY($2::int[])',
          [row.handoff_id, numbers],
        );
        for (const doc of docs.rows) contents.set(doc.n, doc.fields);
      }
      return {
        sentCount: Number(row.sent_count),
        userId: row.user_id,
        loginTokenHash: row.login_token_hash,
        subscriptions: decodeSubscriptions(row.subscriptions),
        view: decodeView(row.view, contents),
      };
    } finally {
      await this.db.query(
        `DELETE FROM pgrt.ddp_handoffs h
          WHERE (h.id = $1 AND NOT EXISTS (SELECT 1 FROM pgrt.ddp_handoff_sessions s WHERE s.handoff_id = $1))
             OR h.expires_at < now()`,
        [row.handoff_id],
      );
    }
  }
}
