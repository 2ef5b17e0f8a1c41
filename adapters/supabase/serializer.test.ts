/**
 * The Phoenix wire encoding (no sockets): 2.0.0 arrays and 1.0.0 objects both ways, the binary user broadcast
 * push the client sends (kind 3, built here as realtime-js builds it) and refusals of malformed frames; plus the
 * HS256 tokens of identity.ts.
 */
import assert from 'node:assert/strict';
import { signHs256, verifyHs256 } from './identity.js';
import { decodeFrame, encodeMessage, encodeReply } from './serializer.js';

/** A kind-3 frame as realtime-js's serializer builds it (join_ref, ref, topic, event, metadata, encoding, payload). */
function userBroadcastPush(
  parts: [string, string, string, string, string],
  encoding: number,
  payload: Buffer,
): Buffer {
  const bytes = parts.map((p) => Buffer.from(p));
  return Buffer.concat([Buffer.from([3, ...bytes.map((b) => b.length), encoding]), ...bytes, payload]);
}

describe('supabase: serializer', () => {
  it('decodes both text versions and encodes replies in kind', () => {
    const v2 = decodeFrame('["1","2","realtime:a","phx_join",{"x":1}]');
    assert.deepEqual(v2, {
      ok: true,
      vsn: '2.0.0',
      message: { joinRef: '1', ref: '2', topic: 'realtime:a', event: 'phx_join', payload: { x: 1 } },
    });
    const v1 = decodeFrame('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":3}');
    assert.deepEqual(v1, {
      ok: true,
      vsn: '1.0.0',
      message: { joinRef: null, ref: '3', topic: 'phoenix', event: 'heartbeat', payload: {} },
    });
    assert.equal(
      encodeReply('2.0.0', 't', '1', '2', 'ok', {}),
      '["1","2","t","phx_reply",{"status":"ok","response":{}}]',
    );
    assert.deepEqual(JSON.parse(encodeReply('1.0.0', 't', '1', '2', 'error', { reason: 'r' })), {
      topic: 't',
      event: 'phx_reply',
      payload: { status: 'error', response: { reason: 'r' } },
      ref: '2',
    });
    assert.equal(
      encodeMessage('2.0.0', { joinRef: null, ref: null, topic: 't', event: 'e', payload: null }, '{"a":1}'),
      '[null,null,"t","e",{"a":1}]',
    );
  });

  it('decodes a binary user broadcast push (JSON and binary payloads, metadata)', () => {
    const json = decodeFrame(
      userBroadcastPush(['1', '2', 'realtime:r', 'cursor', '{"persist":true}'], 1, Buffer.from('{"x":1}')),
    );
    assert.deepEqual(json, {
      ok: true,
      vsn: '2.0.0',
      message: {
        joinRef: '1',
        ref: '2',
        topic: 'realtime:r',
        event: 'broadcast',
        payload: { type: 'broadcast', event: 'cursor', payload: { x: 1 }, meta: { persist: true } },
      },
    });
    const binary = decodeFrame(
      userBroadcastPush(['', '', 'realtime:r', 'blob', ''], 0, Buffer.from([1, 2, 3])),
    );
    assert.ok(binary.ok);
    assert.equal(binary.message.joinRef, null);
    assert.deepEqual((binary.message.payload as { payload: Uint8Array }).payload, Uint8Array.from([1, 2, 3]));
  });

  it('refuses malformed frames with a reason', () => {
    for (const frame of [
      'nope',
      '[1,2]',
      '["1","2",3,"e",{}]',
      '{"topic":"t"}',
      '[{},"2","t","e",{}]',
      '7',
    ]) {
      const decoded = decodeFrame(frame);
      assert.equal(decoded.ok, false, frame);
    }
    assert.equal(decodeFrame(Buffer.from([4, 0])).ok, false);
    assert.equal(decodeFrame(Buffer.from([3, 9, 0, 0, 0, 0, 1, 65])).ok, false);
    assert.equal(decodeFrame(userBroadcastPush(['', '', 't', 'e', ''], 1, Buffer.from('{'))).ok, false);
  });

  it('verifies HS256 JWTs: signature, expiry, shape', () => {
    const now = 1_800_000_000_000;
    const token = signHs256({ sub: 'u1', exp: now / 1000 + 60 }, 'k');
    assert.equal(verifyHs256(token, 'k', now).sub, 'u1');
    assert.throws(() => verifyHs256(token, 'other', now), /Failed to validate JWT signature/);
    assert.throws(() => verifyHs256(token, undefined, now), /Failed to validate JWT signature/);
    assert.throws(() => verifyHs256(token, 'k', now + 90_000), /Token has expired 30 seconds ago/);
    assert.throws(() => verifyHs256('bm9wZQ.bm9wZQ.x', 'k', now), /not a valid JWT/);
  });
});
