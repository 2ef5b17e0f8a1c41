/**
 * Transport and subprotocol negotiation (wamp.md checklist 1–13, §1.5): each `wamp.2.*` subprotocol is accepted
 * and then used for every frame in the right frame type, an unknown subprotocol gets no session, and a frame of
 * the wrong type or one that does not decode is a protocol violation. RawSocket (8–13) runs over a bare TCP
 * connection when the router's RawSocket address is given (`--rawsocket host:port`), and is skipped otherwise.
 */
import assert from 'node:assert/strict';
import { type CaseContext, type ConformanceCase, caseNumber } from '../case.js';
import { expectViolation } from '../helpers.js';
import { MSG } from '../messages.js';
import { FRAME, frame, prefix, type RawSocketAddress, RawSocketPeer } from '../rawsocket-client.js';
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

/** RawSocket serializer ids (transport_rawsocket.md). */
const RAWSOCKET_IDS: Record<SerializerName, number> = { json: 1, msgpack: 2, cbor: 3 };

/** A RawSocket case: a fresh TCP connection to the router's RawSocket, closed after the case. */
function rawSocket(
  n: number,
  title: string,
  run: (peer: RawSocketPeer, ctx: CaseContext) => Promise<void>,
  serializers: readonly SerializerName[] = ['json'],
): ConformanceCase {
  return {
    id: `transport.${caseNumber(n)}`,
    group: 'transport',
    title,
    checklist: [n],
    serializers,
    skip: (options) => (options.rawSocket ? undefined : 'no RawSocket address given (--rawsocket host:port)'),
    async run(ctx) {
      const address = ctx.options.rawSocket;
      if (!address) throw new Error('no RawSocket address');
      const peer = await RawSocketPeer.connect(address);
      try {
        await run(peer, ctx);
      } finally {
        peer.close();
      }
    },
  };
}

/** Completes a JSON handshake; returns the router's advertised maximum message length. */
async function jsonHandshake(peer: RawSocketPeer): Promise<number> {
  const reply = await peer.handshake(RAWSOCKET_IDS.json);
  assert.deepEqual(
    [reply[0], (reply[1] as number) & 0x0f, reply[2], reply[3]],
    [0x7f, 1, 0, 0],
    'handshake reply',
  );
  return 2 ** (9 + ((reply[1] as number) >> 4));
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
  rawSocket(
    8,
    'RawSocket handshake 7F Fs 00 00 → 7F xs 00 00; HELLO in a frame → WELCOME in a frame',
    async (peer, ctx) => {
      const id = RAWSOCKET_IDS[ctx.serializer];
      const reply = await peer.handshake(id);
      assert.equal(reply[0], 0x7f, 'magic octet');
      assert.equal((reply[1] as number) & 0x0f, id, 'serializer echoed');
      assert.deepEqual([reply[2], reply[3]], [0, 0], 'reserved octets');
      const codec = serializer(ctx.serializer);
      peer.send(
        frame(FRAME.message, codec.encode([MSG.HELLO, ctx.options.realm, { roles: { subscriber: {} } }])),
      );
      const welcome = await peer.frame(ctx.options.waitMs);
      assert.equal(welcome.type, FRAME.message, 'a WAMP message frame');
      const message = codec.decode(
        codec.binary ? new Uint8Array(welcome.payload) : welcome.payload.toString('utf8'),
      );
      assert.ok(
        Array.isArray(message) && message[0] === MSG.WELCOME,
        `WELCOME, got ${JSON.stringify(message)}`,
      );
    },
    SERIALIZERS,
  ),
  rawSocket(9, 'RawSocket serializer 0 or unknown → 7F 10 00 00, then close', async (peer, ctx) => {
    assert.deepEqual([...(await peer.handshake(0))], [0x7f, 0x10, 0, 0], 'serializer 0');
    await peer.closedWithin(ctx.options.waitMs);
    const other = await RawSocketPeer.connect(ctx.options.rawSocket as RawSocketAddress);
    try {
      assert.deepEqual([...(await other.handshake(9))], [0x7f, 0x10, 0, 0], 'serializer 9');
      await other.closedWithin(ctx.options.waitMs);
    } finally {
      other.close();
    }
  }),
  rawSocket(10, 'RawSocket reserved octets set → 7F 30 00 00, then close', async (peer, ctx) => {
    assert.deepEqual([...(await peer.handshake(RAWSOCKET_IDS.json, 15, [0, 1]))], [0x7f, 0x30, 0, 0]);
    await peer.closedWithin(ctx.options.waitMs);
  }),
  rawSocket(11, 'RawSocket-only port: first octet ≠ 0x7F (an HTTP request) → dropped', async (peer, ctx) => {
    peer.send('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await peer.closedWithin(ctx.options.waitMs);
    assert.equal(peer.unread, 0, 'nothing answered');
  }),
  rawSocket(12, 'RawSocket PING with an 8-byte payload → exactly one PONG echoing it', async (peer, ctx) => {
    await jsonHandshake(peer);
    const payload = Buffer.from('pgrt-8b!');
    peer.send(frame(FRAME.ping, payload));
    const pong = await peer.frame(ctx.options.waitMs);
    assert.equal(pong.type, FRAME.pong, 'a PONG frame');
    assert.deepEqual(pong.payload, payload, 'the PING payload echoed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(peer.unread, 0, 'one PONG only');
  }),
  rawSocket(
    13,
    'RawSocket frame longer than the advertised maximum → connection failed',
    async (peer, ctx) => {
      const max = await jsonHandshake(peer);
      peer.send(Buffer.concat([prefix(FRAME.message, max + 1), Buffer.from('[1,')]));
      await peer.closedWithin(ctx.options.waitMs);
    },
  ),
];
