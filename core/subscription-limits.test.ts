import assert from 'node:assert/strict';
import { SubscriptionCounter, TooManySubscriptionsError } from './subscription-limits.js';

/** The caps on live subscriptions (subscription-limits.ts); the wire cases are in test/security. */
describe('subscription limits', () => {
  it('refuses past the per-connection cap (default 500; 0 = unlimited)', () => {
    const counter = new SubscriptionCounter();
    assert.equal(counter.refusal('a', 499), undefined);
    const refusal = counter.refusal('a', 500);
    assert.ok(refusal instanceof TooManySubscriptionsError);
    assert.equal(refusal.error, 'too-many-subscriptions');
    assert.deepEqual(refusal.details, { limit: 500, per: 'connection' });
    assert.equal(new SubscriptionCounter({ maxSubscriptionsPerConnection: 0 }).refusal('a', 1e6), undefined);
  });

  it('counts per address and refuses past the per-address cap until subscriptions end', () => {
    const counter = new SubscriptionCounter({ maxSubscriptionsPerAddress: 3 });
    for (let i = 0; i < 3; i++) counter.added('a');
    counter.added('b');
    assert.deepEqual(counter.refusal('a', 0)?.details, { limit: 3, per: 'address' });
    assert.equal(counter.refusal('b', 0), undefined);
    counter.removed('a', 2);
    assert.equal(counter.count('a'), 1);
    assert.equal(counter.refusal('a', 0), undefined);
    counter.removed('a', 5);
    assert.equal(counter.count('a'), 0);
  });

  it('keeps no per-address counts when that cap is off', () => {
    const counter = new SubscriptionCounter();
    counter.added('a');
    assert.equal(counter.count('a'), 0);
  });
});
