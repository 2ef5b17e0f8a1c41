/** Unit tests: the router's fixed rules and grants in front of the authorizer (no sockets). */
import assert from 'node:assert/strict';
import {
  AccessPolicy,
  NO_GRANTS,
  patternNamespace,
  privateTopic,
  type RealmGrants,
} from './access-policy.js';
import { type Action, allowAll, type SessionIdentity, staticAuthorizer } from './authorization.js';
import { WampError, WampUri } from './errors.js';
import type { MatchPolicy } from './uri.js';

function as(authrole: string, session = 7): SessionIdentity {
  return { session, authid: `id-${session}`, authrole, authmethod: 'anonymous', authprovider: 'static' };
}

function grants(partial: Partial<Record<keyof RealmGrants, string[]>>): RealmGrants {
  return {
    metaApiRoles: new Set(partial.metaApiRoles),
    patternRegistrationRoles: new Set(partial.patternRegistrationRoles),
    disclosureRoles: new Set(partial.disclosureRoles),
  };
}

/** The outcome of a check: `ok`, `ok+disclose`, or the refusing error URI. */
function outcome(
  policy: AccessPolicy,
  session: SessionIdentity,
  uri: string,
  action: Action,
  match: MatchPolicy = 'exact',
): string {
  try {
    return policy.check(session, uri, action, match, {}).disclose ? 'ok+disclose' : 'ok';
  } catch (error) {
    assert.ok(error instanceof WampError, `expected a WampError, got ${String(error)}`);
    return error.uri;
  }
}

const DENIED = WampUri.notAuthorized;
const INVALID = WampUri.invalidUri;

describe('WAMP access policy', () => {
  it('finds the reserved namespace a pattern lies inside', () => {
    assert.equal(patternNamespace('wamp.session.kill', 'exact'), 'wamp');
    assert.equal(patternNamespace('wamp.session.', 'prefix'), 'wamp');
    assert.equal(patternNamespace('wamp.', 'prefix'), 'wamp');
    assert.equal(patternNamespace('wamp..on_join', 'wildcard'), 'wamp');
    assert.equal(patternNamespace('pgrt.session.', 'prefix'), 'pgrt');
    assert.equal(patternNamespace('pgrt..x', 'wildcard'), 'pgrt');
    for (const [pattern, match] of [
      ['', 'prefix'],
      ['wamp', 'prefix'],
      ['wam', 'prefix'],
      ['.session.list', 'wildcard'],
      ['wamp', 'wildcard'],
      ['com.wamp.x', 'exact'],
      ['wampx.y', 'exact'],
    ] as const) {
      assert.equal(patternNamespace(pattern, match), undefined, `${match} ${JSON.stringify(pattern)}`);
    }
  });

  describe('by default (no grants, everything else allowed)', () => {
    const policy = new AccessPolicy(NO_GRANTS, allowAll);
    const user = as('anonymous');

    it('refuses every meta procedure but the own-session testament ones', () => {
      for (const procedure of [
        'wamp.session.count',
        'wamp.session.list',
        'wamp.session.get',
        'wamp.session.kill',
        'wamp.session.kill_by_authid',
        'wamp.session.kill_by_authrole',
        'wamp.session.kill_all',
        'wamp.subscription.lookup',
        'wamp.subscription.list_subscribers',
        'wamp.registration.list',
        'wamp.registration.match',
        'wamp.anything.else',
      ]) {
        assert.equal(outcome(policy, user, procedure, 'call'), DENIED, procedure);
      }
      assert.equal(outcome(policy, user, 'wamp.session.add_testament', 'call'), 'ok');
      assert.equal(outcome(policy, user, 'wamp.session.flush_testaments', 'call'), 'ok');
      assert.equal(outcome(policy, user, 'pgrt.subscribe', 'call'), 'ok');
      assert.equal(outcome(policy, user, 'com.app.add', 'call'), 'ok');
    });

    it('refuses meta event subscriptions, exact or patterns inside wamp., and allows overlapping patterns', () => {
      assert.equal(outcome(policy, user, 'wamp.session.on_join', 'subscribe'), DENIED);
      assert.equal(outcome(policy, user, 'wamp.session.', 'subscribe', 'prefix'), DENIED);
      assert.equal(outcome(policy, user, 'wamp..on_leave', 'subscribe', 'wildcard'), DENIED);
      assert.equal(outcome(policy, user, '', 'subscribe', 'prefix'), 'ok');
      assert.equal(outcome(policy, user, 'wamp', 'subscribe', 'prefix'), 'ok');
      assert.equal(outcome(policy, user, '.session.on_join', 'subscribe', 'wildcard'), 'ok');
    });

    it('reserves wamp. (invalid_uri) and pgrt. (not_authorized) for publish and register', () => {
      assert.equal(outcome(policy, user, 'wamp.session.on_leave', 'publish'), INVALID);
      assert.equal(outcome(policy, user, 'wamp.session.add_testament', 'register'), INVALID);
      assert.equal(outcome(policy, user, 'pgrt.session.7', 'publish'), DENIED);
      assert.equal(outcome(policy, user, 'pgrt.other', 'publish'), DENIED);
      assert.equal(outcome(policy, user, 'pgrt.subscribe', 'register'), DENIED);
      assert.equal(outcome(policy, user, 'com.app.x', 'publish'), 'ok');
      assert.equal(outcome(policy, user, 'com.app.x', 'register'), 'ok');
    });

    it('refuses every pattern registration, the prefix "" included', () => {
      assert.equal(outcome(policy, user, '', 'register', 'prefix'), DENIED);
      assert.equal(outcome(policy, user, 'com.app.', 'register', 'prefix'), DENIED);
      assert.equal(outcome(policy, user, 'com..x', 'register', 'wildcard'), DENIED);
      assert.equal(outcome(policy, user, 'wamp.', 'register', 'prefix'), INVALID);
    });

    it('lets a session subscribe only its own private topic under pgrt., exactly', () => {
      assert.equal(outcome(policy, user, privateTopic(7), 'subscribe'), 'ok');
      assert.equal(outcome(policy, user, privateTopic(8), 'subscribe'), DENIED);
      assert.equal(outcome(policy, user, privateTopic(7), 'subscribe', 'prefix'), DENIED);
      assert.equal(outcome(policy, user, 'pgrt.session.', 'subscribe', 'prefix'), DENIED);
      assert.equal(outcome(policy, user, 'pgrt..7', 'subscribe', 'wildcard'), DENIED);
      assert.equal(outcome(policy, user, 'pgrt.other', 'subscribe'), DENIED);
      const denyAll = new AccessPolicy(NO_GRANTS, { authorize: () => false });
      assert.equal(outcome(denyAll, user, privateTopic(7), 'subscribe'), 'ok', 'the bridge channel is fixed');
    });

    it('discloses nobody', () => {
      assert.equal(outcome(policy, user, 'com.app.x', 'call'), 'ok');
      assert.equal(outcome(policy, user, 'com.app.x', 'publish'), 'ok');
    });

    it('keeps router events on reserved topics from sessions that could not subscribe to them', () => {
      assert.equal(policy.mayReceiveRouterEvent(user, 'wamp.session.on_join', true), false);
      assert.equal(policy.mayReceiveRouterEvent(user, 'wamp.session.on_join', false), false);
      assert.equal(policy.mayReceiveRouterEvent(user, privateTopic(7), false), true);
      assert.equal(policy.mayReceiveRouterEvent(user, privateTopic(7), true), false);
      assert.equal(policy.mayReceiveRouterEvent(user, privateTopic(8), false), false);
      assert.equal(policy.mayReceiveRouterEvent(user, 'com.app.x', true), true);
      const privateFilter = policy.routerEventFilter(privateTopic(7));
      assert.deepEqual([privateFilter(user, false), privateFilter(user, true)], [true, false]);
      const metaFilter = policy.routerEventFilter('wamp.session.on_join');
      assert.deepEqual([metaFilter(user, false), metaFilter(user, true)], [false, false]);
    });
  });

  describe('with grants', () => {
    const policy = new AccessPolicy(
      grants({
        metaApiRoles: ['admin'],
        patternRegistrationRoles: ['backend'],
        disclosureRoles: ['backend'],
      }),
      allowAll,
    );

    it('opens the meta API to meta roles only', () => {
      assert.equal(outcome(policy, as('admin'), 'wamp.session.kill', 'call'), 'ok');
      assert.equal(outcome(policy, as('admin'), 'wamp.session.on_join', 'subscribe'), 'ok');
      assert.equal(outcome(policy, as('admin'), 'wamp.session.', 'subscribe', 'prefix'), 'ok');
      assert.equal(outcome(policy, as('backend'), 'wamp.session.kill', 'call'), DENIED);
      assert.equal(policy.mayReceiveRouterEvent(as('admin'), 'wamp.session.on_join', true), true);
      assert.equal(policy.mayReceiveRouterEvent(as('backend'), 'wamp.session.on_join', true), false);
    });

    it('still reserves wamp. and pgrt. for publish and register, meta roles included', () => {
      assert.equal(outcome(policy, as('admin'), 'wamp.session.on_leave', 'publish'), INVALID);
      assert.equal(outcome(policy, as('admin'), 'pgrt.session.8', 'publish'), DENIED);
      assert.equal(outcome(policy, as('backend'), 'wamp.session.', 'register', 'prefix'), INVALID);
      assert.equal(outcome(policy, as('backend'), 'pgrt.', 'register', 'prefix'), DENIED);
    });

    it('opens pattern registrations, "" included, to the granted roles only', () => {
      assert.equal(outcome(policy, as('backend'), '', 'register', 'prefix'), 'ok');
      assert.equal(outcome(policy, as('backend'), 'com..x', 'register', 'wildcard'), 'ok');
      assert.equal(outcome(policy, as('admin'), '', 'register', 'prefix'), DENIED);
    });

    it('discloses callers and publishers of disclosure roles, never on subscribe or register', () => {
      assert.equal(outcome(policy, as('backend'), 'com.app.x', 'call'), 'ok+disclose');
      assert.equal(outcome(policy, as('backend'), 'com.app.x', 'publish'), 'ok+disclose');
      assert.equal(outcome(policy, as('backend'), 'com.app.x', 'subscribe'), 'ok');
      assert.equal(outcome(policy, as('admin'), 'com.app.x', 'call'), 'ok');
    });
  });

  describe('with an authorizer', () => {
    const all = { call: true, register: true, publish: true, subscribe: true };
    const authorizer = staticAuthorizer({
      admin: [
        { uri: '', match: 'prefix', allow: all },
        { uri: 'wamp.session.kill', match: 'prefix', allow: {} },
        { uri: 'com.shared', match: 'prefix', allow: all, disclose: { caller: true, publisher: true } },
      ],
      user: [{ uri: '', match: 'prefix', allow: all }],
    });
    const policy = new AccessPolicy(grants({ metaApiRoles: ['admin'] }), authorizer);

    it('narrows a meta grant per URI', () => {
      assert.equal(outcome(policy, as('admin'), 'wamp.session.list', 'call'), 'ok');
      assert.equal(outcome(policy, as('admin'), 'wamp.session.kill', 'call'), DENIED);
      assert.equal(outcome(policy, as('admin'), 'wamp.session.kill_all', 'call'), DENIED);
    });

    it('cannot widen what the realm keeps closed: a catch-all rule opens neither meta API nor patterns', () => {
      assert.equal(outcome(policy, as('user'), 'wamp.session.list', 'call'), DENIED);
      assert.equal(outcome(policy, as('user'), 'wamp.session.on_join', 'subscribe'), DENIED);
      assert.equal(outcome(policy, as('user'), '', 'register', 'prefix'), DENIED);
      assert.equal(outcome(policy, as('user'), 'wamp.x', 'publish'), INVALID);
      assert.equal(outcome(policy, as('user'), 'com.app.x', 'call'), 'ok', 'no disclosure either');
    });

    it("discloses where the permission's disclose says so", () => {
      assert.equal(outcome(policy, as('admin'), 'com.shared.x', 'call'), 'ok+disclose');
      assert.equal(outcome(policy, as('admin'), 'com.shared.x', 'publish'), 'ok+disclose');
      assert.equal(outcome(policy, as('admin'), 'com.other', 'call'), 'ok');
    });
  });
});
