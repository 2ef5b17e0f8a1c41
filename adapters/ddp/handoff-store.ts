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
 *
 * Before that write, a drain announces its sessions ({@link HandoffStore.announce}: one short statement): a row per
 * session marked pending (`sent_count` -1, nothing else), under a hand-off row that expires soon. The write replaces
 * each pending row by the session in place (one row per session, so a taker sees either the pending row or the
 * session, never neither), and a failed write withdraws them. A client that comes back before the write committed
 * finds its session pending ({@link HandoffStore.take} says so) and its taker waits, rather than starting it over.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../../core/database/database.js';
import type { Fields, Snapshot } from '../../core/merge-box.js';
import {
  DocumentTable,
  decodeSubscriptions,
  decodeView,
  encodeSubscriptions,
  encodeView,
  type HandedOffSubscription,
  hashSessionId,
  parseDocument,
  parseView,
  referredView,
  type ViewLayout,
  viewDocumentNumbers,
  viewReference,
} from './handoff-view.js';

/** Rows per INSERT statement. */
const BATCH_ROWS = 2000;

/** `sent_count` of a session announced and not yet written. */
const PENDING_COUNT = -1;

/** How many hand-offs' parsed documents a taker keeps (their sessions come back to it within seconds). */
const CACHED_HANDOFFS = 4;

/** {@link HandoffStore.take}'s answer for a session announced and not yet written: ask again. */
export const PENDING = 'pending';

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

/** Sessions encoded for {@link HandoffStore.write}: done before the write, on the drain's own turn. */
export interface EncodedHandoff {
  /** EJSON text of each distinct document, by number. */
  readonly documents: readonly string[];
  readonly hashes: string[];
  readonly sentCounts: number[];
  readonly users: (string | null)[];
  readonly tokens: (string | null)[];
  readonly subscriptions: string[];
  readonly views: string[];
}

/** Views this long or longer are stored once per hand-off, with the documents ({@link viewReference}). */
const SHARED_VIEW_LENGTH = 256;

/** Encodes `sessions` for {@link HandoffStore.write}, each distinct document and each long view once. */
export function encodeHandoff(sessions: readonly SessionToHandOff[]): EncodedHandoff {
  const documents = new DocumentTable();
  const views = new Map<string, string>();
  const encoded: EncodedHandoff = {
    documents: documents.texts,
    hashes: [],
    sentCounts: [],
    users: [],
    tokens: [],
    subscriptions: [],
    views: [],
  };
  for (const session of sessions) {
    encoded.hashes.push(hashSessionId(session.id));
    encoded.sentCounts.push(session.sentCount);
    encoded.users.push(session.userId);
    encoded.tokens.push(session.loginTokenHash);
    encoded.subscriptions.push(encodeSubscriptions(session.subscriptions));
    const view = encodeView(session.view, documents);
    if (view.length < SHARED_VIEW_LENGTH) {
      encoded.views.push(view);
      continue;
    }
    let reference = views.get(view);
    if (reference === undefined) {
      reference = viewReference(documents.texts.length);
      documents.texts.push(view);
      views.set(view, reference);
    }
    encoded.views.push(reference);
  }
  return encoded;
}

/** Reads and writes the hand-off tables. */
export class HandoffStore {
  /** What was parsed of the latest hand-offs taken from, oldest first. */
  readonly #parsed = new Map<string, ParsedHandoff>();

  /**
   * @param db the database.
   * @param ttlMs how long a written session can be taken (`handOffGracePeriod`).
   */
  constructor(
    private readonly db: Database,
    readonly ttlMs: number,
  ) {}

  /**
   * Announces hand-off `handoffId` of the sessions `ids`: they are pending (takers wait) until {@link write}
   * commits them, {@link withdraw} gives up, or `waitMs` have passed.
   */
  async announce(handoffId: string, ids: readonly string[], waitMs: number): Promise<void> {
    await this.db.query(
      `WITH h AS (INSERT INTO pgrt.ddp_handoffs (id, expires_at)
                  VALUES ($1, now() + $2 * interval '1 millisecond'))
       INSERT INTO pgrt.ddp_handoff_sessions (session_hash, handoff_id, sent_count, subscriptions, view)
       SELECT h, $1, ${PENDING_COUNT}, '[]', '{}' FROM unnest($3::text[]) AS x(h)
       ON CONFLICT (session_hash) DO UPDATE SET handoff_id = EXCLUDED.handoff_id, sent_count = ${PENDING_COUNT},
         user_id = NULL, login_token_hash = NULL, subscriptions = '[]', view = '{}'`,
      [handoffId, Math.max(1, Math.round(waitMs)), ids.map(hashSessionId)],
    );
  }

  /** Gives hand-off `handoffId` up: its pending sessions are deleted (their takers stop waiting). */
  async withdraw(handoffId: string): Promise<void> {
    await this.db.query('DELETE FROM pgrt.ddp_handoffs WHERE id = $1', [handoffId]);
  }

  /**
   * Writes `sessions` in one transaction, failing after `timeoutMs` (then nothing is written). Returns the number
   * of distinct documents written.
   */
  async persist(sessions: readonly SessionToHandOff[], timeoutMs: number): Promise<number> {
    if (sessions.length === 0) return 0;
    const encoded = encodeHandoff(sessions);
    await this.write(randomUUID(), encoded, timeoutMs);
    return encoded.documents.length;
  }

  /**
   * Writes `encoded` as hand-off `handoffId` (announced or not) in one transaction, each statement failing after
   * `timeoutMs` (then nothing is written).
   */
  async write(handoffId: string, encoded: EncodedHandoff, timeoutMs: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
      await tx.query('DELETE FROM pgrt.ddp_handoffs WHERE expires_at < now() AND id <> $1', [handoffId]);
      await tx.query(
        `INSERT INTO pgrt.ddp_handoffs (id, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
        [handoffId, this.ttlMs],
      );
      const texts = encoded.documents;
      for (let from = 0; from < texts.length; from += BATCH_ROWS) {
        await tx.query(
          `INSERT INTO pgrt.ddp_handoff_documents (handoff_id, n, fields)
           SELECT $1, $2::int + ord - 1, f FROM unnest($3::text[]) WITH ORDINALITY AS t(f, ord)`,
          [handoffId, from, texts.slice(from, from + BATCH_ROWS)],
        );
      }
      for (let from = 0; from < encoded.hashes.length; from += BATCH_ROWS) {
        const to = from + BATCH_ROWS;
        // A pending row becomes its session; a session id handed off twice (a second drain) keeps the latest.
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
            handoffId,
            encoded.hashes.slice(from, to),
            encoded.sentCounts.slice(from, to),
            encoded.users.slice(from, to),
            encoded.tokens.slice(from, to),
            encoded.subscriptions.slice(from, to),
            encoded.views.slice(from, to),
          ],
        );
      }
      // Sessions announced and not written (ended meanwhile) are withdrawn.
      await tx.query(
        `DELETE FROM pgrt.ddp_handoff_sessions WHERE handoff_id = $1 AND sent_count = ${PENDING_COUNT}`,
        [handoffId],
      );
    });
  }

  /**
   * Takes session `sessionId`: deletes its row and returns it; {@link PENDING} when it is announced and not yet
   * written (ask again); undefined when there is none (never written, already taken, or expired). Of concurrent
   * takers, one gets it.
   */
  async take(sessionId: string): Promise<TakenSession | typeof PENDING | undefined> {
    const hash = hashSessionId(sessionId);
    // One statement, one snapshot: a session being written is seen either pending or written, never neither.
    const taken = await this.db.query<{
      handoff_id: string | null;
      sent_count: string | null;
      user_id: string | null;
      login_token_hash: string | null;
      subscriptions: string;
      view: string;
      live: boolean;
      pending: boolean;
    }>(
      `WITH taken AS (DELETE FROM pgrt.ddp_handoff_sessions WHERE session_hash = $1 AND sent_count >= 0 RETURNING *)
       SELECT t.*, h.expires_at > now() AS live,
              EXISTS (SELECT 1 FROM pgrt.ddp_handoff_sessions p JOIN pgrt.ddp_handoffs ph ON ph.id = p.handoff_id
                       WHERE p.session_hash = $1 AND p.sent_count = ${PENDING_COUNT} AND ph.expires_at > now())
                AS pending
         FROM (SELECT 1) AS one LEFT JOIN taken t ON true LEFT JOIN pgrt.ddp_handoffs h ON h.id = t.handoff_id`,
      [hash],
    );
    const row = taken.rows[0];
    if (!row || row.handoff_id === null) return row?.pending ? PENDING : undefined;
    const handoffId = row.handoff_id;
    try {
      if (!row.live) return undefined;
      const layout = await this.#layout(handoffId, row.view);
      return {
        sentCount: Number(row.sent_count),
        userId: row.user_id,
        loginTokenHash: row.login_token_hash,
        subscriptions: decodeSubscriptions(row.subscriptions),
        view: decodeView(layout, await this.#documents(handoffId, viewDocumentNumbers(layout))),
      };
    } finally {
      await this.db.query(
        `DELETE FROM pgrt.ddp_handoffs h
          WHERE (h.id = $1 AND NOT EXISTS (SELECT 1 FROM pgrt.ddp_handoff_sessions s WHERE s.handoff_id = $1))
             OR h.expires_at < now()`,
        [handoffId],
      );
    }
  }

  /** A session's stored view parsed: its own text, or the hand-off's shared one it refers to. */
  async #layout(handoffId: string, stored: string): Promise<ViewLayout> {
    const n = referredView(stored);
    if (n === undefined) return parseView(stored);
    const cached = this.#cached(handoffId);
    let layout = cached.layouts.get(n);
    if (layout === undefined) {
      const text = (await this.#texts(handoffId, [n])).get(n);
      if (text === undefined) throw new Error(`hand-off view refers to a missing view ${n}`);
      layout = parseView(text);
      cached.layouts.set(n, layout);
    }
    return layout;
  }

  /**
   * Documents `numbers` of hand-off `handoffId`, parsed. The sessions of one drain mostly hold the same documents
   * and mostly come back to the same few processes: each is read and parsed once here, not once per session.
   */
  async #documents(handoffId: string, numbers: readonly number[]): Promise<ReadonlyMap<number, Fields>> {
    const parsed = this.#cached(handoffId).documents;
    const missing = numbers.filter((n) => !parsed.has(n));
    if (missing.length > 0)
      for (const [n, text] of await this.#texts(handoffId, missing)) parsed.set(n, parseDocument(text));
    return parsed;
  }

  async #texts(handoffId: string, numbers: readonly number[]): Promise<Map<number, string>> {
    const rows = await this.db.query<{ n: number; fields: string }>(
      'SELECT n, fields FROM pgrt.ddp_handoff_documents WHERE handoff_id = $1 AND n = ANY($2::int[])',
      [handoffId, numbers],
    );
    return new Map(rows.rows.map((row) => [row.n, row.fields]));
  }

  /** What is kept of hand-off `handoffId` (made, and the oldest dropped past {@link CACHED_HANDOFFS}, if new). */
  #cached(handoffId: string): ParsedHandoff {
    let cached = this.#parsed.get(handoffId);
    if (cached) {
      this.#parsed.delete(handoffId); // most recent last
    } else {
      cached = { documents: new Map(), layouts: new Map() };
      for (const oldest of this.#parsed.keys()) {
        if (this.#parsed.size < CACHED_HANDOFFS) break;
        this.#parsed.delete(oldest);
      }
    }
    this.#parsed.set(handoffId, cached);
    return cached;
  }
}

/** A hand-off's documents and shared views as a taker parsed them (read only). */
interface ParsedHandoff {
  readonly documents: Map<number, Fields>;
  readonly layouts: Map<number, ViewLayout>;
}
