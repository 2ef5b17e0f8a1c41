/**
 * Bad input over the wire (raw `ws` clients), against a server with small limits (`maxMessageBytes: 1000`, so
 * frames above 4000 bytes are refused by the socket): Meteor's top-level errors, the connection staying usable,
 * and no effect on other, well-behaved connections.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PgrtServer } from '../../server.js';
import { ddpUrl, startPresentations } from '../fixtures/presentations-servers.js';
import { connectTestDatabase } from '../fixtures/presentations-table.js';
import { RawDdpClient, type ServerMessage } from '../fixtures/raw-ddp-client.js';
import { waitUntil } from '../fixtures/wait.js';

const MAX_MESSAGE_BYTES = 1000;
/** The adapter's default frame cap: 4 × maxMessageBytes. */
const MAX_FRAME_BYTES = 4 * MAX_MESSAGE_BYTES;

/** Garbage frames (each under maxMessageBytes) and the one top-level error reason each must get. */
const GARBAGE: ReadonlyArray<{ readonly frame: string | Buffer; readonly reason: string }> = [
  { frame: '{nope', reason: 'Bad request' },
  { frame: '[1,2,3]', reason: 'Bad request' },
  { frame: 'null', reason: 'Bad request' },
  { frame: '42', reason: 'Bad request' },
  { frame: '"msg"', reason: 'Bad request' },
  { frame: '', reason: 'Bad request' },
  { frame: '😀\u0000\uFFFF', reason: 'Bad request' },
  { frame: `${'['.repeat(400)}${']'.repeat(400)}`, reason: 'Bad request' },
  { frame: '{"foo":"bar"}', reason: 'Bad request' },
  { frame: '{"__proto__":{"msg":"method"}}', reason: 'Bad request' },
  { frame: '{"msg":"nonsense","id":"1"}', reason: 'Bad request' },
  { frame: '{"msg":42}', reason: 'Bad request' },
  { frame: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x81]), reason: 'Bad request' },
  { frame: '{"msg":"connect","version":"1","support":["1"]}', reason: 'Already connected' },
  { frame: '{"msg":"sub","id":7,"name":"presentations"}', reason: 'Malformed subscription' },
  { frame: '{"msg":"sub","id":"s","name":"presentations","params":"x"}', reason: 'Malformed subscription' },
  { frame: '{"msg":"method","id":"m","method":3}', reason: 'Malformed method invocation' },
  {
    frame: '{"msg":"method","id":"m","method":"presentations.add","params":{}}',
    reason: 'Malformed method invocation',
  },
  {
    frame: '{"msg":"method","id":"m","method":"presentations.add","params":[],"randomSeed":5}',
    reason: 'Malformed method invocation',
  },
];

function errorsOf(client: RawDdpClient, from = 0): ServerMessage[] {
  return client.messages.slice(from).filter((m) => m.msg === 'error');
}

describe('bad input over the wire', function () {
  this.timeout(30_000);
  let server: PgrtServer | undefined;
  let db: pg.Client | undefined;
  let url = '';
  const open: RawDdpClient[] = [];
  const tag = randomUUID().slice(0, 8);

  async function connect(options: { handshake?: boolean } = {}): Promise<RawDdpClient> {
    const client = await RawDdpClient.connect(url, options);
    open.push(client);
    return client;
  }

  before(async () => {
    server = await startPresentations({ maxMessageBytes: MAX_MESSAGE_BYTES });
    url = ddpUrl(server.port);
    db = await connectTestDatabase();
  });

  after(async () => {
    await Promise.all(open.map((c) => c.close()));
    await db?.query('DELETE FROM presentations WHERE title LIKE $1', [`bad ${tag}%`]).catch(() => {});
    await db?.end();
    await server?.close();
  });

  it('refuses a message above maxMessageBytes with "Message too large"; the connection still answers', async () => {
    const client = await connect();
    const from = client.messages.length;
    const big = { title: `bad ${tag} big`, subtitle: 'x'.repeat(MAX_MESSAGE_BYTES * 2) };
    const message = JSON.stringify({
      msg: 'method',
      id: 'too-big',
      method: 'presentations.add',
      params: [big],
    });
    assert.ok(message.length > MAX_MESSAGE_BYTES && message.length < MAX_FRAME_BYTES);
    client.sendRaw(message);
    const error = await client.waitFor((m) => m.msg === 'error', 10_000, from);
    assert.deepEqual(error, { msg: 'error', reason: 'Message too large' });
    await client.ping();
    const id = await client.apply('presentations.add', { title: `bad ${tag} after too large` });
    assert.equal(typeof id, 'string');
    // The refused call was dropped, not run.
    assert.equal(client.messages.filter((m) => m.id === 'too-big').length, 0);
    assert.equal(client.open, true);
  });

  it('closes a socket sending a frame above maxFrameBytes with 1009, and other connections keep working', async () => {
    const bystander = await connect();
    await bystander.subscribe('presentations');
    const victim = await connect();
    victim.sendRaw('x'.repeat(MAX_FRAME_BYTES + 1000));
    const { code } = await victim.closed;
    assert.equal(code, 1009);

    await bystander.ping();
    const id = String(await bystander.apply('presentations.add', { title: `bad ${tag} bystander` }));
    assert.equal(bystander.view('presentations').get(id)?.title, `bad ${tag} bystander`);
    const late = await connect();
    await late.subscribe('presentations');
    assert.equal(late.view('presentations').has(id), true);
  });

  it('answers malformed JSON and non-objects with "Bad request" and stays usable', async () => {
    const client = await connect();
    const from = client.messages.length;
    client.sendRaw('{"msg":"method","id":"1",');
    client.sendRaw('[]');
    client.sendRaw('"just a string"');
    await waitUntil(() => errorsOf(client, from).length >= 3, { what: () => 'three errors' });
    // Meteor's parseDDP: unparseable and non-object frames carry no offendingMessage; an array is an object to
    // it (typeof), so it is echoed as the offending message.
    assert.deepEqual(errorsOf(client, from), [
      { msg: 'error', reason: 'Bad request' },
      { msg: 'error', reason: 'Bad request', offendingMessage: [] },
      { msg: 'error', reason: 'Bad request' },
    ]);
    await client.ping();
    assert.equal(
      typeof (await client.apply('presentations.add', { title: `bad ${tag} after json` })),
      'string',
    );
  });

  it('answers anything before connect with "Must connect first"', async () => {
    const client = await connect({ handshake: false });
    client.send({ msg: 'sub', id: 'early', name: 'presentations' });
    const error = await client.waitFor((m) => m.msg === 'error');
    assert.equal(error.reason, 'Must connect first');
    client.send({ msg: 'connect', version: '1', support: ['1'] });
    await client.waitFor((m) => m.msg === 'connected');
    await client.subscribe('presentations');
  });

  it('a thousand garbage frames get one error each and do not disturb a well-behaved client', async () => {
    const garbage = await connect();
    const good = await connect();
    await good.subscribe('presentations');
    const frames = Array.from({ length: 1000 }, (_, i) => GARBAGE[i % GARBAGE.length]!);
    const from = garbage.messages.length;

    const flooding = (async () => {
      for (const [i, { frame }] of frames.entries()) {
        garbage.sendRaw(frame);
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(String(await good.apply('presentations.add', { title: `bad ${tag} good ${i}` })));
    await flooding;

    await waitUntil(() => errorsOf(garbage, from).length >= frames.length, {
      timeoutMs: 20_000,
      what: () => `${frames.length} errors (got ${errorsOf(garbage, from).length})`,
    });
    await garbage.ping();
    const count = (reasons: readonly string[]) =>
      reasons.reduce<Record<string, number>>((acc, r) => {
        acc[r] = (acc[r] ?? 0) + 1;
        return acc;
      }, {});
    assert.deepEqual(
      count(errorsOf(garbage, from).map((m) => String(m.reason))),
      count(frames.map((f) => f.reason)),
    );
    // Nothing but those errors (and the pong) came back: no result, nosub or data for garbage.
    const others = garbage.messages.slice(from).filter((m) => m.msg !== 'error' && m.msg !== 'pong');
    assert.deepEqual(others, []);

    await good.ping();
    for (const id of ids)
      assert.equal(good.view('presentations').get(id)?.title?.toString().startsWith(`bad ${tag}`), true);
    assert.deepEqual(good.violations, []);
    assert.equal(garbage.open, true);
  });
});
