import assert from 'node:assert/strict';
import {
  type Action,
  type Authorizer,
  normalizeAuthorization,
  type SessionIdentity,
  staticAuthorizer,
} from './authorization.js';

function as(authrole: string): SessionIdentity {
  return { session: 1, authid: 'a', authrole, authmethod: 'anonymous', authprovider: 'static' };
}

describe('WAMP static authorizer', () => {
  const rules = staticAuthorizer({
    user: [
      { uri: 'com.app.*', allow: { call: true, subscribe: true } },
      { uri: 'com.app.admin', match: 'prefix', allow: {} },
      { uri: 'com.app.admin.status', allow: { call: true } },
      { uri: 'com..public', match: 'wildcard', allow: { subscribe: true, publish: true } },
      { uri: 'com.app.x', match: 'prefix', allow: { register: true } },
      { uri: 'com.app.x', allow: { publish: true } },
      {
        uri: 'com.shared',
        match: 'prefix',
        allow: { call: true, publish: true, subscribe: true },
        disclose: { caller: true, publisher: true },
      },
      { uri: 'com.shared.quiet', allow: { call: true, publish: true } },
    ],
  });
  const allowed = (role: string, uri: string, action: Action, authorizer: Authorizer = rules) =>
    normalizeAuthorization(authorizer.authorize(as(role), uri, action, {})).allow;

  it('allows by prefix (trailing *) and denies actions a rule does not list', () => {
    assert.ok(allowed('user', 'com.app.do', 'call'));
    assert.ok(!allowed('user', 'com.app.do', 'register'));
  });

  it('lets the longest matching pattern win', () => {
    assert.ok(!allowed('user', 'com.app.admin.kill', 'call'));
    assert.ok(allowed('user', 'com.app.admin.status', 'call'));
  });

  it('prefers exact over prefix for patterns of the same length', () => {
    assert.ok(allowed('user', 'com.app.x', 'publish'));
    assert.ok(!allowed('user', 'com.app.x', 'register'));
    assert.ok(allowed('user', 'com.app.xy', 'register'));
  });

  it('matches wildcard rules component-wise', () => {
    assert.ok(allowed('user', 'com.news.public', 'publish'));
    assert.ok(!allowed('user', 'org.news.public', 'publish'));
  });

  it('denies unknown roles and URIs no rule covers, unless defaultAllow', () => {
    assert.ok(!allowed('guest', 'com.app.do', 'call'));
    assert.ok(!allowed('user', 'org.other', 'call'));
    assert.ok(allowed('guest', 'x', 'call', staticAuthorizer({}, { defaultAllow: true })));
  });

  it("discloses callers and publishers only where a matching rule's disclose says so", () => {
    const answer = (uri: string, action: Action) =>
      normalizeAuthorization(rules.authorize(as('user'), uri, action, {}));
    assert.deepEqual(answer('com.shared.x', 'call'), { allow: true, disclose: true });
    assert.deepEqual(answer('com.shared.x', 'publish'), { allow: true, disclose: true });
    assert.deepEqual(answer('com.shared.x', 'subscribe'), { allow: true, disclose: false });
    assert.deepEqual(answer('com.shared.quiet', 'call'), { allow: true, disclose: false });
    assert.deepEqual(answer('com.app.do', 'call'), { allow: true, disclose: false });
    assert.deepEqual(answer('org.other', 'call'), { allow: false, disclose: false });
  });

  it('reads a plain boolean answer as allow without disclosure', () => {
    assert.deepEqual(normalizeAuthorization(true), { allow: true, disclose: false });
    assert.deepEqual(normalizeAuthorization(false), { allow: false, disclose: false });
    assert.deepEqual(normalizeAuthorization({ allow: false, disclose: true }), {
      allow: false,
      disclose: false,
    });
  });
});
