/**
 * The WAMP frame classifier for the connection metrics (transports/frame-classifier.ts): the message type of each
 * frame under every serializer, and CALL / RESULT-or-ERROR request ids that time a call (JSON only). Outbound JSON
 * frames are matched by prefix (`[code,…`); binary frames are read to their first element only.
 */
import { CLASSIFIER_PARSE_LIMIT, type Classifier } from '../../transports/frame-classifier.js';

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
    if (type !== 'CALL' || data.length > CLASSIFIER_PARSE_LIMIT) return { type };
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
