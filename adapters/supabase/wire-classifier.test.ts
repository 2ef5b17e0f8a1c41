/**
 * The metrics' view of Supabase frames (no sockets): the Phoenix event of every frame the adapter encodes, both
 * serializers, and of client frames; binary frames count as broadcasts.
 */
import assert from 'node:assert/strict';
import { encodeMessage, encodeReply, encodeUserBroadcast } from './serializer.js';
import { supabaseClassifier } from './wire-classifier.js';

describe('supabase: frame classifier', () => {
  it('reads the event of outbound frames of both serializers', () => {
    for (const vsn of ['1.0.0', '2.0.0'] as const) {
      assert.equal(
        supabaseClassifier(encodeReply(vsn, 'realtime:a"b', '1', '2', 'ok', {}), 'out').type,
        'phx_reply',
      );
      const push = encodeMessage(vsn, {
        joinRef: null,
        ref: null,
        topic: 'realtime:x',
        event: 'postgres_changes',
        payload: {},
      });
      assert.equal(supabaseClassifier(push, 'out').type, 'postgres_changes');
      const custom = encodeMessage(vsn, { joinRef: '1', ref: null, topic: 't', event: 'mine', payload: {} });
      assert.equal(supabaseClassifier(custom, 'out').type, 'other');
    }
    const binary = encodeUserBroadcast('realtime:r', {
      event: 'e',
      payload: {},
      binary: false,
      meta: undefined,
    });
    assert.equal(supabaseClassifier(binary, 'out').type, 'broadcast');
  });

  it('classifies client frames, and unreadable ones as invalid', () => {
    assert.equal(supabaseClassifier('[null,"1","phoenix","heartbeat",{}]', 'in').type, 'heartbeat');
    assert.equal(
      supabaseClassifier('{"topic":"realtime:a","event":"phx_join","payload":{},"ref":"1"}', 'in').type,
      'phx_join',
    );
    assert.equal(supabaseClassifier('nope', 'in').type, 'invalid');
    assert.equal(supabaseClassifier('[1,2,3,4,5]', 'in').type, 'invalid');
  });
});
