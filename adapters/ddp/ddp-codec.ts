/**
 * DDP wire encoding (Meteor's parseDDP/stringifyDDP, reference/ddp.md §1.5): JSON text frames whose `fields`,
 * `params` and `result` carry EJSON; every other field is plain JSON. `cleared` lists removed keys; empty
 * `fields` are omitted.
 */

import type { Fields } from '../../core/contexts.js';
import * as EJSON from '../../core/ejson.js';
import { DEFAULT_MAX_NESTING_DEPTH, exceedsNestingDepth } from '../../core/nesting-depth.js';
import { type ClientMessage, toClientMessage } from './client-messages.js';
import type { WireError } from './to-wire-error.js';

/** Outcome of {@link parseClientMessage}. */
export type ParseOutcome =
  /** A message, typed (client-messages.ts); `raw` is the JSON as received (echoed by handshake errors). */
  | { readonly kind: 'message'; readonly message: ClientMessage; readonly raw: Record<string, unknown> }
  /** A JSON object (or array) without a usable `msg`: Meteor answers `Bad request` echoing it. */
  | { readonly kind: 'no-msg'; readonly raw: unknown }
  /** Not JSON, or JSON that is not an object: Meteor answers `Bad request` without offendingMessage. */
  | { readonly kind: 'bad-request' }
  /** EJSON decoding failed (e.g. an unregistered custom type): Meteor answers `Parse error`. */
  | { readonly kind: 'parse-error' }
  /** JSON nested deeper than the limit (core/nesting-depth.ts): pgrt answers `Message too deeply nested`. */
  | { readonly kind: 'too-deep' };

const EJSON_FIELDS = ['fields', 'params', 'result'] as const;

/** Parses one client frame; JSON nested deeper than `maxDepth` levels is refused before EJSON decoding. */
export function parseClientMessage(text: string, maxDepth = DEFAULT_MAX_NESTING_DEPTH): ParseOutcome {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'bad-request' };
  }
  if (raw === null || typeof raw !== 'object') return { kind: 'bad-request' };
  // A deep array is no message either: Meteor's `Bad request` (without echoing it back).
  if (exceedsNestingDepth(raw, maxDepth))
    return Array.isArray(raw) ? { kind: 'bad-request' } : { kind: 'too-deep' };
  const object = raw as Record<string, unknown>;
  let message: Record<string, unknown> = object;
  try {
    for (const field of EJSON_FIELDS) {
      if (Object.hasOwn(object, field)) {
        if (message === object) message = { ...object };
        (message as Record<string, unknown>)[field] = EJSON.fromJSONValue(object[field]);
      }
    }
  } catch {
    return { kind: 'parse-error' };
  }
  if (!message.msg) return { kind: 'no-msg', raw };
  return { kind: 'message', message: toClientMessage(message), raw: object };
}

/** Server → client messages. */
export type ServerMessage =
  | { msg: 'connected'; session: string }
  | { msg: 'failed'; version: string }
  | { msg: 'ping'; id?: string }
  | { msg: 'pong'; id?: unknown }
  | { msg: 'error'; reason: string; offendingMessage?: unknown }
  | { msg: 'added'; collection: string; id: string; fields: Fields }
  | { msg: 'changed'; collection: string; id: string; fields: Fields; cleared: readonly string[] }
  | { msg: 'removed'; collection: string; id: string }
  | { msg: 'ready'; subs: readonly string[] }
  | { msg: 'nosub'; id: string | undefined; error?: WireError }
  | { msg: 'result'; id: string; result?: unknown; error?: WireError }
  | { msg: 'updated'; methods: readonly string[] };

type DataMessage = Extract<ServerMessage, { msg: 'added' | 'changed' }>;

/** A data message's encoding, by its `fields` object (with what else the text depends on). */
interface EncodedData {
  readonly fields: object;
  readonly collection: string;
  readonly id: string;
  readonly cleared: readonly string[] | null;
  readonly text: string;
}

/**
 * The last two data messages encoded, most recent first. One observer emission hands the same `fields` object to
 * every session it reaches, one session after the other (the merge box passes it through when it says the same
 * thing), so each emission is encoded once, not once per subscriber. The second entry keeps the shared emission
 * when a session in between had a message of its own (a document it also holds through another subscription).
 * Two entries cost nothing per message that reaches a single session (a WeakMap entry per emission did: an
 * allocation and an ephemeron for the collector); holding the objects strongly keeps their identity from being
 * reused. `fields` objects are never mutated.
 */
let recentData: EncodedData | undefined;
let olderData: EncodedData | undefined;

/** True if `entry` is the encoding of `message` (whose `cleared`, or null for `added`, is `cleared`). */
function encodes(
  entry: EncodedData | undefined,
  message: DataMessage,
  cleared: readonly string[] | null,
): entry is EncodedData {
  return (
    entry !== undefined &&
    entry.fields === message.fields &&
    entry.id === message.id &&
    entry.collection === message.collection &&
    entry.cleared === cleared
  );
}

/**
 * Encodings of `added` messages by their `fields` object. A document's fields object is its live observer's own,
 * one per version, shared by every session holding it, whenever the session subscribed (attaching sends each
 * current document as it is): so each is encoded once per process, and every session's frame of it, and every
 * session's resumption log, holds the same string (core/live/live-observer.ts, DESIGN.md decision 15). The
 * entries live as long as the fields objects.
 */
const addedTexts = new WeakMap<object, EncodedData>();

/**
 * The last `removed` encoded: an observer hands the same collection and id to every session it reaches, one after
 * the other, so a removal fanned out is encoded once too.
 */
let lastRemoved: { collection: string; id: string; text: string } | undefined;

/** Encodes one server message as a text frame. */
export function encodeServerMessage(message: ServerMessage): string {
  if (message.msg === 'removed') {
    const last = lastRemoved;
    if (last !== undefined && last.id === message.id && last.collection === message.collection)
      return last.text;
    const text = encodeUncached(message);
    lastRemoved = { collection: message.collection, id: message.id, text };
    return text;
  }
  if ((message.msg === 'added' || message.msg === 'changed') && hasKeys(message.fields)) {
    const cleared = message.msg === 'changed' ? message.cleared : null;
    const recent = recentData;
    if (encodes(recent, message, cleared)) return recent.text;
    const older = olderData;
    if (encodes(older, message, cleared)) {
      olderData = recent;
      recentData = older;
      return older.text;
    }
    const known = cleared === null ? addedTexts.get(message.fields) : undefined;
    if (encodes(known, message, cleared)) return known.text;
    const text = encodeUncached(message);
    olderData = recent;
    recentData = { fields: message.fields, collection: message.collection, id: message.id, cleared, text };
    if (cleared === null) addedTexts.set(message.fields, recentData);
    return text;
  }
  return encodeUncached(message);
}

function encodeUncached(message: ServerMessage): string {
  switch (message.msg) {
    case 'added': {
      const out: Record<string, unknown> = { msg: 'added', collection: message.collection, id: message.id };
      if (hasKeys(message.fields)) out.fields = EJSON.toJSONValue(message.fields);
      return JSON.stringify(out);
    }
    case 'changed': {
      const out: Record<string, unknown> = { msg: 'changed', collection: message.collection, id: message.id };
      if (hasKeys(message.fields)) out.fields = EJSON.toJSONValue(message.fields);
      if (message.cleared.length > 0) out.cleared = message.cleared;
      return JSON.stringify(out);
    }
    case 'result': {
      if (message.error) return JSON.stringify({ msg: 'result', id: message.id, error: message.error });
      if (message.result === undefined) return JSON.stringify({ msg: 'result', id: message.id });
      return JSON.stringify({ msg: 'result', id: message.id, result: EJSON.toJSONValue(message.result) });
    }
    default:
      return JSON.stringify(message);
  }
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}
