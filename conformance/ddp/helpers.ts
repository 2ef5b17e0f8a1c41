/**
 * Assertions and small DDP conversations shared by the cases: calling a method and collecting both its `result`
 * and its `updated` (in either order), subscribing until `ready` or `nosub`, a queue barrier, and exact checks of
 * Meteor.Error-shaped objects and top-level `error` messages (ddp.md §1.8).
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import {
  type DdpMessage,
  type DdpTestClient,
  described,
  type JsonObject,
  type JsonValue,
  type Predicate,
} from './client.js';

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Matches `updated` messages whose `methods` include `id`. */
export function updatedFor(id: string): Predicate {
  return described(
    `updated with methods including ${JSON.stringify(id)}`,
    (m) => m.msg === 'updated' && Array.isArray(m.methods) && m.methods.includes(id),
  );
}

/** Matches data messages (`added`/`changed`/`removed`), optionally of one collection. */
export function isData(collection?: string): Predicate {
  return described(
    `added/changed/removed${collection === undefined ? '' : ` of ${JSON.stringify(collection)}`}`,
    (m) =>
      (m.msg === 'added' || m.msg === 'changed' || m.msg === 'removed') &&
      (collection === undefined || m.collection === collection),
  );
}

/** Matches `ready` messages whose `subs` include `id`. */
export function readyFor(id: string): Predicate {
  const readyFor = (m: DdpMessage): boolean =>
    m.msg === 'ready' && Array.isArray(m.subs) && m.subs.includes(id);
  return readyFor;
}

/** A method call's two replies. */
export interface CallReplies {
  readonly id: string;
  readonly result: DdpMessage;
  readonly updated: DdpMessage;
}

/** Options of {@link call}. */
export interface CallOptions {
  /** Method id (default: the client's next `m<n>`). */
  readonly id?: string;
  readonly randomSeed?: string;
  /** Omit `params` from the message entirely (checklist 44). */
  readonly omitParams?: boolean;
}

/**
 * Sends a `method` and waits for both its `result` and an `updated` naming it, in either order (the Meteor client
 * fires a callback only after both; ddp.md §1.6).
 */
export async function call(
  client: DdpTestClient,
  method: string,
  params: JsonValue[] = [],
  options: CallOptions = {},
): Promise<CallReplies> {
  const id = options.id ?? client.nextMethodId();
  const message: JsonObject = { msg: 'method', id, method };
  if (!options.omitParams) message.params = params;
  if (options.randomSeed !== undefined) message.randomSeed = options.randomSeed;
  client.send(message);
  const [result, updated] = await Promise.all([
    client.next({ msg: 'result', id }),
    client.next(updatedFor(id)),
  ]);
  return { id, result, updated };
}

/**
 * Sends a `method` and waits for its `result` only. DDP.md requires the `result`; `updated` is a "should", so cases
 * that check a MUST use this and leave `updated` alone.
 */
export async function callResult(
  client: DdpTestClient,
  method: string,
  params: JsonValue[] = [],
  options: CallOptions = {},
): Promise<DdpMessage> {
  const id = options.id ?? client.nextMethodId();
  const message: JsonObject = { msg: 'method', id, method };
  if (!options.omitParams) message.params = params;
  if (options.randomSeed !== undefined) message.randomSeed = options.randomSeed;
  client.send(message);
  return client.next({ msg: 'result', id });
}

/** Calls a method that must succeed and returns its `result` value (undefined when the key is absent). */
export async function callValue(
  client: DdpTestClient,
  method: string,
  params: JsonValue[] = [],
  options: CallOptions = {},
): Promise<JsonValue | undefined> {
  // Both replies: the fixture calls of a case's setup must be settled (`updated` too) before it goes on.
  const { result } = await call(client, method, params, options);
  assert.equal(result.error, undefined, `${method} failed: ${JSON.stringify(result.error)}`);
  return result.result;
}

/** Deletes every task (fixture `resetTasks`), so a case starts from an empty `tasks` collection. */
export async function resetTasks(client: DdpTestClient): Promise<void> {
  await callValue(client, 'resetTasks');
}

/** Inserts tasks with exact ids (fixture `insertTaskWithId`). */
export async function insertTasks(client: DdpTestClient, docs: Record<string, JsonObject>): Promise<void> {
  for (const [id, fields] of Object.entries(docs)) await callValue(client, 'insertTaskWithId', [id, fields]);
}

/**
 * A queue barrier: an `echo` call. The server processes a connection's messages in order, so once it answers,
 * everything sent before it has been handled (pings excepted: they are answered out of band). This one waits for
 * the echo's `result` only (no `updated`, a DDP "should"); the in-order processing it relies on is Meteor's
 * behaviour (checklist 53), which every DDP server we know shares.
 */
export async function echoBarrier(client: DdpTestClient): Promise<DdpMessage> {
  const result = await callResult(client, 'echo', ['barrier']);
  assert.deepEqual(result.result, ['barrier'], 'barrier echo');
  return result;
}

/** {@link echoBarrier} that also waits for the echo's `updated` (both replies returned). */
export async function barrier(client: DdpTestClient): Promise<CallReplies> {
  const replies = await call(client, 'echo', ['barrier']);
  assert.deepEqual(replies.result.result, ['barrier'], 'barrier echo');
  return replies;
}

/** Sends `sub` and waits for its `ready` or `nosub`; returns that message. */
export async function subscribe(
  client: DdpTestClient,
  id: string,
  name: string,
  params?: JsonValue[],
): Promise<DdpMessage> {
  const message: JsonObject = { msg: 'sub', id, name };
  if (params !== undefined) message.params = params;
  client.send(message);
  const ready = readyFor(id);
  return client.next(
    described(
      `ready or nosub for sub ${JSON.stringify(id)}`,
      (m) => ready(m) || (m.msg === 'nosub' && m.id === id),
    ),
  );
}

/** Subscribes and asserts `ready` (not `nosub`). */
export async function subscribeReady(
  client: DdpTestClient,
  id: string,
  name: string,
  params: JsonValue[] = [],
): Promise<DdpMessage> {
  const reply = await subscribe(client, id, name, params);
  assert.equal(reply.msg, 'ready', `sub ${name} failed: ${JSON.stringify(reply)}`);
  return reply;
}

/** Sends `unsub` and waits for its `nosub`. */
export async function unsubscribe(client: DdpTestClient, id: string): Promise<DdpMessage> {
  client.send({ msg: 'unsub', id });
  return client.next({ msg: 'nosub', id });
}

/**
 * Asserts a Meteor.Error wire object (ddp.md §1.8): every `required` key with exactly that value, every
 * `optional` key either absent or exactly that value, `isClientSafe` absent or `true`, and no other key (so
 * nothing else, such as a stack or an internal message, leaks).
 */
export function assertWireError(
  actual: JsonValue | undefined,
  required: JsonObject,
  optional: JsonObject = {},
  label = 'error',
): void {
  assert.ok(
    typeof actual === 'object' && actual !== null && !Array.isArray(actual),
    `${label}: expected an object, got ${JSON.stringify(actual)}`,
  );
  for (const [key, value] of Object.entries(required)) {
    assert.ok(
      key in actual,
      `${label}: missing ${key} (expected ${JSON.stringify(value)}) in ${JSON.stringify(actual)}`,
    );
    assert.deepEqual(actual[key], value, `${label}.${key} in ${JSON.stringify(actual)}`);
  }
  for (const [key, value] of Object.entries(optional)) {
    if (key in actual) assert.deepEqual(actual[key], value, `${label}.${key} in ${JSON.stringify(actual)}`);
  }
  if ('isClientSafe' in actual) assert.equal(actual.isClientSafe, true, `${label}.isClientSafe`);
  const allowed = new Set([...Object.keys(required), ...Object.keys(optional), 'isClientSafe']);
  const extra = Object.keys(actual).filter((key) => !allowed.has(key));
  assert.deepEqual(extra, [], `${label}: unexpected keys in ${JSON.stringify(actual)}`);
}

/** How a top-level `error` must carry `offendingMessage`. */
export type Offending = { readonly required: JsonValue } | { readonly optional: JsonValue } | 'absent';

/**
 * Asserts a top-level `error` message (ddp.md §1.8: only `reason` and `offendingMessage`): exactly `reason`, and
 * `offendingMessage` as specified.
 */
export function assertProtocolError(message: DdpMessage, reason: string, offending: Offending): void {
  assert.equal(message.msg, 'error', `expected an error message, got ${JSON.stringify(message)}`);
  assert.equal(message.reason, reason, `error reason in ${JSON.stringify(message)}`);
  if (offending === 'absent') {
    assert.ok(!('offendingMessage' in message), `unexpected offendingMessage in ${JSON.stringify(message)}`);
  } else if ('required' in offending) {
    assert.ok('offendingMessage' in message, `missing offendingMessage in ${JSON.stringify(message)}`);
    assert.deepEqual(message.offendingMessage, offending.required, 'offendingMessage');
  } else if ('offendingMessage' in message) {
    assert.deepEqual(message.offendingMessage, offending.optional, 'offendingMessage');
  }
  const extra = Object.keys(message).filter((key) => !['msg', 'reason', 'offendingMessage'].includes(key));
  assert.deepEqual(extra, [], `unexpected keys in ${JSON.stringify(message)}`);
}

/** Asserts the client saw no message matching `predicate` (taken or pending) since it opened. */
export function assertNeverReceived(client: DdpTestClient, predicate: Predicate, what: string): void {
  const seen = client.received(predicate);
  assert.deepEqual(seen, [], `expected no ${what}`);
}

/** True when `a` and `b` are deeply equal (re-exported for cases). */
export function deepEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Sends `connect` with a version the server must refuse and asserts `failed {version}` and then a close. */
export async function expectFailedThenClose(
  client: DdpTestClient,
  connect: JsonObject,
  version: string | undefined = '1',
): Promise<DdpMessage> {
  client.send(connect);
  const failed = await client.next((m) => m.msg === 'failed' || m.msg === 'connected' || m.msg === 'error');
  if (version === undefined) {
    assert.equal(failed.msg, 'failed', `expected failed, got ${JSON.stringify(failed)}`);
    assert.equal(typeof failed.version, 'string', 'failed.version is a string');
  } else {
    assert.deepEqual(failed, { msg: 'failed', version });
  }
  await client.waitClose();
  return failed;
}
