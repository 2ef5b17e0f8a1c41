import assert from 'node:assert/strict';
import { compareWildcards, isValidUri, matches, parseMatch } from './uri.js';

describe('WAMP URIs', () => {
  it('checks strict URIs', () => {
    for (const uri of ['com.example.topic', 'a', 'a_b.c1', 'presentations.add', 'pgrt.session.42']) {
      assert.ok(isValidUri(uri, 'strict'), uri);
    }
    for (const uri of ['', 'com..x', '.a', 'a.', 'com.Example', 'a-b', 'a b', 'a#b', '/todos/insert']) {
      assert.ok(!isValidUri(uri, 'strict'), uri);
    }
  });

  it('checks loose URIs: anything but empty components, #, . and whitespace', () => {
    for (const uri of ['com.Example.x', 'a-b', '/todos/insert', 'todos.insertItem']) {
      assert.ok(isValidUri(uri, 'loose'), uri);
    }
    for (const uri of ['', 'com..x', 'a b', 'a#b', 'a\tb', 'a.']) assert.ok(!isValidUri(uri, 'loose'), uri);
  });

  it('allows a trailing empty component for prefix and empty components for wildcard patterns', () => {
    assert.ok(isValidUri('com.a.', 'strict', 'prefix'));
    assert.ok(!isValidUri('com..a', 'strict', 'prefix'));
    assert.ok(isValidUri('com..x', 'strict', 'wildcard'));
    assert.ok(isValidUri('.a.', 'strict', 'wildcard'));
    assert.ok(!isValidUri('com.A.', 'strict', 'wildcard'));
  });

  it('matches exact, prefix (plain string prefix) and wildcard (one component per empty one)', () => {
    assert.ok(matches('com.a', 'exact', 'com.a'));
    assert.ok(!matches('com.a', 'exact', 'com.a.b'));
    assert.ok(matches('com.a', 'prefix', 'com.a.b'));
    assert.ok(matches('com.a', 'prefix', 'com.a-x'));
    assert.ok(!matches('com.a', 'prefix', 'com.b'));
    assert.ok(matches('com..x', 'wildcard', 'com.y.x'));
    assert.ok(!matches('com..x', 'wildcard', 'com.y.z.x'));
    assert.ok(!matches('com..x', 'wildcard', 'com.y'));
  });

  it('orders wildcards by their leading concrete components', () => {
    assert.ok(compareWildcards('a.b.'.split('.'), 'a..c'.split('.')) < 0);
    assert.ok(compareWildcards('a..c'.split('.'), 'a.b.'.split('.')) > 0);
    assert.equal(compareWildcards('a..c'.split('.'), 'a..d'.split('.')), 0);
  });

  it('parses the match option', () => {
    assert.equal(parseMatch(undefined), 'exact');
    assert.equal(parseMatch('prefix'), 'prefix');
    assert.equal(parseMatch('regex'), undefined);
  });
});
