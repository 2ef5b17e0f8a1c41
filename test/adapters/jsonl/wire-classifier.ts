/**
 * The toy protocol's frame classifier for the server's metrics: the `op` of each line, `call` → `result` pairing.
 * Frames carrying several lines are classified by their first.
 */
import type { Classified, Classifier } from '../../../transports/frame-classifier.js';

const OPS = new Set([
  'sub',
  'unsub',
  'call',
  'added',
  'changed',
  'removed',
  'ready',
  'stopped',
  'result',
  'error',
]);

/** Classifies one frame. */
export const jsonlClassifier: Classifier = (data, direction): Classified => {
  if (typeof data !== 'string') return { type: 'invalid' };
  const line = data.split('\n', 1)[0] ?? '';
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return { type: 'invalid' };
  }
  if (typeof message !== 'object' || message === null) return { type: 'invalid' };
  const { op, id, method, error } = message as Record<string, unknown>;
  const type = typeof op === 'string' && OPS.has(op) ? op : 'other';
  if (direction === 'in' && type === 'call' && typeof id === 'string' && typeof method === 'string')
    return { type, call: { id, method } };
  if (direction === 'out' && type === 'result' && typeof id === 'string')
    return { type, reply: { id, error: error !== undefined } };
  return { type };
};
