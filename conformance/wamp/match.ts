/**
 * What WAMP test peers wait for and how they show messages: the decoded message type, array patterns with {@link ANY}
 * and described predicates ({@link Match}), and compact rendering for transcripts and failure messages.
 */
import { isDeepStrictEqual } from 'node:util';
import { messageName } from './messages.js';
import type { WampDict, WampValue } from './serializers.js';

/** A decoded router message: a list whose first element should be a type code (cases judge the rest). */
export type WampMessage = WampValue[];

/** Matches anything at its position in an array {@link Match} pattern. */
export const ANY: unique symbol = Symbol('any');

/** A predicate over router messages, optionally carrying a description for failure messages. */
export type Predicate = ((message: WampMessage) => boolean) & { description?: string };

/**
 * What `WampPeer.next` waits for: a predicate, or an array pattern matched against the message's leading
 * elements (`[MSG.EVENT, subId]`; {@link ANY} matches any value; longer messages still match).
 */
export type Match = Predicate | readonly (WampValue | typeof ANY)[];

/** Attaches a description (used in failure messages) to a predicate. */
export function described(description: string, predicate: (message: WampMessage) => boolean): Predicate {
  return Object.assign(predicate, { description });
}

/** Describes a match for failure messages. */
export function describeMatch(match: Match | undefined): string {
  if (match === undefined) return 'any message';
  if (typeof match === 'function') return match.description ?? 'a matching message';
  const [code, ...rest] = match;
  const shown = rest.map((item) => (item === ANY ? '*' : render(item)));
  return `${messageName(code)} [${[String(code), ...shown].join(',')}…]`;
}

/** Turns a {@link Match} into a predicate. */
export function toPredicate(match: Match | undefined): Predicate {
  if (match === undefined) return () => true;
  if (typeof match === 'function') return match;
  return (message) =>
    match.every(
      (expected, i) => expected === ANY || (i < message.length && isDeepStrictEqual(message[i], expected)),
    );
}

/** Renders a value compactly for transcripts: JSON, with bytes as `<bytes 0102…>`. */
export function render(value: unknown): string {
  return (
    JSON.stringify(value, (_key, item: unknown) => {
      if (item instanceof Uint8Array) return `<bytes ${Buffer.from(item).toString('hex')}>`;
      if (typeof item === 'bigint') return `${item}n`;
      if (item === undefined) return '<undefined>';
      return item;
    }) ?? String(value)
  );
}

/** True for a WAMP dict (a plain object, not a list or bytes). */
export function isDict(value: unknown): value is WampDict {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}
