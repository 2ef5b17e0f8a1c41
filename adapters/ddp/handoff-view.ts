/**
 * What a DDP session hand-off (handoff-store.ts) writes of a session, in text, compactly: the documents of every
 * session of a draining process once ({@link DocumentTable}: one entry per distinct document content, whichever
 * sessions, collections and ids hold it), and per session only its subscriptions and, per collection, the ids it
 * holds with the number of their content in the table ({@link encodeView}). The taker decodes the view back into
 * the {@link Snapshot} the merge box diffs the rerun subscriptions against (core/merge-box.ts `diffSnapshots`), so
 * the client gets `changed` with exactly the fields that differ and `cleared` those it loses.
 */
import { createHash } from 'node:crypto';
import { parse, stringify } from '../../core/ejson.js';
import type { Fields, Snapshot } from '../../core/merge-box.js';

/** A named subscription as the client asked for it. */
export interface HandedOffSubscription {
  readonly id: string;
  readonly name: string;
  readonly params: readonly unknown[];
}

/**
 * SHA-256 (base64) of a session id: a session id is a bearer secret (whoever presents it resumes the session),
 * so only its hash is stored.
 */
export function hashSessionId(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('base64');
}

/**
 * The distinct document contents of a hand-off, numbered from 0 in first-seen order. Sessions mostly hold the
 * same documents: the observers' own objects (found by identity), or copies of them whose values are the same
 * objects (found by comparing with the last content seen for the same collection and id, value by value); other
 * equal contents are found by their EJSON text, which is computed only for those.
 */
export class DocumentTable {
  readonly #byObject = new Map<Fields, number>();
  readonly #byText = new Map<string, number>();
  /** Per collection and id, the last content seen and its number. */
  readonly #byDocument = new Map<string, Map<string, { fields: Fields; n: number }>>();
  /** EJSON text of each content, by number. */
  readonly texts: string[] = [];

  /** The number of `fields`' content (document `id` of `collection`), added if new. */
  ref(fields: Fields, collection = '', id = ''): number {
    const known = this.#byObject.get(fields);
    if (known !== undefined) return known;
    let ids = this.#byDocument.get(collection);
    if (ids === undefined) {
      ids = new Map();
      this.#byDocument.set(collection, ids);
    }
    const last = ids.get(id);
    let n: number | undefined;
    if (last !== undefined && sameValues(last.fields, fields)) n = last.n;
    else {
      const text = stringify(fields);
      n = this.#byText.get(text);
      if (n === undefined) {
        n = this.texts.length;
        this.texts.push(text);
        this.#byText.set(text, n);
      }
      ids.set(id, { fields, n });
    }
    this.#byObject.set(fields, n);
    return n;
  }
}

/** True if `a` and `b` have the same keys with the very same values. */
function sameValues(a: Fields, b: Fields): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (!Object.hasOwn(b, key) || a[key] !== b[key]) return false;
  return true;
}

/**
 * A view as text: `{"<collection>": ["<id>", <n>, "<id>", <n>, …], …}`, each `n` a content of `documents`
 * (added there as needed).
 */
export function encodeView(view: Snapshot, documents: DocumentTable): string {
  const out: Record<string, (string | number)[]> = {};
  for (const [collection, docs] of view) {
    const flat: (string | number)[] = [];
    for (const [id, fields] of docs) flat.push(id, documents.ref(fields, collection, id));
    out[collection] = flat;
  }
  return JSON.stringify(out);
}

/** The content numbers a view refers to (each once). */
export function viewDocumentNumbers(layout: ViewLayout): number[] {
  const numbers = new Set<number>();
  for (const flat of Object.values(layout))
    for (let i = 1; i < flat.length; i += 2) numbers.add(flat[i] as number);
  return [...numbers];
}

/** A document's content back from its EJSON text in the {@link DocumentTable}. */
export function parseDocument(text: string): Fields {
  return parse(text) as Fields;
}

/**
 * A view (its layout: {@link parseView}) back as a snapshot, its documents' contents from `contents` (number → fields as {@link parseDocument}
 * gives them; shared, read only). Throws on a number without content (the hand-off is then not used).
 */
export function decodeView(layout: ViewLayout, contents: ReadonlyMap<number, Fields>): Snapshot {
  const snapshot: Snapshot = new Map();
  for (const [collection, flat] of Object.entries(layout)) {
    const docs = new Map<string, Fields>();
    for (let i = 0; i < flat.length; i += 2) {
      const n = flat[i + 1] as number;
      const fields = contents.get(n);
      if (fields === undefined) throw new Error(`hand-off view refers to a missing document ${n}`);
      docs.set(flat[i] as string, fields);
    }
    snapshot.set(collection, docs);
  }
  return snapshot;
}

/** Subscriptions as text (EJSON: params may hold dates and binaries). */
export function encodeSubscriptions(subscriptions: readonly HandedOffSubscription[]): string {
  return stringify(subscriptions.map(({ id, name, params }) => ({ id, name, params })));
}

/** Subscriptions back from {@link encodeSubscriptions}. */
export function decodeSubscriptions(text: string): HandedOffSubscription[] {
  return parse(text) as unknown as HandedOffSubscription[];
}

/** A view's text ({@link encodeView}) parsed: collection → id, number, id, number, … */
export type ViewLayout = Readonly<Record<string, readonly (string | number)[]>>;

/** A view's text parsed. */
export function parseView(text: string): ViewLayout {
  return JSON.parse(text) as ViewLayout;
}

/**
 * A session's stored view: the view's text itself when short, else `@<n>`, the number of that text in the
 * hand-off's documents (sessions that hold the same documents have the same view: it is stored once).
 */
export function viewReference(n: number): string {
  return `@${n}`;
}

/** The document number a stored view refers to ({@link viewReference}), or undefined for a view's own text. */
export function referredView(stored: string): number | undefined {
  return stored.startsWith('@') ? Number(stored.slice(1)) : undefined;
}
