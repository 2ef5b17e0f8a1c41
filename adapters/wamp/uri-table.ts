/**
 * The index both the broker and the dealer keep: entries (subscriptions, registrations) by router-scope id and by
 * (URI, match policy). Each side keeps its own routing rule over it — the broker delivers to every matching entry,
 * the dealer picks one (exact, then longest prefix, then best wildcard) — so only the bookkeeping lives here.
 */
import type { Dict } from './messages.js';
import type { MatchPolicy } from './uri.js';

/** What the table indexes. */
export interface UriEntry {
  readonly id: number;
  readonly uri: string;
  readonly match: MatchPolicy;
}

/** Entries by id and by (uri, match). At most one entry per (uri, match). */
export class UriTable<T extends UriEntry> {
  readonly #byId = new Map<number, T>();
  /** Exact-match entries by URI. */
  readonly exact = new Map<string, T>();
  /** Prefix-match entries by URI prefix. */
  readonly prefix = new Map<string, T>();
  /** Wildcard entries by pattern. */
  readonly wildcard = new Map<string, T>();

  /** The entry of exactly (uri, match), or undefined. */
  lookup(uri: string, match: MatchPolicy): T | undefined {
    return this.#policy(match).get(uri);
  }

  /** The entry with router-scope id `id`. */
  get(id: number): T | undefined {
    return this.#byId.get(id);
  }

  /** Adds an entry (its (uri, match) must be free). */
  add(entry: T): void {
    this.#policy(entry.match).set(entry.uri, entry);
    this.#byId.set(entry.id, entry);
  }

  /** Removes an entry. */
  delete(entry: T): void {
    this.#policy(entry.match).delete(entry.uri);
    this.#byId.delete(entry.id);
  }

  /** Every entry (a snapshot: safe to delete while iterating). */
  all(): T[] {
    return [...this.#byId.values()];
  }

  /** Ids by match policy, as the meta API's `list` procedures return them. */
  ids(): Dict {
    return {
      exact: [...this.exact.values()].map((e) => e.id),
      prefix: [...this.prefix.values()].map((e) => e.id),
      wildcard: [...this.wildcard.values()].map((e) => e.id),
    };
  }

  #policy(match: MatchPolicy): Map<string, T> {
    switch (match) {
      case 'exact':
        return this.exact;
      case 'prefix':
        return this.prefix;
      case 'wildcard':
        return this.wildcard;
    }
  }
}
