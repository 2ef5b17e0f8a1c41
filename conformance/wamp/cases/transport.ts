/**
 * Transport and subprotocol negotiation (wamp.md checklist 1–13, §1.5): each `wamp.2.*` subprotocol is accepted
 * and then used for every frame in the right frame type, an unknown subprotocol gets no session, and a frame of
 * the wrong type or one that does not decode is a protocol violation. RawSocket (8–13) is listed as skipped: the
 * suite speaks WebSocket only.
 */
import assert from 'node:assert/strict';
import { type ConformanceCase, caseNumber, notApplicable } from '../case.js';
import { expectViolation } from '../helpers.js';
import { MSG } from '../messages.js';
import { SERIALIZERS, type SerializerName, serializer } from '../serializers.js';

function offerOnly(n: number, name: SerializerName): ConformanceCase {
  const { protocol, binary } = serializer(name);
  return {
    id: `transport.${caseNumber(n)}`,
    group: 'transport',
    title: `offer only ${protocol} → it is selected; every router frame is ${binary ? 'binary' : 'text'}`,
    checklist: [n],
    serializers: [name],
    async run(ctx) {
      const peer = await ctx.open({ protocols: [protocol] });
      assert.equal(peer.protocol, protocol, 'Sec-WebSocket-Protocol');
      await peer.hello(ctx.options.realm);
      const subscription = await peer.subscribe(ctx.uri('t'));
      await peer.unsubscribe(subscription);
      const wrong = peer.log.filter((entry) => entry.kind === 'message' && entry.binary !== binary);
      assert.deepEqual(wrong, [], `router frames must all be ${binary ? 'binary' : 'text'}`);
      assert.deepEqual(peer.undecodedFrames(), [], 'every router frame decodes');
    },
  };
}

const RAWSOCKET = 'RawSocket transport: this suite speaks WebSocket only';

function rawSocket(n: number, title: string): ConformanceCase {
  return {
    id: `transport.${caseNumber(n)}`,
    group: 'transport',
    title,
    checklist: [n],
    skip: RAWSOCKET,
    run: notApplicable,
  };
}

/** Malformed bytes for each serializer. */
const GARBAGE: Record<SerializerName, string | Uint8Array> = {
  json: '[1, "realm1", {',
  msgpack: new Uint8Array([0xc1]),
  cbor: new Uint8Array([0x1c]),
};

/** Transport cases. */
export const transportCases: ConformanceCase[] = [
  offerOnly(1, 'json'),
  offerOnly(2, 'msgpack'),
  offerOnly(3, 'cbor'),
  {
    id: 'transport.04',
    group: 'transport',
    title: 'offer several wamp.2.* subprotocols (this one first) → one of them is selected and used',
    checklist: [4],
    async run(ctx) {
      const offered = [ctx.serializer, ...SERIALIZERS.filter((s) => s !== ctx.serializer)].map(
        (name) => serializer(name).protocol,
      );
      const peer = await ctx.open({ protocols: offered });
      assert.ok(
        offered.includes(peer.protocol),
        `selected ${JSON.stringify(peer.protocol)} of ${offered.join(', ')}`,
      );
      await peer.hello(ctx.options.realm);
      assert.deepEqual(peer.undecodedFrames(), [], 'frames use the selected serializer');
    },
  },
  {
    id: 'transport.05',
    group: 'transport',
    title: 'offer only an unknown subprotocol → handshake refused (no WAMP session)',
    checklist: [5],
    serializers: ['json'],
    async run(ctx) {
      let opened = false;
      try {
        const peer = await ctx.open({ protocols: ['wamp.2.bogus'] });
        opened = true;
        // Some servers complete the upgrade without a subprotocol; `ws` then fails the handshake itself.
        await peer.waitClose(500);
      } catch (error) {
        if (opened) throw error;
        return;
      }
    },
  },
  {
    id: 'transport.06',
    group: 'transport',
    title:
      'a frame of the wrong type (binary on json, text on msgpack/cbor) → ABORT protocol_violation or close',
    checklist: [6],
    async run(ctx) {
      const peer = await ctx.join();
      const { binary } = serializer(ctx.serializer);
      const message = [MSG.SUBSCRIBE, peer.nextRequestId(), {}, ctx.uri('t')];
      if (binary) peer.sendFrame(JSON.stringify(message), false);
      else peer.sendFrame(new TextEncoder().encode(JSON.stringify(message)), true);
      await expectViolation(peer, { closeWithoutAbort: true });
    },
  },
  {
    id: 'transport.07',
    group: 'transport',
    title: 'a frame that does not decode → ABORT protocol_violation; transport closed',
    checklist: [7],
    async run(ctx) {
      const peer = await ctx.join();
      const garbage = GARBAGE[ctx.serializer];
      peer.sendFrame(garbage, typeof garbage !== 'string');
      await expectViolation(peer);
    },
  },
  rawSocket(8, 'RawSocket handshake 7F F1 00 00 → 7F x1 00 00'),
  rawSocket(9, 'RawSocket unsupported serializer → 7F 10 00 00, close'),
  rawSocket(10, 'RawSocket reserved octets set → 7F 30 00 00'),
  rawSocket(11, 'RawSocket: first octet ≠ 0x7F → dropped (or HTTP on a shared port)'),
  rawSocket(12, 'RawSocket PING → one PONG echoing the payload'),
  rawSocket(13, 'RawSocket frame over the advertised maximum → connection failed'),
];
