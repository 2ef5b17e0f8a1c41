/**
 * WAMP v2 messages: type codes, the typed union of what a client may send, a strict parser from a decoded list
 * to that union, and builders for what the router sends (reference/wamp.md §1.1, "No Polymorphism").
 *
 * The parser checks structure only (element count and types, id ranges); URI syntax, authorization and routing
 * are the router's business. Anything a client may not send, or sends malformed, is a {@link ProtocolViolation}:
 * the caller answers it with ABORT `wamp.error.protocol_violation`. Unknown Options/Details keys are kept and
 * ignored by the router, as the spec requires.
 */
import { ProtocolViolation } from './errors.js';
import { isWampId } from './ids.js';

/** Message type codes (Basic and Advanced Profile). */
export const MessageCode = {
  HELLO: 1,
  WELCOME: 2,
  ABORT: 3,
  CHALLENGE: 4,
  AUTHENTICATE: 5,
  GOODBYE: 6,
  ERROR: 8,
  PUBLISH: 16,
  PUBLISHED: 17,
  SUBSCRIBE: 32,
  SUBSCRIBED: 33,
  UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35,
  EVENT: 36,
  CALL: 48,
  CANCEL: 49,
  RESULT: 50,
  REGISTER: 64,
  REGISTERED: 65,
  UNREGISTER: 66,
  UNREGISTERED: 67,
  INVOCATION: 68,
  INTERRUPT: 69,
  YIELD: 70,
} as const;

/** A WAMP dictionary (Options, Details, ArgumentsKw). */
export type Dict = Record<string, unknown>;

/** Application payload: positional and keyword arguments, both optional. */
export interface Payload {
  readonly args?: readonly unknown[];
  readonly kwargs?: Dict;
}

/** A message a client may send, parsed. */
export type ClientMessage =
  | { readonly type: 'HELLO'; readonly realm: string; readonly details: Dict }
  | { readonly type: 'ABORT'; readonly details: Dict; readonly reason: string }
  | { readonly type: 'AUTHENTICATE'; readonly signature: string; readonly extra: Dict }
  | { readonly type: 'GOODBYE'; readonly details: Dict; readonly reason: string }
  | ({
      readonly type: 'ERROR';
      readonly requestType: number;
      readonly request: number;
      readonly details: Dict;
      readonly error: string;
    } & Payload)
  | ({
      readonly type: 'PUBLISH';
      readonly request: number;
      readonly options: Dict;
      readonly topic: string;
    } & Payload)
  | { readonly type: 'SUBSCRIBE'; readonly request: number; readonly options: Dict; readonly topic: string }
  | { readonly type: 'UNSUBSCRIBE'; readonly request: number; readonly subscription: number }
  | ({
      readonly type: 'CALL';
      readonly request: number;
      readonly options: Dict;
      readonly procedure: string;
    } & Payload)
  | { readonly type: 'CANCEL'; readonly request: number; readonly options: Dict }
  | {
      readonly type: 'REGISTER';
      readonly request: number;
      readonly options: Dict;
      readonly procedure: string;
    }
  | { readonly type: 'UNREGISTER'; readonly request: number; readonly registration: number }
  | ({ readonly type: 'YIELD'; readonly request: number; readonly options: Dict } & Payload);

/** Client messages that carry a session-scope request id subject to the sequence rule (§1.7). */
export type SequencedMessage = Extract<
  ClientMessage,
  { type: 'PUBLISH' | 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'CALL' | 'REGISTER' | 'UNREGISTER' }
>;

/** True for the message types whose request id must increase (§1.7). */
export function isSequenced(message: ClientMessage): message is SequencedMessage {
  switch (message.type) {
    case 'PUBLISH':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
    case 'CALL':
    case 'REGISTER':
    case 'UNREGISTER':
      return true;
    default:
      return false;
  }
}

const ROUTER_ONLY = new Map<number, string>([
  [MessageCode.WELCOME, 'WELCOME'],
  [MessageCode.CHALLENGE, 'CHALLENGE'],
  [MessageCode.PUBLISHED, 'PUBLISHED'],
  [MessageCode.SUBSCRIBED, 'SUBSCRIBED'],
  [MessageCode.UNSUBSCRIBED, 'UNSUBSCRIBED'],
  [MessageCode.EVENT, 'EVENT'],
  [MessageCode.RESULT, 'RESULT'],
  [MessageCode.REGISTERED, 'REGISTERED'],
  [MessageCode.UNREGISTERED, 'UNREGISTERED'],
  [MessageCode.INVOCATION, 'INVOCATION'],
  [MessageCode.INTERRUPT, 'INTERRUPT'],
]);

/** True for a plain dictionary (not a list, not binary, not null). */
export function isDict(value: unknown): value is Dict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  );
}

function dict(value: unknown, what: string): Dict {
  if (!isDict(value)) throw new ProtocolViolation(`${what} must be a dict`);
  return value;
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ProtocolViolation(`${what} must be a string`);
  return value;
}

function id(value: unknown, what: string): number {
  if (!isWampId(value)) throw new ProtocolViolation(`${what} must be an integer in [1, 2^53]`);
  return value;
}

/** Reads the optional trailing Arguments and ArgumentsKw starting at `index`. */
function payload(list: readonly unknown[], index: number): Payload {
  if (list.length > index + 2) throw new ProtocolViolation('too many message elements');
  const args = list[index];
  const kwargs = list[index + 1];
  if (list.length > index && !Array.isArray(args)) throw new ProtocolViolation('Arguments must be a list');
  if (list.length > index + 1 && !isDict(kwargs)) throw new ProtocolViolation('ArgumentsKw must be a dict');
  return {
    ...(list.length > index ? { args: args as unknown[] } : {}),
    ...(list.length > index + 1 ? { kwargs: kwargs as Dict } : {}),
  };
}

function exactly(list: readonly unknown[], count: number, name: string): void {
  if (list.length !== count) throw new ProtocolViolation(`${name} must have ${count} elements`);
}

function atLeast(list: readonly unknown[], count: number, name: string): void {
  if (list.length < count) throw new ProtocolViolation(`${name} must have at least ${count} elements`);
}

/**
 * Parses a decoded message.
 * @throws ProtocolViolation for anything but a well-formed message a client may send.
 */
export function parseClientMessage(value: unknown): ClientMessage {
  if (!Array.isArray(value) || value.length === 0)
    throw new ProtocolViolation('a message must be a non-empty list');
  const list: readonly unknown[] = value;
  const code = list[0];
  if (typeof code !== 'number' || !Number.isInteger(code)) {
    throw new ProtocolViolation('message type must be an integer');
  }
  switch (code) {
    case MessageCode.HELLO:
      exactly(list, 3, 'HELLO');
      return { type: 'HELLO', realm: str(list[1], 'Realm'), details: dict(list[2], 'Details') };
    case MessageCode.ABORT:
      atLeast(list, 3, 'ABORT');
      return { type: 'ABORT', details: dict(list[1], 'Details'), reason: str(list[2], 'Reason') };
    case MessageCode.AUTHENTICATE:
      exactly(list, 3, 'AUTHENTICATE');
      return { type: 'AUTHENTICATE', signature: str(list[1], 'Signature'), extra: dict(list[2], 'Extra') };
    case MessageCode.GOODBYE:
      exactly(list, 3, 'GOODBYE');
      return { type: 'GOODBYE', details: dict(list[1], 'Details'), reason: str(list[2], 'Reason') };
    case MessageCode.ERROR:
      atLeast(list, 5, 'ERROR');
      return {
        type: 'ERROR',
        requestType: id(list[1], 'REQUEST.Type'),
        request: id(list[2], 'Request'),
        details: dict(list[3], 'Details'),
        error: str(list[4], 'Error'),
        ...payload(list, 5),
      };
    case MessageCode.PUBLISH:
      atLeast(list, 4, 'PUBLISH');
      return {
        type: 'PUBLISH',
        request: id(list[1], 'Request'),
        options: dict(list[2], 'Options'),
        topic: str(list[3], 'Topic'),
        ...payload(list, 4),
      };
    case MessageCode.SUBSCRIBE:
      exactly(list, 4, 'SUBSCRIBE');
      return {
        type: 'SUBSCRIBE',
        request: id(list[1], 'Request'),
        options: dict(list[2], 'Options'),
        topic: str(list[3], 'Topic'),
      };
    case MessageCode.UNSUBSCRIBE:
      exactly(list, 3, 'UNSUBSCRIBE');
      return {
        type: 'UNSUBSCRIBE',
        request: id(list[1], 'Request'),
        subscription: id(list[2], 'Subscription'),
      };
    case MessageCode.CALL:
      atLeast(list, 4, 'CALL');
      return {
        type: 'CALL',
        request: id(list[1], 'Request'),
        options: dict(list[2], 'Options'),
        procedure: str(list[3], 'Procedure'),
        ...payload(list, 4),
      };
    case MessageCode.CANCEL:
      exactly(list, 3, 'CANCEL');
      return { type: 'CANCEL', request: id(list[1], 'Request'), options: dict(list[2], 'Options') };
    case MessageCode.REGISTER:
      exactly(list, 4, 'REGISTER');
      return {
        type: 'REGISTER',
        request: id(list[1], 'Request'),
        options: dict(list[2], 'Options'),
        procedure: str(list[3], 'Procedure'),
      };
    case MessageCode.UNREGISTER:
      exactly(list, 3, 'UNREGISTER');
      return {
        type: 'UNREGISTER',
        request: id(list[1], 'Request'),
        registration: id(list[2], 'Registration'),
      };
    case MessageCode.YIELD:
      atLeast(list, 3, 'YIELD');
      return {
        type: 'YIELD',
        request: id(list[1], 'Request'),
        options: dict(list[2], 'Options'),
        ...payload(list, 3),
      };
    default: {
      const routerOnly = ROUTER_ONLY.get(code);
      throw new ProtocolViolation(
        routerOnly ? `a client may not send ${routerOnly}` : `unknown message type ${code}`,
      );
    }
  }
}

// ---- outbound ------------------------------------------------------------------------------------------------

/** A message the router sends: a list starting with its type code, ready for a serializer. */
export type RouterMessage = readonly unknown[];

/** Appends a payload, omitting empty trailing parts (Arguments is kept as `[]` when ArgumentsKw follows). */
export function withPayload(head: unknown[], payload: Payload): unknown[] {
  const { args, kwargs } = payload;
  if (kwargs !== undefined && Object.keys(kwargs).length > 0) head.push(args ?? [], kwargs);
  else if (args !== undefined && args.length > 0) head.push(args);
  return head;
}

/** Builders of router messages. */
export const Out = {
  welcome: (session: number, details: Dict): RouterMessage => [MessageCode.WELCOME, session, details],
  abort: (details: Dict, reason: string): RouterMessage => [MessageCode.ABORT, details, reason],
  challenge: (authmethod: string, extra: Dict): RouterMessage => [MessageCode.CHALLENGE, authmethod, extra],
  goodbye: (details: Dict, reason: string): RouterMessage => [MessageCode.GOODBYE, details, reason],
  error: (
    requestType: number,
    request: number,
    details: Dict,
    error: string,
    p: Payload = {},
  ): RouterMessage => withPayload([MessageCode.ERROR, requestType, request, details, error], p),
  published: (request: number, publication: number): RouterMessage => [
    MessageCode.PUBLISHED,
    request,
    publication,
  ],
  subscribed: (request: number, subscription: number): RouterMessage => [
    MessageCode.SUBSCRIBED,
    request,
    subscription,
  ],
  unsubscribed: (request: number): RouterMessage => [MessageCode.UNSUBSCRIBED, request],
  event: (subscription: number, publication: number, details: Dict, p: Payload): RouterMessage =>
    withPayload([MessageCode.EVENT, subscription, publication, details], p),
  result: (request: number, details: Dict, p: Payload): RouterMessage =>
    withPayload([MessageCode.RESULT, request, details], p),
  registered: (request: number, registration: number): RouterMessage => [
    MessageCode.REGISTERED,
    request,
    registration,
  ],
  unregistered: (request: number): RouterMessage => [MessageCode.UNREGISTERED, request],
  invocation: (request: number, registration: number, details: Dict, p: Payload): RouterMessage =>
    withPayload([MessageCode.INVOCATION, request, registration, details], p),
  interrupt: (request: number, options: Dict): RouterMessage => [MessageCode.INTERRUPT, request, options],
};
