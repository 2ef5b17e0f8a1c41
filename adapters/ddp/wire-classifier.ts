/**
 * The DDP frame classifier for the connection metrics (transports/frame-classifier.ts): the message type of each
 * frame, and the method call / result ids that time a call. Outbound frames are matched by prefix, relying on the
 * encoder writing `{"msg":…,"id":…` first (ddp-codec.ts); inbound frames are parsed when small.
 */
import { CLASSIFIER_PARSE_LIMIT, type Classifier } from '../../transports/frame-classifier.js';

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
  if (data.length > CLASSIFIER_PARSE_LIMIT) {
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
