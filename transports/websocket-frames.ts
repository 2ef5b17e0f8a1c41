/**
 * Server-to-client WebSocket frames of our own making (RFC 6455 §5.2: FIN, unmasked, never fragmented), for
 * sockets without permessage-deflate: one buffer per message or per cork window, shared by every connection that
 * sends the very same text or window in a row (a fan-out), since socket writes never modify a buffer.
 */

/** The last lone text framed, and its frame. */
let lastFramed: { readonly text: string; readonly frame: Buffer } | undefined;

/**
 * The frame of one message. A change fanned out is sent to every subscriber, one connection after the other (as
 * the lone message of each one's window, or uncorked): its frame is made once and written to each (socket writes
 * never modify a buffer).
 */
export function frameOf(message: string | Uint8Array): Buffer {
  if (typeof message !== 'string') return encodeFrames([message]);
  const last = lastFramed;
  if (last !== undefined && last.text === message) return last.frame;
  const frame = encodeFrames([message]);
  lastFramed = { text: message, frame };
  return frame;
}

/** The last window of several messages framed, and its frames. */
let lastWindow: { readonly messages: readonly (string | Uint8Array)[]; readonly frames: Buffer } | undefined;

/**
 * The frames of one cork window's messages. Changes fanned out reach every subscriber in the same order, so
 * consecutive connections usually hold the very same messages in a window (the same strings: adapters encode a
 * change once for all sessions): their frames are made once and written to each. Texts are compared by identity
 * first, so telling two windows apart costs a pointer comparison per message; binary messages are never shared
 * (a caller may reuse its buffer).
 */
export function framesOf(messages: readonly (string | Uint8Array)[]): Buffer {
  const last = lastWindow;
  if (last !== undefined && sameTexts(last.messages, messages)) return last.frames;
  const frames = encodeFrames(messages);
  lastWindow = { messages, frames };
  return frames;
}

/** True if `a` and `b` are the same texts in the same order (and no binary message). */
function sameTexts(a: readonly (string | Uint8Array)[], b: readonly (string | Uint8Array)[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const message = a[i];
    if (typeof message !== 'string' || message !== b[i]) return false;
  }
  return true;
}

/**
 * Server-to-client WebSocket frames (RFC 6455 §5.2: FIN, text or binary, unmasked) of `messages`, in order, in
 * one buffer.
 */
function encodeFrames(messages: readonly (string | Uint8Array)[]): Buffer {
  const lengths = new Array<number>(messages.length);
  let total = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as string | Uint8Array;
    const length = typeof message === 'string' ? Buffer.byteLength(message) : message.byteLength;
    lengths[i] = length;
    total += (length < 126 ? 2 : length < 65536 ? 4 : 10) + length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i] as string | Uint8Array;
    const length = lengths[i] as number;
    out[at] = typeof message === 'string' ? 0x81 : 0x82;
    if (length < 126) {
      out[at + 1] = length;
      at += 2;
    } else if (length < 65536) {
      out[at + 1] = 126;
      out.writeUInt16BE(length, at + 2);
      at += 4;
    } else {
      out[at + 1] = 127;
      out.writeUInt32BE(Math.floor(length / 0x100000000), at + 2);
      out.writeUInt32BE(length >>> 0, at + 6);
      at += 10;
    }
    if (typeof message === 'string') {
      at += out.write(message, at, 'utf8');
    } else {
      out.set(message, at);
      at += length;
    }
  }
  return out;
}

/** A pong frame (FIN, opcode 0xA, unmasked) echoing `payload` (a ping's: at most 125 bytes, ws checked). */
export function pongFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = 0x8a;
  frame[1] = payload.length;
  payload.copy(frame, 2);
  return frame;
}
