/**
 * The headers a connection keeps: the whitelist only, frozen, and one object for every connection that sent the
 * same ones (idle connections must stay small), without ever mixing up two different sets.
 */
import assert from 'node:assert/strict';
import { connectionHeaders, SHARED_HEADER_SETS } from './connection-headers.js';

describe('connectionHeaders', () => {
  it('keeps only the whitelisted headers, frozen', () => {
    const kept = connectionHeaders({
      host: 'example.com',
      'user-agent': 'agent',
      cookie: 'secret=1',
      authorization: 'Bearer x',
      'x-forwarded-for': '10.0.0.1',
    });
    assert.deepEqual(kept, { 'x-forwarded-for': '10.0.0.1', host: 'example.com', 'user-agent': 'agent' });
    assert.ok(Object.isFrozen(kept));
  });

  it('gives requests with the same kept headers one object, whatever else they sent', () => {
    const a = connectionHeaders({ host: 'shared.example', 'user-agent': 'same', cookie: 'a' });
    const b = connectionHeaders({ host: 'shared.example', 'user-agent': 'same', cookie: 'b' });
    assert.equal(a, b);
    assert.equal(connectionHeaders({}), connectionHeaders({ cookie: 'c' }));
  });

  it('never shares between different sets, even where plain concatenation would make them alike', () => {
    const pairs: Array<[Record<string, string>, Record<string, string>]> = [
      [
        { host: 'h', 'user-agent': 'x' },
        { host: 'h', 'user-agent': 'y' },
      ],
      // Names and values run together: `dnt` `bhosta` and `dnt` `b`, `host` `a` (in whitelist order).
      [{ dnt: 'bhosta' }, { dnt: 'b', host: 'a' }],
      [{ dnt: '1:b4:host1:a' }, { dnt: 'b', host: 'a' }],
      [{ host: 'h', via: '' }, { host: 'h' }],
    ];
    for (const [first, second] of pairs) {
      const a = connectionHeaders(first);
      const b = connectionHeaders(second);
      assert.notEqual(a, b);
      assert.deepEqual({ ...a }, first);
      assert.deepEqual({ ...b }, second);
    }
  });

  it('does not share a set holding a repeated header that Node left as a list', () => {
    const headers = { host: 'h', 'x-forwarded-for': ['10.0.0.1', '10.0.0.2'] };
    const a = connectionHeaders(headers);
    assert.deepEqual(a, headers);
    assert.notEqual(connectionHeaders(headers), a);
  });

  it(`remembers the last ${SHARED_HEADER_SETS} sets, first in first out`, () => {
    const first = connectionHeaders({ host: 'first.example' });
    for (let i = 0; i < SHARED_HEADER_SETS - 1; i++) connectionHeaders({ host: `filler-${i}.example` });
    assert.equal(connectionHeaders({ host: 'first.example' }), first, 'still remembered');
    for (let i = 0; i < SHARED_HEADER_SETS; i++) connectionHeaders({ host: `more-${i}.example` });
    const again = connectionHeaders({ host: 'first.example' });
    assert.notEqual(again, first, 'forgotten once as many newer sets came');
    assert.deepEqual(again, first);
  });
});
