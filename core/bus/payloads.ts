/**
 * The change payloads of core/database/schema.ts as the buses read them: one JSON object per change, fence, message or
 * resync marker; a JSON array of them (the pumps gather changes, each with its outbox position `p`); the outbox row
 * that holds one or several. Shared by the PostgreSQL bus (pg-notification-bus.ts, outbox-replay.ts) and the NATS bus
 * (nats/), so that every bus turns the same payload into the same {@link BusEvent}.
 */
import type { BusEvent } from './change-bus.js';

/** One payload, parsed. */
export type Payload = Record<string, unknown>;

export function isObject(value: unknown): value is Payload {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON object of a payload, or undefined if it is not one. */
export function parsePayload(text: string): Payload | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The objects of a notification of several changes (`[{"p":…},…]`), or undefined if it is not such an array. */
export function parsePayloads(text: string): Payload[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every(isObject) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The payloads of an outbox row with their positions: a row of one change (a trigger's, or a lone change of the
 * logical pump) holds its payload under its position `id`; a row of the logical pump holding several is the array
 * it notified, whose elements carry their positions (the last one is `id`). Undefined if malformed.
 */
export function rowPayloads(row: { readonly id: number; readonly payload: string }): Payload[] | undefined {
  if (row.payload.charCodeAt(0) === 0x5b) return parsePayloads(row.payload);
  const payload = parsePayload(row.payload);
  return payload ? [{ ...payload, p: row.id }] : undefined;
}

const OPS = { i: 'insert', u: 'update', d: 'delete' } as const;

type ChangeEvent = Extract<BusEvent, { kind: 'change' }>;

/** The event of a payload (see core/database/schema.ts for the format), or undefined if malformed. */
export function toEvent(p: Payload, seq: number): BusEvent | undefined {
  if (typeof p.f === 'string') return { kind: 'fence', seq, id: p.f };
  if (typeof p.m === 'string') return { kind: 'message', seq, topic: p.m, data: p.d };
  if (p.resync === true) return { kind: 'resync', seq }; // the logical capture slot was lost (core/capture/logical/slot.ts)
  const { t: table, o, x: txid } = p;
  if (typeof table !== 'string' || typeof txid !== 'string') return undefined;
  if (o === 't') return { kind: 'truncate', seq, table, txid };
  if (o !== 'i' && o !== 'u' && o !== 'd') return undefined;
  if (p.k === undefined) return undefined;
  let row: Payload | undefined;
  if (o !== 'd') {
    if (!isObject(p.r)) return undefined;
    row = p.r;
  }
  const event: ChangeEvent = { kind: 'change', seq, table, op: OPS[o], key: p.k, row, txid };
  if (o !== 'i' && isObject(p.b)) event.old = p.b;
  if (typeof p.c === 'number') event.committedAt = p.c;
  return event;
}
