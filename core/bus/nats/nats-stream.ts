/**
 * The JetStream stream the NATS change bus rides on (nats-change-bus.ts reads it, nats-relay.ts writes it): its
 * subjects, its configuration and the message format. Shared by both sides so they cannot disagree.
 *
 * Subjects (`<prefix>` is the stream's name; each token is {@link subjectToken}-encoded):
 * - `<prefix>.<channel>.t.<schema.table>`: the changes and truncates of one table, in outbox order;
 * - `<prefix>.<channel>.c`: the channel's control messages: write fences and `resync` markers.
 * Every message is one payload of core/database/schema.ts's format with its outbox position `p` and `q`, the position
 * of the previous message on the same subject (absent when the relay does not know it), so that a consumer of that
 * subject sees a lost message as a hole. A fence carries `w`: for each table of its channel, the position of the last
 * change the relay published before it; a process delivers the fence once it delivered those changes of the tables
 * it consumes. The relay publishes messages in position order, each expecting the previous one as the stream's last
 * (`Nats-Expected-Last-Msg-Id`), so the stream never holds a change after a later one.
 *
 * A message bigger than the server's `max_payload` (1 MiB by default) goes as consecutive chunks on its subject
 * ({@link chunk}): `{"p":<position>,"chunk":<index>,"chunks":<count>,"part":<text>}` (names no payload field uses),
 * whose texts joined are the message; the last chunk's id is the position, the others' `<position>.<index>`. A
 * consumer puts them together ({@link ChunkAssembler}) and delivers the message like any other.
 */
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';

/** Default stream name (and subject prefix). */
export const DEFAULT_NATS_STREAM = 'pgrt';

/** Default NATS URL. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** How long the stream keeps messages by default (1 h, longer than the outbox's default retention of 10 min). */
export const DEFAULT_NATS_RETENTION_MS = 3_600_000;

/** A stream name usable as a subject prefix too. */
const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws a RangeError unless `name` can name the stream and prefix its subjects. */
export function checkStreamName(name: string): void {
  if (!STREAM_NAME.test(name))
    throw new RangeError(`NATS stream name must match ${STREAM_NAME}, got '${name}'`);
}

/**
 * One subject token for an arbitrary name: letters, digits, `_` and `-` stay, every other UTF-8 byte becomes `~hh`
 * (so `.`, `*`, `>` and spaces cannot split or widen a subject).
 */
export function subjectToken(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `~${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** The subject of table `table` (`schema.table`) on `channel`. */
export function tableSubject(stream: string, channel: string, table: string): string {
  return `${stream}.${subjectToken(channel)}.t.${subjectToken(table)}`;
}

/** The control subject (fences, resyncs) of `channel`. */
export function controlSubject(stream: string, channel: string): string {
  return `${stream}.${subjectToken(channel)}.c`;
}

/** Creates the stream unless it exists (an existing stream's configuration is left alone). */
export async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  retentionMs: number = DEFAULT_NATS_RETENTION_MS,
): Promise<void> {
  try {
    await jsm.streams.info(stream);
    return;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  const config: Partial<StreamConfig> & { name: string } = {
    name: stream,
    subjects: [`${stream}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: retentionMs * 1_000_000,
    duplicate_window: 120_000_000_000,
  };
  try {
    await jsm.streams.add(config);
  } catch (error) {
    // Another process created it meanwhile.
    await jsm.streams.info(stream).catch(() => {
      throw error;
    });
  }
}

/** True for JetStream's "not found" answers (stream or message). */
export function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; api_error?: { code?: unknown }; message?: unknown };
  return (
    e.code === 404 ||
    e.code === '404' ||
    e.api_error?.code === 404 ||
    (typeof e.message === 'string' && /not found/i.test(e.message))
  );
}

/** The text of each chunk holds at most this many UTF-16 units per byte of `max_payload` (6: JSON's `\u` escapes). */
const CHUNK_BYTES_PER_UNIT = 6;

/** The chunks of message `p` whose `body` does not fit `maxPayload` bytes, with their `Nats-Msg-Id`s, in order. */
export function chunk(p: number, body: string, maxPayload: number): Array<{ id: string; body: string }> {
  const size = Math.max(1024, Math.floor((maxPayload - 1024) / CHUNK_BYTES_PER_UNIT));
  const count = Math.ceil(body.length / size);
  const parts: Array<{ id: string; body: string }> = [];
  for (let i = 0; i < count; i++) {
    const text = JSON.stringify(body.slice(i * size, (i + 1) * size));
    parts.push({
      id: i === count - 1 ? String(p) : `${p}.${i}`,
      body: `{"p":${p},"chunk":${i},"chunks":${count},"part":${text}}`,
    });
  }
  return parts;
}

/**
 * Puts the chunks of one subject together. `add` takes a parsed message: a whole one comes back as it is, a chunk
 * is kept until the last one of its message, which comes back as the whole message's text; undefined meanwhile. A
 * chunk that does not follow the previous one of its message (a consumer that started within a message) is
 * dropped, and so is its message: it was stored before the consumer started.
 */
export class ChunkAssembler {
  #p: number | undefined;
  #next = 0;
  #parts: string[] = [];

  add(message: Record<string, unknown>): Record<string, unknown> | string | undefined {
    const { p, chunk: c, chunks: n, part: b } = message;
    if (typeof c !== 'number') return message;
    if (typeof p !== 'number' || typeof n !== 'number' || typeof b !== 'string') return undefined;
    if (c === 0) {
      this.#p = p;
      this.#next = 0;
      this.#parts = [];
    }
    if (this.#p !== p || this.#next !== c) return undefined;
    this.#parts.push(b);
    this.#next++;
    if (c < n - 1) return undefined;
    const text = this.#parts.join('');
    this.#p = undefined;
    this.#parts = [];
    return text;
  }
}
