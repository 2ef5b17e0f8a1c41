import assert from 'node:assert/strict';
import { createHmac, pbkdf2Sync } from 'node:crypto';
import {
  type AuthRequest,
  craKey,
  craSign,
  staticUsers,
  ticketAuthenticator,
  wampCraAuthenticator,
} from './authentication.js';
import { AuthenticationError } from './errors.js';

function request(authid: string | undefined): AuthRequest {
  return {
    realm: 'r',
    session: 77,
    authid,
    authextra: {},
    details: {},
    transport: { remoteAddress: '127.0.0.1', headers: {} },
  };
}

const users = staticUsers({
  joe: { authrole: 'user', secret: 'joe-secret' },
  salty: { authrole: 'admin', secret: 's3cret', salt: 'salt123', iterations: 100, keylen: 32 },
});

describe('WAMP authentication', () => {
  it('ticket: challenges, then accepts the right ticket and refuses a wrong one', async () => {
    const auth = ticketAuthenticator(users.ticket);
    const start = await auth.start(request('joe'));
    assert.equal(start.kind, 'challenge');
    if (start.kind !== 'challenge') return;
    assert.deepEqual(start.extra, {});
    const identity = await start.verify('joe-secret', {});
    assert.deepEqual(identity, {
      authid: 'joe',
      authrole: 'user',
      authmethod: 'ticket',
      authprovider: 'static',
    });
    await assert.rejects(start.verify('nope', {}), AuthenticationError);
  });

  it('wampcra: the challenge names the session; an HMAC-SHA256 of it signed with the secret is accepted', async () => {
    const start = await wampCraAuthenticator(users.cra).start(request('joe'));
    assert.equal(start.kind, 'challenge');
    if (start.kind !== 'challenge') return;
    const challenge = String(start.extra.challenge);
    const fields = JSON.parse(challenge) as Record<string, unknown>;
    assert.equal(fields.session, 77);
    assert.equal(fields.authid, 'joe');
    assert.equal(fields.authmethod, 'wampcra');
    for (const key of ['authrole', 'authprovider', 'nonce', 'timestamp']) assert.ok(key in fields, key);
    const signature = createHmac('sha256', 'joe-secret').update(challenge).digest('base64');
    assert.equal((await start.verify(signature, {})).authrole, 'user');
    await assert.rejects(start.verify(craSign('wrong', challenge), {}), AuthenticationError);
  });

  it('wampcra: salted secrets derive the key with PBKDF2 as Autobahn does', async () => {
    const start = await wampCraAuthenticator(users.cra).start(request('salty'));
    if (start.kind !== 'challenge') throw new Error('expected a challenge');
    assert.equal(start.extra.salt, 'salt123');
    const key = pbkdf2Sync('s3cret', 'salt123', 100, 32, 'sha256').toString('base64');
    assert.equal(craKey({ secret: 's3cret', salt: 'salt123', iterations: 100, authrole: 'x' }), key);
    const identity = await start.verify(craSign(key, String(start.extra.challenge)), {});
    assert.equal(identity.authrole, 'admin');
  });

  it('wampcra: an unknown authid gets a challenge but can never pass it', async () => {
    const start = await wampCraAuthenticator(users.cra).start(request('nobody'));
    if (start.kind !== 'challenge') throw new Error('expected a challenge');
    await assert.rejects(start.verify(craSign('', String(start.extra.challenge)), {}), AuthenticationError);
  });

  it('refuses challenge-response without an authid', async () => {
    await assert.rejects(ticketAuthenticator(users.ticket).start(request(undefined)), AuthenticationError);
  });
});
