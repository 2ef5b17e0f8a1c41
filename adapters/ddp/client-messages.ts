/**
 * Inbound DDP messages as a discriminated union (reference/ddp.md §1.3–1.8), checked once when a frame is parsed
 * (ddp-codec.ts) so that the state machines (ddp-connection.ts, ddp-session.ts) switch over typed messages,
 * exhaustively. Checks are Meteor's: a `sub` or `method` with a wrong field is not refused here but becomes a
 * {@link MalformedMessage}, answered in its turn in the session's in-order queue with Meteor's exact reason, as
 * Meteor's `processMessage` does; so is an unknown `msg`.
 *
 * Ids and names are at most {@link MAX_DDP_ID_LENGTH} characters (Meteor has no limit): a longer method id or
 * method name is a malformed method invocation, a longer sub id or publication name a malformed subscription, a
 * longer `unsub` or `ping` id a bad request — each answered with Meteor's reason but without echoing the message,
 * so that an oversized id costs the server no frame of its size (a `result`, `updated`, `nosub` or `pong` repeats
 * the id; the replay log of resumption.ts would hold it).
 */

/**
 * The longest method id, sub id, method name or publication name a client may send, in UTF-16 code units.
 * Meteor's clients send method ids counting up from "1", sub ids of 17 characters (`Random.id()`), and names a
 * developer wrote (`/todos/insert`, `lists.public`); 256 leaves room for generated namespaced names and UUID-based
 * ids many times over, and bounds what each `result`/`updated`/`nosub` frame repeats to 256 characters.
 */
export const MAX_DDP_ID_LENGTH = 256;

const tooLong = (value: unknown): boolean => typeof value === 'string' && value.length > MAX_DDP_ID_LENGTH;

/** `connect`: `negotiation` is undefined when `version`/`support` are unusable (the server answers `failed`). */
export interface ConnectMessage {
  readonly msg: 'connect';
  readonly negotiation: { readonly version: string; readonly support: readonly string[] } | undefined;
  /** Session resumption (Meteor 3.5): the session to resume, and how many messages the client received. */
  readonly session: string | undefined;
  readonly receivedCount: number | undefined;
}

/** `ping`; its `id` is echoed in the `pong` as given (Meteor does not check it). */
export interface PingMessage {
  readonly msg: 'ping';
  readonly id: unknown;
}

/** `pong` (answer to a server ping). */
export interface PongMessage {
  readonly msg: 'pong';
}

/** `disconnect`: end the session now, without keeping it for resumption. */
export interface DisconnectMessage {
  readonly msg: 'disconnect';
}

/** A well-formed `sub`. */
export interface SubMessage {
  readonly msg: 'sub';
  readonly id: string;
  readonly name: string;
  readonly params: readonly unknown[];
}

/** `unsub`; its `id` is not checked (Meteor stops whatever it names and echoes it in `nosub`). */
export interface UnsubMessage {
  readonly msg: 'unsub';
  readonly id: unknown;
}

/** A well-formed `method` (`params` EJSON-decoded). */
export interface MethodMessage {
  readonly msg: 'method';
  readonly id: string;
  readonly method: string;
  readonly params: readonly unknown[];
  readonly randomSeed: string | undefined;
}

/** Meteor's top-level error reasons for a message the session cannot act on. */
export type MalformedReason = 'Malformed subscription' | 'Malformed method invocation' | 'Bad request';

/** A `sub` or `method` with a bad field, or an unknown `msg`: answered with `error` `reason` in queue order. */
export interface MalformedMessage {
  readonly msg: 'malformed';
  readonly reason: MalformedReason;
  /** The message as parsed (echoed as `offendingMessage`); undefined: not echoed (an oversized id or name). */
  readonly offending: Readonly<Record<string, unknown>> | undefined;
}

/** Every inbound DDP message. */
export type ClientMessage =
  | ConnectMessage
  | PingMessage
  | PongMessage
  | DisconnectMessage
  | SubMessage
  | UnsubMessage
  | MethodMessage
  | MalformedMessage;

/**
 * The typed form of a parsed client message object (`params` already EJSON-decoded) whose `msg` is present. Never
 * throws: whatever cannot be acted on is a {@link MalformedMessage}.
 */
export function toClientMessage(message: Readonly<Record<string, unknown>>): ClientMessage {
  switch (message.msg) {
    case 'connect': {
      const { version, support, session, receivedCount } = message;
      const valid =
        typeof version === 'string' &&
        Array.isArray(support) &&
        support.every((v) => typeof v === 'string') &&
        support.includes(version);
      return {
        msg: 'connect',
        negotiation: valid ? { version, support: support as string[] } : undefined,
        session: typeof session === 'string' ? session : undefined,
        receivedCount: typeof receivedCount === 'number' ? receivedCount : undefined,
      };
    }
    case 'ping':
      if (tooLong(message.id)) return { msg: 'malformed', reason: 'Bad request', offending: undefined };
      return { msg: 'ping', id: message.id };
    case 'pong':
      return { msg: 'pong' };
    case 'disconnect':
      return { msg: 'disconnect' };
    case 'sub': {
      const { id, name, params } = message;
      if (
        typeof id !== 'string' ||
        typeof name !== 'string' ||
        ('params' in message && !Array.isArray(params))
      )
        return { msg: 'malformed', reason: 'Malformed subscription', offending: message };
      if (tooLong(id) || tooLong(name))
        return { msg: 'malformed', reason: 'Malformed subscription', offending: undefined };
      return { msg: 'sub', id, name, params: (params as unknown[] | undefined) ?? [] };
    }
    case 'unsub':
      if (tooLong(message.id)) return { msg: 'malformed', reason: 'Bad request', offending: undefined };
      return { msg: 'unsub', id: message.id };
    case 'method': {
      const { id, method, params, randomSeed } = message;
      if (
        typeof id !== 'string' ||
        typeof method !== 'string' ||
        ('params' in message && !Array.isArray(params)) ||
        ('randomSeed' in message && typeof randomSeed !== 'string')
      )
        return { msg: 'malformed', reason: 'Malformed method invocation', offending: message };
      if (tooLong(id) || tooLong(method))
        return { msg: 'malformed', reason: 'Malformed method invocation', offending: undefined };
      return {
        msg: 'method',
        id,
        method,
        params: (params as unknown[] | undefined) ?? [],
        randomSeed: randomSeed as string | undefined,
      };
    }
    default:
      return { msg: 'malformed', reason: 'Bad request', offending: message };
  }
}
