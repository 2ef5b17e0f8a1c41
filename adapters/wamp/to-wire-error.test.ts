import assert from 'node:assert/strict';
import { ClientError, NotFoundError, ValidationError } from '../../core/errors.js';
import { WampError } from './errors.js';
import { errorUriComponent, toWireError } from './to-wire-error.js';

describe('WAMP toWireError', () => {
  it('sanitizes error codes into one strict URI component', () => {
    assert.equal(errorUriComponent('validation-error'), 'validation_error');
    assert.equal(errorUriComponent(404), '404');
    assert.equal(errorUriComponent('Not Authorized!'), 'not_authorized_');
    assert.equal(errorUriComponent('a.b'), 'a_b');
    assert.equal(errorUriComponent(''), 'error');
  });

  it('maps client errors to pgrt.error.<code> with {error, reason, details}', () => {
    assert.deepEqual(toWireError(new NotFoundError(404, 'Method not found')), {
      uri: 'pgrt.error.404',
      kwargs: { error: 404, reason: 'Method not found' },
    });
    const validation = toWireError(
      new ValidationError([{ name: '0.title', type: 'too_small', message: 'short' }]),
    );
    assert.equal(validation.uri, 'pgrt.error.validation_error');
    assert.equal(validation.kwargs?.reason, '0.title: short');
    assert.deepEqual(validation.kwargs?.details, [{ name: '0.title', type: 'too_small', message: 'short' }]);
    assert.deepEqual(toWireError(new ClientError('x', undefined, { at: new Date(5) })).kwargs, {
      error: 'x',
      details: { at: { $date: 5 } },
    });
  });

  it('passes router errors through', () => {
    assert.deepEqual(toWireError(new WampError('wamp.error.invalid_uri')), { uri: 'wamp.error.invalid_uri' });
    assert.deepEqual(toWireError(new WampError('wamp.error.invalid_argument', 'bad')), {
      uri: 'wamp.error.invalid_argument',
      args: ['bad'],
    });
  });

  it('hides everything about internal errors', () => {
    const wire = toWireError(new Error('password=secret at db.ts:12'));
    assert.deepEqual(wire, {
      uri: 'pgrt.error.internal',
      kwargs: { error: 500, reason: 'Internal server error' },
    });
  });
});
