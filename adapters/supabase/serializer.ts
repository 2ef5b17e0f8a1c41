/**
 * The wire encoding of the Phoenix channel protocol as realtime-js speaks it (its lib/serializer.ts and
 * phoenix/serializer; the server side is Phoenix's V1 JSON serializer and Supabase Realtime's
 * RealtimeWeb.Socket.V2Serializer). Every frame of this adapter is encoded and decoded here.
 *
 * - `1.0.0`: text frames, one JSON object `{join_ref?, ref, topic, event, payload}`. Replies and pushes the server
 *   sends carry `topic`, `event`, `payload`, `ref` only (V1 drops `join_ref`).
 * - `2.0.0` (realtime-js's default): text frames, one JSON array `[join_ref, ref, topic, event, payload]`; plus
 *   binary frames for user broadcasts: the client sends kind 3 (user broadcast push: join_ref, ref, topic, user
 *   event, metadata, encoding, then the user payload), the server sends kind 4 (user broadcast: topic, user event,
 *   metadata, encoding, then the payload). Kind 4 is the only binary frame the client decodes: any other binary
 *   frame makes it throw inside its socket handler.
 *
 * realtime-js puts `vsn` in the URL; the adapter reads the version off the client's first text frame instead
 * (an array is 2.0.0, an object 1.0.0), which is what the client then expects back.
 */

/** The two serializer versions realtime-js negotiates. */
export type Vsn = '1.0.0' | '2.0.0';

/** One Phoenix message. `ref`/`joinRef` are null when absent. */
export interface PhoenixMessage {
  readonly joinRef: string | null;
  readonly ref: string | null;
  readonly topic: string;
  readonly event: string;
  readonly payload: unknown;
}

/** A user broadcast carried in a binary frame (kind 3 in, kind 4 out). */
export interface UserBroadcast {
  readonly event: string;
  /** A JSON value (`encoding` json) or raw bytes (`encoding` binary). */
  readonly payload: unknown;
  readonly binary: boolean;
  /** Metadata keys (realtime-js sends `persist` only); undefined when none. */
  readonly meta: Readonly<Record<string, unknown>> | undefined;
}

/** A decoded client frame, or why it could not be decoded. */
export type Decoded =
  | { readonly ok: true; readonly vsn: Vsn; readonly message: PhoenixMessage }
  | { readonly ok: false; readonly reason: string };

const USER_BROADCAST_PUSH = 3;
const USER_BROADCAST = 4;
const BINARY_ENCODING = 0;
const JSON_ENCODING = 1;

/**
 * Decodes one client frame. A text frame's shape gives its version; a binary frame is a 2.0.0 user broadcast push,
 * decoded to the message realtime-js would have sent as text: event `broadcast`, payload
 * `{type: 'broadcast', event, payload, meta?}` (payload bytes as a Uint8Array when binary-encoded).
 */
export function decodeFrame(data: string | Uint8Array): Decoded {
  if (typeof data !== 'string') return decodeBinary(data);
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (Array.isArray(value)) {
    if (value.length !== 5) return { ok: false, reason: 'a 2.0.0 message is an array of 5 elements' };
    const [joinRef, ref, topic, event, payload] = value as unknown[];
    return checked('2.0.0', joinRef, ref, topic, event, payload);
  }
  if (typeof value === 'object' && value !== null) {
    const m = value as Record<string, unknown>;
    return checked('1.0.0', m.join_ref, m.ref, m.topic, m.event, m.payload);
  }
  return { ok: false, reason: 'a message is a JSON array (2.0.0) or object (1.0.0)' };
}

function checked(
  vsn: Vsn,
  joinRef: unknown,
  ref: unknown,
  topic: unknown,
  event: unknown,
  payload: unknown,
): Decoded {
  if (typeof topic !== 'string' || topic === '') return { ok: false, reason: 'topic must be a string' };
  if (typeof event !== 'string' || event === '') return { ok: false, reason: 'event must be a string' };
  const jr = refOf(joinRef);
  const r = refOf(ref);
  if (jr === undefined || r === undefined) return { ok: false, reason: 'refs must be strings or null' };
  return { ok: true, vsn, message: { joinRef: jr, ref: r, topic, event, payload: payload ?? {} } };
}

/** A ref as a string (numbers are accepted, as Phoenix's JSON decoding does), null when absent. */
function refOf(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function decodeBinary(bytes: Uint8Array): Decoded {
  if (bytes[0] !== USER_BROADCAST_PUSH)
    return { ok: false, reason: `unknown binary message kind ${bytes[0]}` };
  if (bytes.length < 7) return { ok: false, reason: 'truncated binary message' };
  const sizes = [bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]] as number[];
  const encoding = bytes[6];
  let at = 7;
  const parts: string[] = [];
  for (const size of sizes) {
    if (at + size > bytes.length) return { ok: false, reason: 'truncated binary message' };
    parts.push(Buffer.from(bytes.buffer, bytes.byteOffset + at, size).toString('utf8'));
    at += size;
  }
  const [joinRef, ref, topic, userEvent, metadata] = parts as [string, string, string, string, string];
  const rest = bytes.subarray(at);
  let payload: unknown;
  let meta: Record<string, unknown> | undefined;
  try {
    if (encoding === JSON_ENCODING) payload = JSON.parse(Buffer.from(rest).toString('utf8'));
    else if (encoding === BINARY_ENCODING) payload = Uint8Array.from(rest);
    else return { ok: false, reason: `unknown payload encoding ${encoding}` };
    if (metadata !== '') {
      const parsed: unknown = JSON.parse(metadata);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        meta = parsed as Record<string, unknown>;
    }
  } catch {
    return { ok: false, reason: 'binary message payload is not JSON' };
  }
  if (topic === '') return { ok: false, reason: 'topic must be a string' };
  const body: Record<string, unknown> = { type: 'broadcast', event: userEvent, payload };
  if (meta) body.meta = meta;
  return {
    ok: true,
    vsn: '2.0.0',
    message: {
      joinRef: joinRef === '' ? null : joinRef,
      ref: ref === '' ? null : ref,
      topic,
      event: 'broadcast',
      payload: body,
    },
  };
}

/**
 * Encodes a server message as text. `payloadJson`, when given, is the payload already serialized (a change fanned
 * out to many channels is serialized once).
 */
export function encodeMessage(vsn: Vsn, message: PhoenixMessage, payloadJson?: string): string {
  const payload = payloadJson ?? JSON.stringify(message.payload ?? {});
  if (vsn === '2.0.0') {
    return `[${JSON.stringify(message.joinRef)},${JSON.stringify(message.ref)},${JSON.stringify(message.topic)},${JSON.stringify(message.event)},${payload}]`;
  }
  return `{"topic":${JSON.stringify(message.topic)},"event":${JSON.stringify(message.event)},"payload":${payload},"ref":${JSON.stringify(message.ref)}}`;
}

/** A `phx_reply` to the client message with `ref` (and `joinRef`) on `topic`. */
export function encodeReply(
  vsn: Vsn,
  topic: string,
  joinRef: string | null,
  ref: string | null,
  status: 'ok' | 'error',
  response: unknown,
): string {
  return encodeMessage(vsn, { joinRef, ref, topic, event: 'phx_reply', payload: { status, response } });
}

/**
 * A user broadcast from the server as a 2.0.0 binary frame (kind 4), the form realtime-js decodes for binary
 * payloads (`broadcast.payload` an ArrayBuffer). Throws a RangeError when topic, event or metadata exceed 255
 * bytes (the frame's one-byte lengths).
 */
export function encodeUserBroadcast(topic: string, broadcast: UserBroadcast): Uint8Array {
  const topicBytes = Buffer.from(topic, 'utf8');
  const eventBytes = Buffer.from(broadcast.event, 'utf8');
  const metaBytes = Buffer.from(broadcast.meta ? JSON.stringify(broadcast.meta) : '', 'utf8');
  for (const [name, part] of [
    ['topic', topicBytes],
    ['event', eventBytes],
    ['metadata', metaBytes],
  ] as const) {
    if (part.length > 255) throw new RangeError(`${name} is ${part.length} bytes, more than 255`);
  }
  const body = broadcast.binary
    ? Buffer.from(broadcast.payload as Uint8Array)
    : Buffer.from(JSON.stringify(broadcast.payload ?? null), 'utf8');
  const header = Buffer.from([
    USER_BROADCAST,
    topicBytes.length,
    eventBytes.length,
    metaBytes.length,
    broadcast.binary ? BINARY_ENCODING : JSON_ENCODING,
  ]);
  return Buffer.concat([header, topicBytes, eventBytes, metaBytes, body]);
}
