import assert from 'node:assert/strict';
import { type CollectionRules, hasAllowRule, isPermitted } from './collection-rules.js';
import type { MethodContext } from './contexts.js';

const ctx = { userId: 'u1' } as MethodContext;
const doc = { _id: 'd1', owner: 'u1', title: 'x' };

/** Meteor's allow/deny decision (packages/allow-deny/allow-deny.js). */
describe('allow/deny rules', () => {
  it('denies unless some allow rule says yes', async () => {
    const rules: CollectionRules = { allow: { remove: [() => false, (c, d) => d.owner === c.userId] } };
    assert.equal(await isPermitted(rules, 'remove', ctx, doc), true);
    assert.equal(await isPermitted(rules, 'remove', ctx, { ...doc, owner: 'u2' }), false);
    assert.equal(await isPermitted({}, 'remove', ctx, doc), false);
  });

  it('lets any deny rule win over every allow rule, and awaits async rules', async () => {
    let allowCalls = 0;
    const rules: CollectionRules = {
      allow: {
        update: () => {
          allowCalls += 1;
          return true;
        },
      },
      deny: { update: async (_c, _d, fieldNames) => fieldNames.includes('owner') },
    };
    assert.equal(await isPermitted(rules, 'update', ctx, doc, ['title'], { $set: { title: 'y' } }), true);
    assert.equal(await isPermitted(rules, 'update', ctx, doc, ['owner'], { $set: { owner: 'u2' } }), false);
    assert.equal(allowCalls, 1, 'allow rules are not consulted once a deny rule said yes');
  });

  it('keeps the kinds apart and knows which kinds have an allow rule', async () => {
    const rules: CollectionRules = { allow: { insert: (_c, d) => d.title !== 'forbidden' } };
    assert.equal(await isPermitted(rules, 'insert', ctx, { title: 'ok' }), true);
    assert.equal(await isPermitted(rules, 'insert', ctx, { title: 'forbidden' }), false);
    assert.equal(hasAllowRule(rules, 'insert'), true);
    assert.equal(hasAllowRule(rules, 'update'), false);
    assert.equal(hasAllowRule({ deny: { update: () => true } }, 'update'), false);
  });
});
