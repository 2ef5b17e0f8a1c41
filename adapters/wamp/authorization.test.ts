import assert from 'node:assert/strict';
import { type SessionIdentity, staticAuthorizer } from './authorization.js';

function as(authrole: string): SessionIdentity {
  return { session: 1, authid: 'a', authrole, authmethod: 'anonymous', authprovider: 'static' };
}

describe('WAMP static authorizer', () => {
  const authorizer = staticAuthorizer({
    user: [
      { uri: 'com.app.*', allow: { call: true, subscribe: true } },
      { uri: 'com.app.admin', match: 'prefix', allow: {} },
      { uri: 'com.app.admin.status', allow: { call: true } },
      { uri: 'com..public', match: 'wildcard', allow: { subscribe: true, publish: true } },
      { uri: 'com.app.x', match: 'prefix', allow: { register: true } },
      { uri: 'com.app.x', allow: { publish: true } },
    ],
  });

  it('allows by prefix (trailing *) and denies actions a rule does not list', () => {
    assert.ok(authorizer.authorize(as('user'), 'com.app.do', 'call', {}));
    assert.ok(!authorizer.authorize(as('user'), 'com.app.do', 'register', {}));
  });

  it('lets the longest matching pattern win', () => {
    assert.ok(!authorizer.authorize(as('user'), 'com.app.admin.kill', 'call', {}));
    assert.ok(authorizer.authorize(as('user'), 'com.app.admin.status', 'call', {}));
  });

  it('prefers exact over prefix for patterns of the same length', () => {
    assert.ok(authorizer.authorize(as('user'), 'com.app.x', 'publish', {}));
    assert.ok(!authorizer.authorize(as('user'), 'com.app.x', 'register', {}));
    assert.ok(authorizer.authorize(as('user'), 'com.app.xy', 'register', {}));
  });

  it('matches wildcard rules component-wise', () => {
    assert.ok(authorizer.authorize(as('user'), 'com.news.public', 'publish', {}));
    assert.ok(!authorizer.authorize(as('user'), 'org.news.public', 'publish', {}));
  });

  it('denies unknown roles and URIs no rule covers, unless defaultAllow', () => {
    assert.ok(!authorizer.authorize(as('guest'), 'com.app.do', 'call', {}));
    assert.ok(!authorizer.authorize(as('user'), 'org.other', 'call', {}));
    assert.ok(staticAuthorizer({}, { defaultAllow: true }).authorize(as('guest'), 'x', 'call', {}));
  });
});
