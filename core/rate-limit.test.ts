import assert from 'node:assert/strict';
import { TooManyRequestsError } from './errors.js';
import { RateLimiter, type RateLimitInput } from './rate-limit.js';

function input(overrides: Partial<RateLimitInput> = {}): RateLimitInput {
  return {
    type: 'method',
    name: 'login',
    userId: null,
    connectionId: 'c1',
    clientAddress: '10.0.0.1',
    ...overrides,
  };
}

describe('rate limiter (Meteor rule model)', () => {
  let now = 1_000_000;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  it('default accounts rule: the 6th login in 10 s on one connection is refused with timeToReset', () => {
    const limiter = new RateLimiter({}, clock);
    for (let i = 0; i < 5; i++) assert.equal(limiter.check(input()), undefined);
    now += 2500;
    const refused = limiter.check(input());
    assert.ok(refused instanceof TooManyRequestsError);
    assert.equal(refused.error, 'too-many-requests');
    assert.deepEqual(refused.details, { timeToReset: 7500 });
    assert.equal(
      refused.reason,
      'Error, too many requests. Please slow down. You must wait 8 seconds before trying again.',
    );
  });

  it('counts the accounts rule per method and per connection, and resets after the interval', () => {
    const limiter = new RateLimiter({}, clock);
    for (let i = 0; i < 5; i++) limiter.check(input());
    assert.ok(limiter.check(input()));
    assert.equal(limiter.check(input({ connectionId: 'c2' })), undefined, 'another connection');
    assert.equal(limiter.check(input({ name: 'createUser' })), undefined, 'another accounts method');
    assert.equal(limiter.check(input({ name: 'other' })), undefined, 'not an accounts method');
    now += 10_000;
    assert.equal(limiter.check(input()), undefined, 'window over');
  });

  it('per-connection default applies to every name and type; false disables it', () => {
    const limiter = new RateLimiter({ perConnection: { numRequests: 3, intervalMs: 1000 } }, clock);
    assert.equal(limiter.check(input({ name: 'a' })), undefined);
    assert.equal(limiter.check(input({ name: 'b', type: 'subscription' })), undefined);
    assert.equal(limiter.check(input({ name: 'c' })), undefined);
    assert.ok(limiter.check(input({ name: 'd' })));
    const off = new RateLimiter({ accounts: false, perConnection: false }, clock);
    for (let i = 0; i < 100; i++) assert.equal(off.check(input()), undefined);
  });

  it('custom rules: values, predicates and absent fields, keyed by the fields they name', () => {
    const limiter = new RateLimiter({ accounts: false, perConnection: false }, clock);
    // By name only: every connection shares one counter.
    limiter.addRule({ type: 'subscription', name: 'feed' }, 2, 1000);
    assert.equal(limiter.check(input({ type: 'subscription', name: 'feed', connectionId: 'a' })), undefined);
    assert.equal(limiter.check(input({ type: 'subscription', name: 'feed', connectionId: 'b' })), undefined);
    assert.ok(limiter.check(input({ type: 'subscription', name: 'feed', connectionId: 'c' })));
    assert.equal(limiter.check(input({ type: 'method', name: 'feed' })), undefined, 'type differs');
    // Per user and client address, only for logged-in users (the key holds both values, as in Meteor).
    const id = limiter.addRule({ userId: (u) => u !== null, clientAddress: () => true }, 1, 1000);
    assert.equal(limiter.check(input({ name: 'x', userId: 'u1' })), undefined);
    assert.ok(limiter.check(input({ name: 'y', userId: 'u1', connectionId: 'other' })), 'same user, address');
    assert.equal(limiter.check(input({ name: 'y', userId: 'u2' })), undefined, 'another user');
    assert.equal(limiter.check(input({ name: 'x', userId: 'u1', clientAddress: '10.0.0.2' })), undefined);
    assert.equal(limiter.check(input({ name: 'x', userId: null })), undefined, 'anonymous: no match');
    assert.equal(limiter.removeRule(id), true);
    assert.equal(limiter.check(input({ name: 'x', userId: 'u1' })), undefined);
  });

  it('a throwing predicate means no match; bad budgets are refused', () => {
    const limiter = new RateLimiter({ accounts: false, perConnection: false }, clock);
    limiter.addRule(
      {
        name: () => {
          throw new Error('boom');
        },
      },
      0,
      1000,
    );
    assert.equal(limiter.check(input()), undefined);
    assert.throws(() => limiter.addRule({}, 1, 0), RangeError);
  });

  it('forgets expired counters (memory stays bounded under many connections)', () => {
    const limiter = new RateLimiter({ accounts: false }, clock);
    for (let i = 0; i < 1000; i++) limiter.check(input({ connectionId: `c${i}` }));
    assert.equal(limiter.counterCount, 1000);
    now += 10_001;
    limiter.check(input({ connectionId: 'late' }));
    assert.equal(limiter.counterCount, 1);
  });
});
