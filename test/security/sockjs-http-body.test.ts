/**
 * Attack class: oversized SockJS HTTP request bodies (issue 12, item 1). An unauthenticated client POSTs 50 MB to
 * `xhr_send` (to a live session and to one that does not exist), a chunked body with no length, and 20 MB to
 * `jsonp_send`. The sockjs package would buffer each body whole, re-copying it for every chunk, stalling every
 * client of the process for tens of seconds. Expected: `413` as soon as the declared length or the bytes received
 * pass the DDP `maxMessageBytes` (default 1 MiB), `404` at once for an unknown session, the rest of the body never
 * read (the target's own read counter says so), nothing logged at error level, other clients served throughout.
 * The other-clients' ping round trip under this load is measured by `npm run bench -- sockjs-flood`.
 */
import assert from 'node:assert/strict';
import { RawDdpClient } from '../fixtures/raw-ddp-client.js';
import { type BodyOutcome, sendBody } from './fixtures/http-body.js';
import { SockJsXhrSession } from './fixtures/sockjs-http.js';
import { type AttackTarget, startTarget } from './fixtures/target.js';

const MiB = 1024 * 1024;
const MAX_MESSAGE_BYTES = MiB; // the DDP default

describe('attack: oversized SockJS HTTP bodies', function () {
  this.timeout(60_000);
  let target: AttackTarget;

  before(async () => {
    target = await startTarget();
  });

  after(async () => {
    await target?.close();
  });

  /** Runs `attack` and returns its outcome and how many bytes the target read meanwhile. */
  async function measured(attack: () => Promise<BodyOutcome>): Promise<BodyOutcome & { read: number }> {
    const before = target.bytesRead();
    const outcome = await attack();
    return { ...outcome, read: target.bytesRead() - before };
  }

  async function liveSession(): Promise<SockJsXhrSession> {
    const session = new SockJsXhrSession(target.httpUrl);
    await session.open();
    return session;
  }

  it('answers a 50 MB xhr_send to a live session with 413 from its Content-Length, reading none of it', async () => {
    const session = await liveSession();
    const outcome = await measured(() =>
      sendBody({
        port: target.port,
        path: `${session.path}/xhr_send`,
        contentLength: 50 * MiB,
        prefix: '["',
      }),
    );
    assert.equal(outcome.status, 413, outcome.response.slice(0, 200));
    assert.ok(outcome.read < MiB, `the target read ${outcome.read} bytes`);
  });

  it('answers a chunked xhr_send with 413 once it passes maxMessageBytes, reading no further', async () => {
    const session = await liveSession();
    const outcome = await measured(() =>
      sendBody({ port: target.port, path: `${session.path}/xhr_send`, prefix: '["' }),
    );
    assert.equal(outcome.status, 413, outcome.response.slice(0, 200));
    assert.ok(outcome.read < MAX_MESSAGE_BYTES + MiB, `the target read ${outcome.read} bytes`);
  });

  it('answers an xhr_send to an unknown session with 404 at once, without reading its body', async () => {
    const outcome = await measured(() =>
      sendBody({ port: target.port, path: '/sockjs/000/nosuchsession/xhr_send', contentLength: 50 * MiB }),
    );
    assert.equal(outcome.status, 404, outcome.response.slice(0, 200));
    assert.ok(outcome.read < MiB, `the target read ${outcome.read} bytes`);
  });

  it('answers a 20 MB jsonp_send with 413', async () => {
    const session = await liveSession();
    const outcome = await measured(() =>
      sendBody({
        port: target.port,
        path: `${session.path}/jsonp_send`,
        contentLength: 20 * MiB,
        contentType: 'application/x-www-form-urlencoded',
        prefix: 'd=',
      }),
    );
    assert.equal(outcome.status, 413, outcome.response.slice(0, 200));
    assert.ok(outcome.read < MiB, `the target read ${outcome.read} bytes`);
  });

  it('still delivers a batch of exactly maxMessageBytes, and refuses one byte more', async () => {
    const session = await liveSession();
    assert.equal(await session.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1'] })), 204);
    await session.receive((m) => m.includes('"connected"'));
    const call = (pad: string) =>
      JSON.stringify({ msg: 'method', id: 'big', method: 'no.such', params: [pad] });
    const overhead = JSON.stringify([call('')]).length;
    const exact = 'x'.repeat(MAX_MESSAGE_BYTES - overhead);
    assert.equal(JSON.stringify([call(exact)]).length, MAX_MESSAGE_BYTES);
    assert.equal(await session.send(call(`${exact}x`)), 413);
    assert.equal(await session.send(call(exact)), 204);
    const result = await session.receive((m) => m.includes('"result"'));
    assert.match(result, /Method 'no\.such' not found/);
  });

  it('survives 20 such requests in parallel: every one refused, other clients served, nothing logged as an error', async () => {
    const sessions = await Promise.all(Array.from({ length: 10 }, () => liveSession()));
    const bystander = await RawDdpClient.connect(`${target.wsUrl}/websocket`);
    const rssBefore = target.rssBytes();
    let pings = 0;
    let flooding = true;
    const pinging = (async () => {
      while (flooding) {
        await bystander.ping();
        pings += 1;
      }
    })();
    const attacks = Array.from({ length: 20 }, (_, i) => {
      const session = sessions[i % sessions.length] as SockJsXhrSession;
      const kind = i % 4;
      if (kind === 0)
        return sendBody({ port: target.port, path: `${session.path}/xhr_send`, contentLength: 50 * MiB });
      if (kind === 1) return sendBody({ port: target.port, path: `${session.path}/xhr_send` });
      if (kind === 2)
        return sendBody({
          port: target.port,
          path: `/sockjs/000/gone${i}/xhr_send`,
          contentLength: 50 * MiB,
        });
      return sendBody({
        port: target.port,
        path: `${session.path}/jsonp_send`,
        contentLength: 20 * MiB,
        contentType: 'application/x-www-form-urlencoded',
      });
    });
    const outcomes = await Promise.all(attacks);
    flooding = false;
    await pinging;
    assert.deepEqual(
      outcomes.map((o) => o.status),
      Array.from({ length: 20 }, (_, i) => (i % 4 === 2 ? 404 : 413)),
    );
    assert.ok(pings > 0, 'the bystander got no pong during the flood');
    await bystander.ping();
    const grown = target.rssBytes() - rssBefore;
    assert.ok(grown < 64 * MiB, `the target grew by ${(grown / MiB).toFixed(1)} MiB`);
    assert.deepEqual(target.errorLogs(), []);
    await bystander.close();
  });
});
