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
 * The distinct document contents of a hand-off, numbered from 0 in first-seen order. The sessions' views share
 * the observers' objects (documents are held once per process), so most are found by identity; equal contents
 * in different objects are found by their EJSON text.
 */
export class DocumentTable {
  readonly #byObject = new Map<Fields, number>();
  readonly #byText = new Map<string, number>();
  /** EJSON text of each content, by number. */
  readonly texts: string[] = [];

  /** The number of `fields`' content, added if new. */
  ref(fields: Fields): number {
    const known = this.#byObject.get(fields);
    if (known !== undefined) return known;
    const text = stringify(fields);
    let n = this.#byText.get(text);
    if (n === undefined) {
      n = this.texts.length;
      this.texts.push(text);
      this.#byText.set(text, n);
    }
    this.#byObject.set(fields, n);
    return n;
  }
}

/**
 * A view as text: `{"<collection>": ["<id>", <n>, "<id>", <n>, …], …}`, each `n` a content of `documents`
 * (added there as needed).
 */
export function encodeView(view: Snapshot, documents: DocumentTable): string {
  const out: Record<string, (string | number)[]> = {};
  for (const [collection, docs] of view) {
    const flat: (string | number)[] = [];
    for (const [id, fields] of docs) flat.push(id, documents.ref(fields));
    out[collection] = flat;
  }
  return JSON.stringify(out);
}

/** The content numbers a view refers to (each once). */
export function viewDocumentNumbers(text: string): number[] {
  const numbers = new Set<number>();
  for (const flat of Object.values(parseView(text)))
    for (let i = 1; i < flat.length; i += 2) numbers.add(flat[i] as number);
  return [...numbers];
}

/**
 * The view back as a snapshot, its documents' contents from `contents` (number → EJSON text, as the store returns
 * them). Throws on a number without content (the hand-off is then not used).
 */
export function decodeView(text: string, contents: ReadonlyMap<number, string>): Snapshot {
  const parsed = new Map<number, Fields>();
  const snapshot: Snapshot = new Map();
  for (const [collection, flat] of Object.entries(parseView(text))) {
    const docs = new Map<string, Fields>();
    for (let i = 0; i < flat.length; i += 2) {
      const n = flat[i + 1] as number;
      let fields = parsed.get(n);
      if (fields === undefined) {
        const content = contents.get(n);
        if (content === undefined) throw new Error(`hand-off view refers to a missing document ${n}`);
        fields = parse(content) as Fields;
        parsed.set(n, fields);
      }
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

function parseView(text: string): Record<string, (string | number)[]> {
  return JSON.parse(text) as Record<string, (string | number)[]>;
}
