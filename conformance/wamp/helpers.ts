/**
 * Assertions and small WAMP conversations shared by the cases: exact ERROR and ABORT shapes, the
 * protocol-violation outcome (ABORT `wamp.error.protocol_violation`, then the transport closes), ordered
 * barriers that prove a message was NOT sent without sleeping, and a callee loop.
 */
import assert from 'node:assert/strict';
import {
  ANY,
  described,
  isDict,
  type Match,
  type Predicate,
  render,
  type WampMessage,
  type WampPeer,
} from './client.js';
import { isId, MSG, URI } from './messages.js';
import type { WampDict, WampValue } from './serializers.js';

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Matches EVENTs of subscription `subscription`. */
export function eventOf(subscription: number): Predicate {
  return described(
    `EVENT of subscription ${subscription}`,
    (m) => m[0] === MSG.EVENT && m[1] === subscription,
  );
}

/** Matches ERRORs answering request `request` of type `requestType`. */
export function errorFor(requestType: number, request: number): Predicate {
  return described(
    `ERROR for request ${request} (type ${requestType})`,
    (m) => m[0] === MSG.ERROR && m[1] === requestType && m[2] === request,
  );
}

/** The Details dict at `index` of a message (asserted to be a dict). */
export function detailsOf(message: WampMessage, index: number): WampDict {
  const details = message[index];
  assert.ok(isDict(details), `expected a dict at position ${index} of ${render(message)}`);
  return details;
}

/** Asserts an ERROR `[8, requestType, request, {…}, uri, …]` with `uri` one of `uris`. */
export function assertError(
  message: WampMessage,
  requestType: number,
  request: number,
  uris: string | readonly string[],
): void {
  const allowed = typeof uris === 'string' ? [uris] : uris;
  assert.equal(message[0], MSG.ERROR, `expected ERROR ${allowed.join(' or ')}, got ${render(message)}`);
  assert.equal(message[1], requestType, `ERROR.REQUEST.Type in ${render(message)}`);
  assert.equal(message[2], request, `ERROR.REQUEST.Request in ${render(message)}`);
  detailsOf(message, 3);
  assert.ok(
    typeof message[4] === 'string' && allowed.includes(message[4]),
    `expected ERROR ${allowed.join(' or ')}, got ${render(message)}`,
  );
}

/** Asserts an ABORT `[3, {…}, reason]` with `reason` one of `reasons`. */
export function assertAbort(message: WampMessage, reasons: string | readonly string[]): void {
  const allowed = typeof reasons === 'string' ? [reasons] : reasons;
  assert.equal(message[0], MSG.ABORT, `expected ABORT ${allowed.join(' or ')}, got ${render(message)}`);
  detailsOf(message, 1);
  assert.ok(
    typeof message[2] === 'string' && allowed.includes(message[2]),
    `expected ABORT ${allowed.join(' or ')}, got ${render(message)}`,
  );
}

/** Options of {@link expectViolation}. */
export interface ViolationOptions {
  /** Accept the transport closing without an ABORT ("or connection failed", checklist 6). */
  readonly closeWithoutAbort?: boolean;
  /** Accepted ABORT reasons (default protocol_violation only). */
  readonly reasons?: readonly string[];
}

/**
 * The outcome of a protocol violation (wamp.md §1.7): the next router message is ABORT
 * `wamp.error.protocol_violation` (nothing else first). The spec's MUST ends there; dropping the transport after it
 * is a SHOULD, checked by `violations.drop` on its own.
 */
export async function expectViolation(peer: WampPeer, options: ViolationOptions = {}): Promise<void> {
  const reasons = options.reasons ?? [URI.protocolViolation];
  let message: WampMessage | undefined;
  try {
    message = await peer.next();
  } catch (error) {
    if (!(options.closeWithoutAbort && !peer.isOpen)) {
      throw peer.failure(
        `expected ABORT ${reasons.join(' or ')} then a close; ${String(error).split('\n')[0]}`,
      );
    }
  }
  if (message !== undefined) {
    try {
      assertAbort(message, reasons);
    } catch (error) {
      throw peer.failure((error as Error).message);
    }
  }
}

/** Asserts that the peer received nothing at all (no message, no undecodable frame). */
export function assertSilent(peer: WampPeer, what: string): void {
  const messages = peer.received();
  const frames = peer.undecodedFrames();
  if (messages.length > 0 || frames.length > 0) {
    throw peer.failure(`expected ${what}, got ${[...messages.map((m) => render(m)), ...frames].join(', ')}`);
  }
}

/**
 * A pubsub barrier: `subscriber` subscribes to a fresh topic, `publisher` publishes a marker there and the
 * subscriber waits for it. Events keep their order per (publisher, subscriber) pair across topics (wamp.md §1.8),
 * so afterwards every earlier event from `publisher` to `subscriber` has arrived.
 */
export async function pubsubBarrier(publisher: WampPeer, subscriber: WampPeer, topic: string): Promise<void> {
  const subscription = await subscriber.subscribe(topic);
  const published = await publisher.publishAck(topic, ['barrier']);
  assert.equal(published[0], MSG.PUBLISHED, `barrier publish: ${render(published)}`);
  await subscriber.next(eventOf(subscription));
}

/**
 * Registers `procedure` on `callee` and answers each INVOCATION with `handler`'s YIELD args (echo by default)
 * until the peer closes. Returns the registration id.
 */
export async function serve(
  callee: WampPeer,
  procedure: string,
  handler: (invocation: WampMessage) => WampValue[] = (invocation) => {
    const args = invocation[4];
    return Array.isArray(args) ? args : [];
  },
  options: WampDict = {},
): Promise<number> {
  const registration = await callee.register(procedure, options);
  const loop = async (): Promise<void> => {
    while (callee.isOpen) {
      const invocation = await callee.invocation(registration, 60_000);
      const request = invocation[1];
      if (isId(request)) callee.yield(request, handler(invocation));
    }
  };
  loop().catch(() => undefined);
  return registration;
}

/** The positional args of a RESULT or EVENT-like message at `index` (empty when absent). */
export function argsAt(message: WampMessage, index: number): WampValue[] {
  const args = message[index];
  return Array.isArray(args) ? args : [];
}

/** Asserts that `message` is a RESULT for `request` (not an ERROR). */
export function assertResult(message: WampMessage, request: number): void {
  assert.equal(message[0], MSG.RESULT, `expected RESULT for CALL ${request}, got ${render(message)}`);
  assert.equal(message[1], request, `RESULT.CALL.Request in ${render(message)}`);
  detailsOf(message, 2);
}

/**
 * Waits for the first message matching `match` at any of `peers` and takes it (only that one), polling their
 * buffers so no waiter is left behind to swallow a later message.
 */
export async function takeFromAny(
  peers: readonly WampPeer[],
  match: Match,
  timeoutMs = peers[0]?.timeoutMs ?? 2000,
): Promise<{ readonly peer: WampPeer; readonly m: WampMessage }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    for (const peer of peers) {
      const m = peer.takeFirst(match);
      if (m) return { peer, m };
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for a message at any of ${peers.map((p) => p.label).join(', ')}`,
      );
    }
    await sleep(2);
  }
}

/** An id that no router will have issued in this run (for "unknown id" cases). */
export const UNKNOWN_ID = 2 ** 53 - 12345;

export { ANY };
