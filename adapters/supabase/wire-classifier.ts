/**
 * The Supabase Realtime frame classifier for the connection metrics (transports/frame-classifier.ts): the Phoenix
 * event of each frame (`phx_join`, `heartbeat`, `phx_reply`, `postgres_changes`, `broadcast`, …; binary frames are
 * `broadcast`). Outbound text frames are read to their event only; inbound ones are parsed when small.
 */
import {
  CLASSIFIER_PARSE_LIMIT,
  type Classified,
  type Classifier,
} from '../../transports/frame-classifier.js';

const EVENTS = new Set([
  'heartbeat',
  'phx_join',
  'phx_leave',
  'phx_reply',
  'phx_close',
  'phx_error',
  'access_token',
  'system',
  'postgres_changes',
  'broadcast',
  'presence',
  'presence_state',
  'presence_diff',
]);

const classified = new Map<string, Classified>([...EVENTS].map((event) => [event, { type: event }]));
const OTHER: Classified = { type: 'other' };
const INVALID: Classified = { type: 'invalid' };
const BROADCAST = classified.get('broadcast') as Classified;

/** Classifies one frame. */
export const supabaseClassifier: Classifier = (data, direction): Classified => {
  if (typeof data !== 'string') return BROADCAST;
  if (direction === 'out') return classified.get(outboundEvent(data) ?? '') ?? OTHER;
  if (data.length > CLASSIFIER_PARSE_LIMIT) return OTHER;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return INVALID;
  }
  const event = Array.isArray(message)
    ? message[3]
    : typeof message === 'object' && message !== null
      ? (message as { event?: unknown }).event
      : undefined;
  if (typeof event !== 'string') return INVALID;
  return classified.get(event) ?? OTHER;
};

/**
 * The event of a frame this server encoded (serializer.ts): the 4th element of a 2.0.0 array, the `event` key of a
 * 1.0.0 object. Refs and topics are JSON strings, so the event is found by skipping three values.
 */
function outboundEvent(frame: string): string | undefined {
  if (frame.startsWith('{')) {
    const at = frame.indexOf('"event":"');
    if (at < 0) return undefined;
    const start = at + 9;
    return frame.slice(start, frame.indexOf('"', start));
  }
  let at = 1;
  for (let i = 0; i < 3; i++) {
    at = skipValue(frame, at);
    if (at < 0 || frame[at] !== ',') return undefined;
    at++;
  }
  if (frame[at] !== '"') return undefined;
  return frame.slice(at + 1, frame.indexOf('"', at + 1));
}

/** The index after the JSON string or `null` starting at `at`, or -1. */
function skipValue(frame: string, at: number): number {
  if (frame.startsWith('null', at)) return at + 4;
  if (frame[at] !== '"') return -1;
  for (let i = at + 1; i < frame.length; i++) {
    if (frame[i] === '\\') i++;
    else if (frame[i] === '"') return i + 1;
  }
  return -1;
}
