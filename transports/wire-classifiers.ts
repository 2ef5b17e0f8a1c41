/**
 * Cheap message classification for metrics: the message type of a DDP or WAMP frame, and the call/reply ids that
 * pair a method call with its result. Classifiers only look; they never change or reject a frame (the adapters
 * own parsing and validation). Outbound frames are matched by prefix, relying on the encoders writing the type
 * first (DDP `{"msg":…,"id":…`, WAMP `[code,…`); inbound DDP frames are parsed when small.
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

const DDP_TYPES = new Set([
  'connect',
  'connected',
  'failed',
  'ping',
  'pong',
  'sub',
  'unsub',
  'nosub',
  'added',
  'changed',
  'removed',
  'ready',
  'addedBefore',
  'movedBefore',
  'method',
  'result',
  'updated',
  'error',
]);

/** Inbound DDP frames up to this size are parsed to read the method name and ids. */
const PARSE_LIMIT = 64 * 1024;

const OUT_DDP = /^\{"msg":"([A-Za-z]+)"(?:,"id":("(?:[^"\\]|\\.)*"))?/;

/** DDP (JSON text frames). */
export const ddpClassifier: Classifier = (data, direction) => {
  if (typeof data !== 'string') return { type: 'invalid' };
  if (direction === 'out') {
    const match = OUT_DDP.exec(data);
    const msg = match?.[1];
    if (!msg) return { type: 'other' };
    const type = DDP_TYPES.has(msg) ? msg : 'other';
    if (msg === 'result' && match[2]) {
      const id = JSON.parse(match[2]) as string;
      return { type, reply: { id, error: data.startsWith(',"error"', match[0].length) } };
    }
    return { type };
  }
  if (data.length > PARSE_LIMIT) {
    const msg = /"msg"\s*:\s*"([A-Za-z]+)"/.exec(data)?.[1];
    return { type: msg && DDP_TYPES.has(msg) ? msg : 'other' };
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { type: 'invalid' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { type: 'invalid' };
  const message = value as Record<string, unknown>;
  const msg = typeof message.msg === 'string' && DDP_TYPES.has(message.msg) ? message.msg : 'other';
  if (msg === 'method' && typeof message.id === 'string' && typeof message.method === 'string')
    return { type: msg, call: { id: message.id, method: message.method } };
  if (msg === 'connect' && message.session !== undefined) return { type: msg, resume: true };
  return { type: msg };
};

/** WAMP v2 message codes and names. */
const WAMP_TYPES: Readonly<Record<number, string>> = {
  1: 'HELLO',
  2: 'WELCOME',
  3: 'ABORT',
  4: 'CHALLENGE',
  5: 'AUTHENTICATE',
  6: 'GOODBYE',
  8: 'ERROR',
  16: 'PUBLISH',
  17: 'PUBLISHED',
  32: 'SUBSCRIBE',
  33: 'SUBSCRIBED',
  34: 'UNSUBSCRIBE',
  35: 'UNSUBSCRIBED',
  36: 'EVENT',
  48: 'CALL',
  49: 'CANCEL',
  50: 'RESULT',
  64: 'REGISTER',
  65: 'REGISTERED',
  66: 'UNREGISTER',
  67: 'UNREGISTERED',
  68: 'INVOCATION',
  69: 'INTERRUPT',
  70: 'YIELD',
};

function wampName(code: number | undefined): string {
  return code === undefined ? 'invalid' : (WAMP_TYPES[code] ?? 'other');
}

/** The message code of a msgpack- or CBOR-encoded WAMP array (first element), without decoding the rest. */
function binaryCode(bytes: Uint8Array, serializer: 'msgpack' | 'cbor'): number | undefined {
  const [b0, b1, b2] = bytes;
  if (b0 === undefined) return undefined;
  if (serializer === 'msgpack') {
    const offset = b0 >= 0x90 && b0 <= 0x9f ? 1 : b0 === 0xdc ? 3 : b0 === 0xdd ? 5 : -1;
    const code = offset < 0 ? undefined : bytes[offset];
    return code !== undefined && code < 0x80 ? code : code === 0xcc ? bytes[offset + 1] : undefined;
  }
  if (b0 < 0x80 || b0 > 0x9f) return undefined;
  if (b1 === undefined) return undefined;
  if (b1 < 0x18) return b1;
  return b1 === 0x18 ? b2 : undefined;
}

const OUT_WAMP_REPLY = /^\[\s*(?:50\s*,\s*(\d+)|8\s*,\s*48\s*,\s*(\d+))/;

/** WAMP v2 over `wamp.2.json`, `wamp.2.msgpack` or `wamp.2.cbor`; calls are timed for JSON only. */
export function wampClassifier(subprotocol: string): Classifier {
  const serializer = subprotocol.endsWith('msgpack')
    ? 'msgpack'
    : subprotocol.endsWith('cbor')
      ? 'cbor'
      : 'json';
  return (data, direction) => {
    if (typeof data !== 'string') {
      return { type: serializer === 'json' ? 'invalid' : wampName(binaryCode(data, serializer)) };
    }
    const code = /^\s*\[\s*(\d+)/.exec(data)?.[1];
    const type = wampName(code === undefined ? undefined : Number(code));
    if (direction === 'out') {
      const reply = OUT_WAMP_REPLY.exec(data);
      if (reply) return { type, reply: { id: (reply[1] ?? reply[2])!, error: reply[2] !== undefined } };
      return { type };
    }
    if (type !== 'CALL' || data.length > PARSE_LIMIT) return { type };
    try {
      const message = JSON.parse(data) as unknown[];
      const [, id, , procedure] = message;
      if (typeof id === 'number' && typeof procedure === 'string')
        return { type, call: { id: String(id), method: procedure } };
    } catch {
      return { type: 'invalid' };
    }
    return { type };
  };
}

/** The classifier for a pgrt protocol name (`ddp`, `wamp`); unknown protocols count every frame as `other`. */
export function classifierFor(protocol: string, subprotocol: string): Classifier {
  if (protocol === 'ddp') return ddpClassifier;
  if (protocol === 'wamp') return wampClassifier(subprotocol);
  return () => ({ type: 'other' });
}
