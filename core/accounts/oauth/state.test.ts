import assert from 'node:assert/strict';
import { OAuthCallbackError } from './errors.js';
import { decodeState, encodeState, isSafeToken } from './state.js';

const TOKEN = 'a-Z_09'.repeat(7);

/** What Meteor's client sends: `Base64.encode(JSON.stringify(state))` (oauth_client.js `_stateParam`). */
const meteorState = (state: Record<string, unknown>) => btoa(JSON.stringify(state));

describe('OAuth state (Meteor base64 JSON)', () => {
  it('decodes what Meteor clients send, popup and redirect', () => {
    assert.deepEqual(
      decodeState(meteorState({ loginStyle: 'popup', credentialToken: TOKEN, isCordova: false })),
      {
        loginStyle: 'popup',
        credentialToken: TOKEN,
        isCordova: false,
        redirectUrl: undefined,
      },
    );
    const redirect = decodeState(
      meteorState({
        loginStyle: 'redirect',
        credentialToken: TOKEN,
        isCordova: true,
        redirectUrl: 'https://a.b/c?d=1',
      }),
    );
    assert.equal(redirect.redirectUrl, 'https://a.b/c?d=1');
    assert.equal(redirect.isCordova, true);
  });

  it('round-trips encodeState, and survives a provider that turned + into a space', () => {
    const state = encodeState({
      loginStyle: 'popup',
      credentialToken: TOKEN,
      redirectUrl: 'https://x/?a=>>>',
    });
    assert.ok(state.includes('+'), 'this state has a + to lose');
    assert.equal(decodeState(state.replace(/\+/g, ' ')).redirectUrl, 'https://x/?a=>>>');
  });

  it('refuses anything else with an OAuthCallbackError', () => {
    const bad = [
      null,
      '',
      'x'.repeat(5000),
      'not base64!',
      btoa('not json'),
      btoa('[1]'),
      meteorState({ loginStyle: 'window', credentialToken: TOKEN }),
      meteorState({ loginStyle: 'popup' }),
      meteorState({ loginStyle: 'popup', credentialToken: '<script>' }),
      meteorState({ loginStyle: 'popup', credentialToken: 'x'.repeat(300) }),
      meteorState({ loginStyle: 'redirect', credentialToken: TOKEN, redirectUrl: 5 }),
    ];
    for (const raw of bad)
      assert.throws(() => decodeState(raw), OAuthCallbackError, String(raw).slice(0, 40));
  });

  it('isSafeToken accepts Random.secret()/Random.id() shapes only', () => {
    assert.ok(isSafeToken(TOKEN));
    for (const value of ['', 'a b', 'a/b', 'a"b', 7, null, 'x'.repeat(257)]) assert.ok(!isSafeToken(value));
  });
});
