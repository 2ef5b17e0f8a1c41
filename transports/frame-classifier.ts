/**
 * What a protocol tells the connection metrics about its frames (transports/connection-metrics.ts): a frame classifier. Each
 * protocol adapter supplies its own (adapters/<name>/wire-classifier.ts); the metrics only count what it says.
 * Classifiers only look: they never change or reject a frame (the adapters own parsing and validation).
 */

/** What a classifier saw in one frame. */
export interface Classified {
  /** Message type label (`method`, `added`, `CALL`, …; `other` when unknown, `invalid` when unreadable). */
  readonly type: string;
  /** An inbound method call to time. */
  readonly call?: { readonly id: string; readonly method: string };
  /** An outbound reply ending a call. */
  readonly reply?: { readonly id: string; readonly error: boolean };
  /** An inbound request to resume an earlier session. */
  readonly resume?: boolean;
}

/** Classifies one frame of a connection. */
export type Classifier = (data: string | Uint8Array, direction: 'in' | 'out') => Classified;

/** The classifier of a protocol that gives none: every frame counts as `other`. */
export const unclassified: Classifier = () => OTHER;

const OTHER: Classified = { type: 'other' };

/** Inbound frames up to this size may be parsed by a classifier to read method names and ids. */
export const CLASSIFIER_PARSE_LIMIT = 64 * 1024;
